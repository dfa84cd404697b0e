// The analyst's view: reads the public API with the signed-in key and draws what it publishes.
// Text is always set as text (never as HTML) and no style attribute is written, so the page
// runs under a Content-Security-Policy without 'unsafe-inline'.
"use strict";

(() => {
  const ROOT = new URL("../", document.baseURI); // the service's root, under any path prefix
  const STORE = "pulse.view.key";
  const DIMENSIONS = ["purpose", "belief", "support", "new_ways_of_working", "partner_relationships"];
  const DIMENSION_NAMES = {
    purpose: "Purpose",
    belief: "Belief",
    support: "Support",
    new_ways_of_working: "New ways of working",
    partner_relationships: "Partner relationships",
  };
  const SEVERITIES = ["red", "amber", "info"];
  const SEVERITY_TAG = { red: "nhsuk-tag--red", amber: "nhsuk-tag--orange", info: "nhsuk-tag--blue" };
  const BANDS = [2.5, 3, 3.5, 4, 4.5]; // the heat-1 .. heat-6 classes of view.css
  const app = document.getElementById("app");
  let context = null; // the system's structure, loaded once per key

  class ApiError extends Error {
    constructor(status, problem) {
      super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
      this.status = status;
    }
  }
  class SignedOut extends Error {}

  // ---- the API -------------------------------------------------------------------------

  const key = () => sessionStorage.getItem(STORE);

  function url(path, params = {}) {
    const u = new URL(`v1/${path}`, ROOT);
    for (const [name, value] of Object.entries(params)) {
      if (value !== undefined && value !== null && value !== "") u.searchParams.set(name, value);
    }
    return u;
  }

  async function fetchWith(target, theKey, accept = "application/json") {
    return fetch(target, {
      headers: { Authorization: `Bearer ${theKey}`, Accept: accept },
      credentials: "omit",
      cache: "no-store",
    });
  }

  async function api(path, params) {
    const response = await fetchWith(url(path, params), key());
    if (response.status === 401) {
      signOut();
      throw new SignedOut();
    }
    if (!response.ok) throw new ApiError(response.status, await response.json().catch(() => null));
    return response.json();
  }

  async function all(path, params = {}) {
    const rows = [];
    let cursor = null;
    do {
      const page = await api(path, { ...params, limit: 1000, cursor });
      rows.push(...page.data);
      cursor = page.next_cursor;
    } while (cursor);
    return rows;
  }

  function signOut(message) {
    sessionStorage.removeItem(STORE);
    context = null;
    renderSignIn(message === undefined ? "Your key is no longer accepted: it may have expired or been revoked. Sign in again." : message);
  }

  async function loadContext() {
    if (context) return context;
    const [system, pulses, places, teams, rules] = await Promise.all([
      api("system"),
      all("pulses"),
      all("places"),
      all("teams"),
      api("rules"),
    ]);
    pulses.sort((a, b) => (a.opens_on < b.opens_on ? -1 : a.opens_on > b.opens_on ? 1 : 0));
    const closed = pulses.filter((p) => p.status === "closed");
    context = {
      system,
      pulses,
      closed,
      places,
      teams,
      rules: Object.keys(rules.rules || {}),
      placeByCode: new Map(places.map((p) => [p.code, p])),
      teamByCode: new Map(teams.map((t) => [t.code, t])),
      pulseByKey: new Map(pulses.map((p) => [p.key, p])),
    };
    return context;
  }

  // ---- building the page -----------------------------------------------------------------

  function h(tag, attrs = {}, ...children) {
    const el = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) {
      if (value === undefined || value === null || value === false) continue;
      if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
      else el.setAttribute(name, value === true ? "" : value);
    }
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return el;
  }

  const words = (name) => {
    const text = String(name).replace(/_/g, " ");
    return text.charAt(0).toUpperCase() + text.slice(1);
  };
  const dimensionName = (d) => DIMENSION_NAMES[d] || words(d);
  const fixed = (x) => (typeof x === "number" ? x.toFixed(2) : "");
  const percent = (x) => (typeof x === "number" ? `${Math.round(x * 100)}%` : "not known");

  function tag(severity) {
    return h("strong", { class: `nhsuk-tag ${SEVERITY_TAG[severity] || "nhsuk-tag--grey"}` }, words(severity));
  }

  function hashFor(route, params = {}) {
    const query = new URLSearchParams();
    for (const [name, value] of Object.entries(params)) if (value) query.set(name, value);
    const text = query.toString();
    return `#/${route}${text ? `?${text}` : ""}`;
  }

  function teamLink(code, pulse) {
    const team = context.teamByCode.get(code);
    return h("a", { href: hashFor(`team/${encodeURIComponent(code)}`, { pulse }) }, team ? team.name : code);
  }

  function placeLink(code, pulse) {
    const place = context.placeByCode.get(code);
    return h("a", { href: hashFor("heatmap", { place: code, pulse }) }, place ? place.name : code);
  }

  function pulseName(key) {
    const pulse = context.pulseByKey.get(key);
    return pulse ? `${pulse.title} (${pulse.key})` : key;
  }

  function chosenPulse(params) {
    const wanted = params.get("pulse");
    if (wanted && context.pulseByKey.has(wanted)) return context.pulseByKey.get(wanted);
    return context.closed[context.closed.length - 1] || null;
  }

  function select(name, label, options, value, allLabel) {
    const id = `filter-${name}`;
    return h(
      "div",
      { class: "nhsuk-form-group" },
      h("label", { class: "nhsuk-label", for: id }, label),
      h(
        "select",
        { class: "nhsuk-select", id, name },
        allLabel ? h("option", { value: "" }, allLabel) : null,
        options.map(([v, text]) => h("option", { value: v, selected: v === value }, text)),
      ),
    );
  }

  // A GET-like form whose values go into the fragment (nothing is sent to the server).
  function filterForm(route, fields, fixedParams = {}) {
    const form = h(
      "form",
      {
        class: "pulse-filters",
        onsubmit: (event) => {
          event.preventDefault();
          const params = { ...fixedParams };
          for (const [name, value] of new FormData(form)) params[name] = value;
          location.hash = hashFor(route, params);
        },
      },
      fields,
      h("button", { class: "nhsuk-button nhsuk-button--secondary", type: "submit" }, "Show"),
    );
    return form;
  }

  function pulsePicker(route, pulse, fixedParams) {
    const options = context.closed.map((p) => [p.key, `${p.title} (${p.key})`]).reverse();
    return filterForm(route, select("pulse", "Pulse", options, pulse && pulse.key), fixedParams);
  }

  function table(caption, head, rows, attrs = {}) {
    return h(
      "div",
      { class: "pulse-table-wrap" },
      h(
        "table",
        { class: `nhsuk-table ${attrs.class || ""}`.trim() },
        caption ? h("caption", { class: "nhsuk-table__caption" }, caption) : null,
        h("thead", { class: "nhsuk-table__head" }, h("tr", {}, head.map((c) => (c instanceof Node ? c : h("th", { scope: "col" }, c))))),
        h("tbody", { class: "nhsuk-table__body" }, rows),
      ),
    );
  }

  const row = (...cells) => h("tr", { class: "nhsuk-table__row" }, cells);
  const cell = (...content) => h("td", { class: "nhsuk-table__cell" }, content);

  // Plot draws an SVG with its default styles in a <style> element, which the CSP refuses;
  // the same rules are in view.css, so the element is taken out before it reaches the page.
  function chart(svg, label) {
    for (const style of svg.querySelectorAll("style")) style.remove();
    // The chart is one image with one label (its numbers are in the table beside it).
    for (const part of svg.querySelectorAll("[aria-label], [aria-description]")) {
      part.removeAttribute("aria-label");
      part.removeAttribute("aria-description");
    }
    svg.classList.add("pulse-plot");
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", label);
    return h("div", { class: "pulse-chart" }, svg);
  }

  function show(title, ...content) {
    document.title = `${title} – Pulse analyst's view`;
    const heading = h("h1", { tabindex: "-1" }, title);
    app.replaceChildren(
      h("p", { class: "nhsuk-body-s pulse-signout" }, h("button", { class: "nhsuk-button nhsuk-button--secondary nhsuk-button--small", type: "button", onclick: () => signOut("You have signed out.") }, "Sign out")),
      heading,
      ...content.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false),
    );
    heading.focus();
  }

  function problem(title, text) {
    return h("div", { class: "nhsuk-error-summary", role: "alert", tabindex: "-1", "aria-labelledby": "problem-title" },
      h("h2", { class: "nhsuk-error-summary__title", id: "problem-title" }, title),
      h("div", { class: "nhsuk-error-summary__body" }, h("p", {}, text)));
  }

  // ---- sign-in --------------------------------------------------------------------------

  function renderSignIn(message) {
    document.title = "Sign in – Pulse analyst's view";
    document.getElementById("nav").classList.add("pulse-hidden");
    const input = h("input", { class: "nhsuk-input", id: "key", name: "key", type: "password", autocomplete: "off", spellcheck: "false", "aria-describedby": "key-hint" });
    const form = h(
      "form",
      {
        novalidate: true,
        onsubmit: async (event) => {
          event.preventDefault();
          const candidate = input.value.trim();
          const failure = await tryKey(candidate);
          if (failure) {
            renderSignIn(failure);
            return;
          }
          sessionStorage.setItem(STORE, candidate);
          if (!location.hash.startsWith("#/")) location.hash = "#/overview";
          else route();
        },
      },
      h("div", { class: "nhsuk-form-group" },
        h("label", { class: "nhsuk-label nhsuk-label--m", for: "key" }, "API key"),
        h("div", { class: "nhsuk-hint", id: "key-hint" }, "A key with the insights:read scope. It is kept in this browser tab only and forgotten when you close the tab or sign out."),
        input),
      h("button", { class: "nhsuk-button", type: "submit" }, "Sign in"),
    );
    const heading = h("h1", { tabindex: "-1" }, "Sign in");
    const summary = message
      ? h("div", { class: "nhsuk-error-summary", role: "alert", tabindex: "-1", "aria-labelledby": "sign-in-problem", id: "sign-in-error" },
          h("h2", { class: "nhsuk-error-summary__title", id: "sign-in-problem" }, "There is a problem"),
          h("div", { class: "nhsuk-error-summary__body" },
            h("ul", { class: "nhsuk-list nhsuk-error-summary__list" }, h("li", {}, h("a", { href: "#key" }, message)))))
      : null;
    app.replaceChildren(summary || "", heading, form);
    (summary || heading).focus();
    app.dataset.ready = "sign-in";
  }

  async function tryKey(candidate) {
    if (!candidate) return "Enter an API key.";
    let response;
    try {
      response = await fetchWith(url("warning-signs", { limit: 1 }), candidate);
    } catch {
      return "The service could not be reached. Try again.";
    }
    if (response.ok) return null;
    if (response.status === 401) return "This key was not accepted: it is wrong, expired or revoked.";
    if (response.status === 403) return "This key cannot read insights: it needs the insights:read scope.";
    if (response.status === 429) return "Too many tries. Wait a minute, then sign in again.";
    return `The service answered ${response.status}. Try again later.`;
  }

  // ---- the overview -----------------------------------------------------------------------

  async function renderOverview(params) {
    const pulse = chosenPulse(params);
    if (!pulse) return show("System overview", h("p", {}, "No pulse has closed yet: there is nothing to show."));
    const [scores, flags] = await Promise.all([
      Promise.all(context.places.map((p) => api(`places/${encodeURIComponent(p.code)}/scores`, { pulse: pulse.key }))),
      all("warning-signs", { pulse: pulse.key }),
    ]);
    const placeFlags = (code, rule) =>
      flags.filter((f) => f.place === code && f.scope === "place" && f.rule === rule);
    const described = (list) =>
      list.length
        ? h("ul", { class: "nhsuk-list" }, list.map((f) => h("li", {}, tag(f.severity), " ", f.dimension ? dimensionName(f.dimension) : words(f.rule))))
        : "None";
    const rows = context.places.map((place, i) => {
      const entry = scores[i].data.find((s) => s.pulse === pulse.key);
      const taking = entry ? entry.participation : null;
      const at = flags.filter((f) => f.place === place.code);
      return row(
        h("th", { scope: "row" }, placeLink(place.code, pulse.key)),
        cell(taking ? `${taking.responses}` : "none"),
        cell(taking ? percent(taking.response_rate) : "not known"),
        cell(`${at.filter((f) => f.severity === "red").length}`),
        cell(`${at.filter((f) => f.severity === "amber").length}`),
        cell(described(placeFlags(place.code, "spreading"))),
        cell(described(placeFlags(place.code, "partner_divide"))),
        cell(described(placeFlags(place.code, "hierarchy_gap"))),
      );
    });
    show(
      `System overview: ${context.system.name}`,
      h("p", { class: "nhsuk-lede-text" }, `${pulseName(pulse.key)}, closed ${pulse.closes_on}.`),
      pulsePicker("overview", pulse),
      table(
        `Places in ${pulseName(pulse.key)}`,
        ["Place", "Responses", "Response rate", "Red flags", "Amber flags", "Spreading", "Partner divide", "Place hierarchy gap"],
        rows,
        { class: "pulse-overview" },
      ),
      h("p", {}, h("a", { href: hashFor("heatmap", { pulse: pulse.key }) }, "Every team of the system on one heatmap")),
    );
  }

  // ---- the heatmap ------------------------------------------------------------------------

  function band(mean) {
    let i = 0;
    while (i < BANDS.length && mean >= BANDS[i]) i += 1;
    return `heat-${i + 1}`;
  }

  function legend() {
    const css = getComputedStyle(document.documentElement);
    const range = [1, 2, 3, 4, 5, 6].map((i) => css.getPropertyValue(`--heat-${i}`).trim());
    const svg = Plot.legend({
      color: { type: "threshold", domain: BANDS, range, label: "Mean score (1 to 5)" },
      width: 320,
    });
    return h("div", { class: "pulse-legend" },
      chart(svg, "Colour key: mean score in six bands, from below 2.5 (red) to 4.5 and above (blue)."),
      h("p", { class: "nhsuk-body-s" }, "Each cell shows its mean as a number beside the colour. Hatched cells marked Suppressed are withheld: too few answered, or publishing them could identify someone."));
  }

  // Whole-group cells by "scope:code", then dimension. The score feed gives a place's cells
  // in a few pages; a key without feeds:read reads each team's scores instead.
  async function wholeGroupCells(pulse, place, places, teams) {
    const cells = new Map();
    const put = (scope, code, d) => {
      const id = `${scope}:${code}`;
      if (!cells.has(id)) cells.set(id, new Map());
      cells.get(id).set(d.dimension, d);
    };
    try {
      // One place at a time, in parallel: each is about a page.
      const pages = await Promise.all(places.map((p) => all("feeds/scores", { pulse, place: p.code })));
      for (const r of pages.flat()) {
        if (r.segment_type === null && r.pulse === pulse) put(r.scope, r.scope === "team" ? r.team : r.place, r);
      }
      return cells;
    } catch (error) {
      if (!(error instanceof ApiError) || error.status !== 403) throw error;
    }
    const read = async (scope, code) => {
      const page = await api(`${scope === "team" ? "teams" : "places"}/${encodeURIComponent(code)}/scores`, { pulse });
      const entry = page.data.find((e) => e.pulse === pulse);
      for (const d of (entry && entry.dimensions) || []) put(scope, code, d);
    };
    await Promise.all([...places.map((p) => read("place", p.code)), ...teams.map((t) => read("team", t.code))]);
    return cells;
  }

  async function renderHeatmap(params) {
    const pulse = chosenPulse(params);
    const only = params.get("place");
    const places = only ? context.places.filter((p) => p.code === only) : context.places;
    if (only && !places.length) throw new ApiError(404, { detail: `No place '${only}'.` });
    if (!pulse) return show("Heatmap", h("p", {}, "No pulse has closed yet: there is nothing to show."));
    const teams = context.teams.filter((t) => places.some((p) => p.code === t.place));
    const [cells, flags] = await Promise.all([
      wholeGroupCells(pulse.key, only, places, teams),
      all("warning-signs", only ? { pulse: pulse.key, place: only } : { pulse: pulse.key }),
    ]);
    const subjects = [
      ...places.map((p) => ({ kind: "place", code: p.code, place: p.code, name: p.name })),
      ...teams.map((t) => ({ kind: "team", code: t.code, place: t.place, name: t.name })),
    ];
    for (const s of subjects) {
      s.flags = flags.filter((f) => (s.kind === "team" ? f.team === s.code : f.team === null && f.place === s.code));
      s.dims = cells.get(`${s.kind}:${s.code}`) || new Map();
    }
    const sortBy = params.get("sort") || "name";
    const order = params.get("order") === "desc" ? -1 : 1;
    const sortValue = (s) => {
      if (sortBy === "flags") return s.flags.filter((f) => f.severity !== "info").length * 100 + s.flags.length;
      const d = s.dims.get(sortBy);
      return d && !d.suppressed && typeof d.mean === "number" ? d.mean : null;
    };
    const compare = (a, b) => {
      if (sortBy === "name") return order * a.name.localeCompare(b.name);
      const x = sortValue(a);
      const y = sortValue(b);
      if (x === y) return a.name.localeCompare(b.name);
      if (x === null) return 1; // no number sorts last either way
      if (y === null) return -1;
      return order * (x - y);
    };
    const header = (id, label) => {
      const active = sortBy === id;
      const next = active && order === 1 ? "desc" : "asc";
      return h("th", { scope: "col", "aria-sort": active ? (order === 1 ? "ascending" : "descending") : "none" },
        h("a", { class: "pulse-sort", href: hashFor("heatmap", { place: only, pulse: pulse.key, sort: id, order: next }) },
          label, h("span", { class: "nhsuk-u-visually-hidden" }, active ? ` (sorted ${order === 1 ? "ascending" : "descending"}; select to reverse)` : " (select to sort)")));
    };
    const badges = (list) =>
      list.length ? h("span", { class: "pulse-badges" }, list.map((f) => [tag(f.severity), h("span", { class: "nhsuk-u-visually-hidden" }, ` ${words(f.rule)}: `), h("span", { class: "pulse-badge-rule" }, words(f.rule)), " "])) : null;
    const scoreCell = (s, dimension) => {
      const d = s.dims.get(dimension);
      const own = s.flags.filter((f) => f.dimension === dimension);
      if (!d) return h("td", { class: "nhsuk-table__cell heat-none" }, "No data", badges(own));
      if (d.suppressed) return h("td", { class: "nhsuk-table__cell heat-suppressed" }, "Suppressed", badges(own));
      return h("td", { class: `nhsuk-table__cell ${band(d.mean)}` },
        h("span", { class: "pulse-value" }, fixed(d.mean)), h("span", { class: "nhsuk-body-s" }, `n=${d.n}`), badges(own));
    };
    const rows = [];
    for (const place of places) {
      const group = subjects.filter((s) => s.place === place.code);
      const top = group.filter((s) => s.kind === "place");
      const members = group.filter((s) => s.kind === "team").sort(compare);
      for (const s of [...top, ...members]) {
        const general = s.flags.filter((f) => !f.dimension);
        rows.push(h("tr", { class: `nhsuk-table__row ${s.kind === "place" ? "pulse-heatmap__place" : ""}`, "data-subject": s.code },
          h("th", { scope: "row" },
            s.kind === "place" ? ["Place: ", placeLink(s.code, pulse.key)] : teamLink(s.code, pulse.key),
            badges(general)),
          DIMENSIONS.map((d) => scoreCell(s, d)),
          h("td", { class: "nhsuk-table__cell" }, `${s.flags.length}`)));
      }
    }
    const title = only ? `Heatmap: ${places[0].name}` : "Heatmap: every place";
    show(
      title,
      h("p", { class: "nhsuk-lede-text" }, `${pulseName(pulse.key)}: ${teams.length} teams, mean score per dimension.`),
      pulsePicker("heatmap", pulse, { place: only }),
      legend(),
      table(
        `${title}, ${pulseName(pulse.key)}. Column headings sort the teams; the place row stays on top.`,
        [header("name", "Team"), ...DIMENSIONS.map((d) => header(d, dimensionName(d))), header("flags", "Flags")],
        rows,
        { class: "pulse-heatmap" },
      ),
    );
  }

  // ---- a team -----------------------------------------------------------------------------

  function monthsBetween(from, to) {
    const a = new Date(`${from}T00:00:00Z`);
    const b = new Date(`${to}T00:00:00Z`);
    return (b.getUTCFullYear() - a.getUTCFullYear()) * 12 + (b.getUTCMonth() - a.getUTCMonth()) - (b.getUTCDate() < a.getUTCDate() ? 1 : 0);
  }

  function evidenceValue(value) {
    if (value === null || value === undefined) return "none";
    if (Array.isArray(value)) return value.map(evidenceValue).join(", ");
    if (typeof value === "object") return Object.entries(value).map(([k, v]) => `${words(k)}: ${evidenceValue(v)}`).join("; ");
    if (typeof value === "boolean") return value ? "yes" : "no";
    if (typeof value === "string" && DIMENSION_NAMES[value]) return DIMENSION_NAMES[value];
    return String(value);
  }

  function flagList(flags) {
    if (!flags.length) return h("p", {}, "No warning signs in this pulse.");
    return h("ul", { class: "nhsuk-list pulse-flags" }, flags.map((f) =>
      h("li", { class: "nhsuk-card" }, h("div", { class: "nhsuk-card__content" },
        h("h3", { class: "nhsuk-card__heading nhsuk-heading-s" }, tag(f.severity), " ", words(f.rule), f.dimension ? ` – ${dimensionName(f.dimension)}` : ""),
        h("p", { class: "nhsuk-body" }, f.message),
        h("dl", { class: "nhsuk-summary-list" }, Object.entries(f.evidence || {}).map(([k, v]) =>
          h("div", { class: "nhsuk-summary-list__row" },
            h("dt", { class: "nhsuk-summary-list__key" }, words(k)),
            h("dd", { class: "nhsuk-summary-list__value" }, evidenceValue(v)))))))));
  }

  function trend(dimension, entries) {
    const points = entries.map((e) => ({ pulse: e.pulse, d: e.dimensions.find((x) => x.dimension === dimension) })).filter((p) => p.d);
    const shown = points.filter((p) => !p.d.suppressed && typeof p.d.mean === "number")
      .map((p) => ({ pulse: p.pulse, mean: p.d.mean, low: p.d.ci_low, high: p.d.ci_high }));
    const withheld = points.filter((p) => p.d.suppressed).map((p) => ({ pulse: p.pulse }));
    const svg = Plot.plot({
      width: 640,
      height: 220,
      marginLeft: 40,
      x: { type: "point", domain: entries.map((e) => e.pulse), label: null },
      y: { domain: [1, 5], grid: true, label: "Mean (95% interval)" },
      marks: [
        Plot.ruleX(shown, { x: "pulse", y1: "low", y2: "high", stroke: "#768692", strokeWidth: 8, strokeOpacity: 0.5 }),
        Plot.line(shown, { x: "pulse", y: "mean", stroke: "#005eb8", strokeWidth: 2 }),
        Plot.dot(shown, { x: "pulse", y: "mean", fill: "#005eb8", r: 4 }),
        Plot.text(withheld, { x: "pulse", y: () => 3, text: () => "suppressed", fill: "#4c6272" }),
      ],
    });
    const rows = points.map((p) =>
      p.d.suppressed
        ? row(h("th", { scope: "row" }, p.pulse), [1, 2, 3].map(() => h("td", { class: "nhsuk-table__cell heat-suppressed" }, "Suppressed")))
        : row(h("th", { scope: "row" }, p.pulse), cell(`${p.d.n}`), cell(fixed(p.d.mean)), cell(`${fixed(p.d.ci_low)} to ${fixed(p.d.ci_high)}`)));
    return h("section", { class: "pulse-trend", "data-dimension": dimension },
      h("h3", {}, dimensionName(dimension)),
      chart(svg, `${dimensionName(dimension)}: mean score per pulse with its 95% interval; the table below gives the numbers.`),
      h("details", { class: "nhsuk-details" },
        h("summary", { class: "nhsuk-details__summary" }, h("span", { class: "nhsuk-details__summary-text" }, `${dimensionName(dimension)}: the numbers`)),
        h("div", { class: "nhsuk-details__text" }, table(null, ["Pulse", "n", "Mean", "95% interval"], rows))));
  }

  function breakdowns(entry) {
    if (!entry || !entry.dimensions.length) return h("p", {}, "No scores are published for this pulse.");
    const rows = [];
    for (const d of entry.dimensions) {
      for (const s of d.breakdowns || []) {
        if (s.suppressed) continue; // withheld segments are not listed
        rows.push(row(cell(dimensionName(d.dimension)), cell(words(s.segment_type)), cell(words(s.segment)), cell(`${s.n}`), cell(fixed(s.mean)), cell(`${fixed(s.ci_low)} to ${fixed(s.ci_high)}`)));
      }
    }
    if (!rows.length) return h("p", {}, "No breakdown is published for this pulse: every segment is too small, or would let someone be identified.");
    return [table("Published breakdowns (other segments are suppressed)", ["Dimension", "By", "Segment", "n", "Mean", "95% interval"], rows, { class: "pulse-breakdowns" })];
  }

  async function renderTeam(code, params) {
    const team = context.teamByCode.get(code);
    if (!team) throw new ApiError(404, { detail: `No team '${code}'.` });
    const pulse = chosenPulse(params);
    const [pages, flags] = await Promise.all([
      all(`teams/${encodeURIComponent(code)}/scores`),
      pulse ? all("warning-signs", { pulse: pulse.key, team: code }) : [],
    ]);
    const order = (k) => (context.pulseByKey.get(k) || { opens_on: k }).opens_on;
    const entries = pages.filter((e) => e.status === "closed").sort((a, b) => (order(a.pulse) < order(b.pulse) ? -1 : 1));
    const current = pulse ? entries.find((e) => e.pulse === pulse.key) : null;
    const place = context.placeByCode.get(team.place);
    const adoption = context.system.adoption_months;
    const young = pulse && team.formed_on && monthsBetween(team.formed_on, pulse.closes_on) < adoption;
    const participation = entries.map((e) =>
      row(h("th", { scope: "row" }, e.pulse), cell(`${e.participation.responses}`), cell(e.participation.headcount === null ? "not known" : `${e.participation.headcount}`), cell(percent(e.participation.response_rate))));
    show(
      team.name,
      h("dl", { class: "nhsuk-summary-list" },
        [["Place", placeLink(team.place, pulse && pulse.key)], ["Headcount", team.headcount === null ? "not known" : `${team.headcount}`], ["Formed", team.formed_on || "not recorded"], ["Pulse", pulse ? pulseName(pulse.key) : "none closed"]].map(([k, v]) =>
          h("div", { class: "nhsuk-summary-list__row" }, h("dt", { class: "nhsuk-summary-list__key" }, k), h("dd", { class: "nhsuk-summary-list__value" }, v)))),
      young
        ? h("div", { class: "nhsuk-inset-text pulse-adoption" }, h("span", { class: "nhsuk-u-visually-hidden" }, "Information: "),
            h("p", {}, `In its adoption window: this team formed on ${team.formed_on}, less than ${adoption} months before this pulse closed. New ways of working take 6 to 12 months to adopt, so its signs about them are shown as information.`))
        : null,
      pulsePicker(`team/${encodeURIComponent(code)}`, pulse),
      h("h2", {}, "Warning signs"),
      flagList(flags),
      h("h2", {}, "Participation against headcount"),
      table("Responses per pulse", ["Pulse", "Responses", "Headcount", "Response rate"], participation, { class: "pulse-participation" }),
      h("h2", {}, "Trends"),
      DIMENSIONS.map((d) => trend(d, entries)),
      h("h2", {}, `Breakdowns in ${pulse ? pulse.key : "the pulse"}`),
      breakdowns(current),
      place ? h("p", {}, h("a", { href: hashFor("heatmap", { place: place.code, pulse: pulse && pulse.key }) }, `Back to the ${place.name} heatmap`)) : null,
    );
  }

  // ---- warning signs ----------------------------------------------------------------------

  const SIGN_FILTERS = ["severity", "rule", "dimension", "place"];

  async function renderSigns(params) {
    const pulse = chosenPulse(params);
    const filters = Object.fromEntries(SIGN_FILTERS.map((n) => [n, params.get(n) || ""]));
    const query = { pulse: pulse && pulse.key, ...filters };
    const flags = pulse ? await all("warning-signs", query) : [];
    const rank = (f) => SEVERITIES.indexOf(f.severity);
    flags.sort((a, b) => rank(a) - rank(b));
    const status = h("p", { class: "nhsuk-body-s", role: "status", id: "download-status" });
    const download = h("button", {
      class: "nhsuk-button nhsuk-button--secondary",
      type: "button",
      onclick: () => downloadCsv(query, status),
    }, "Download these rows as CSV");
    const rows = flags.map((f) => row(
      cell(tag(f.severity)),
      cell(words(f.rule)),
      cell(f.team ? teamLink(f.team, f.pulse) : ["Place: ", placeLink(f.place, f.pulse)]),
      cell(f.dimension ? dimensionName(f.dimension) : "–"),
      cell(f.message)));
    show(
      "Warning signs",
      h("p", { class: "nhsuk-lede-text" }, pulse ? `${flags.length} in ${pulseName(pulse.key)}.` : "No pulse has closed yet."),
      filterForm("signs", [
        select("pulse", "Pulse", context.closed.map((p) => [p.key, `${p.title} (${p.key})`]).reverse(), pulse && pulse.key),
        select("severity", "Severity", SEVERITIES.map((s) => [s, words(s)]), filters.severity, "Any severity"),
        select("rule", "Rule", context.rules.map((r) => [r, words(r)]), filters.rule, "Any rule"),
        select("dimension", "Dimension", DIMENSIONS.map((d) => [d, dimensionName(d)]), filters.dimension, "Any dimension"),
        select("place", "Place", context.places.map((p) => [p.code, p.name]), filters.place, "Any place"),
      ]),
      download,
      status,
      table("Warning signs, most severe first", ["Severity", "Rule", "Team or place", "Dimension", "Message"], rows, { class: "pulse-signs" }),
    );
  }

  // The CSV is the warning-sign feed itself, fetched with the key (a plain link could not
  // send it) and handed to the browser as a file.
  async function downloadCsv(query, status) {
    status.textContent = "Preparing the file…";
    let target = url("feeds/warning-signs", { ...query, limit: 1000 });
    const parts = [];
    while (target) {
      const response = await fetchWith(target, key(), "text/csv");
      if (response.status === 401) return signOut();
      if (response.status === 403) {
        status.textContent = "This key cannot read feeds: the download needs a key with the feeds:read scope.";
        return;
      }
      if (!response.ok) {
        status.textContent = `The feed answered ${response.status}; try again later.`;
        return;
      }
      const text = await response.text();
      parts.push(parts.length ? text.slice(text.indexOf("\n") + 1) : text); // one header row
      const link = response.headers.get("Link") || "";
      const next = /<([^>]+)>\s*;\s*rel="?next"?/.exec(link);
      target = next ? new URL(next[1], ROOT) : null;
    }
    const blob = new Blob(parts, { type: "text/csv" });
    const a = h("a", { href: URL.createObjectURL(blob), download: `warning-signs-${query.pulse || "latest"}.csv`, class: "pulse-hidden" });
    document.body.append(a);
    a.click();
    a.remove();
    status.textContent = "The file has been downloaded.";
  }

  // ---- routing ----------------------------------------------------------------------------

  async function route() {
    if (!key()) return renderSignIn(null);
    document.getElementById("nav").classList.remove("pulse-hidden");
    const hash = location.hash.startsWith("#/") ? location.hash.slice(2) : "overview";
    const [path, search] = hash.split("?");
    const params = new URLSearchParams(search || "");
    const parts = path.split("/").map(decodeURIComponent);
    const started = performance.now();
    delete app.dataset.ready;
    try {
      await loadContext();
      if (parts[0] === "heatmap") await renderHeatmap(params);
      else if (parts[0] === "team" && parts[1]) await renderTeam(parts[1], params);
      else if (parts[0] === "signs") await renderSigns(params);
      else await renderOverview(params);
      app.dataset.ready = parts[0] || "overview";
      app.dataset.renderMs = String(Math.round(performance.now() - started));
    } catch (error) {
      if (error instanceof SignedOut) return;
      show("Something went wrong", problem(error.status === 404 ? "Not found" : "The page could not be shown", error.message));
      app.dataset.ready = "error";
    }
  }

  // In-page links (the skip link, an error summary's) move focus; they are not routes.
  document.addEventListener("click", (event) => {
    const link = event.target.closest && event.target.closest("a[href^='#']");
    if (!link || link.getAttribute("href").startsWith("#/")) return;
    const target = document.getElementById(link.getAttribute("href").slice(1));
    if (target) {
      event.preventDefault();
      target.focus();
    }
  });
  window.addEventListener("hashchange", route);
  route();
})();
