"""The analyst's view, read in Chromium as an analyst would read it."""

import re
import time
from pathlib import Path

from app.vocab import DIMENSIONS
from tests.view.conftest import SCREENSHOTS, Demo, View, sign_in

TIMINGS = SCREENSHOTS / "timings.txt"


def row(view: View, subject: str) -> str:
    """The heatmap row of a team or place, by code, as a selector."""
    return f"tr[data-subject='{subject}']"


def cell(view: View, subject: str, dimension: str) -> str:
    """The heatmap cell of a subject on one dimension, as a selector."""
    return f"{row(view, subject)} td:nth-of-type({DIMENSIONS.index(dimension) + 1})"


def assert_clean(view: View, name: str) -> None:
    """No serious accessibility finding, nothing refused by the CSP, and screenshots taken."""
    assert view.serious_violations() == []
    assert view.problems == []
    view.screenshots(name)


def test_a_wrong_key_shows_the_sign_in_error(view: View) -> None:
    view.open("overview", "sign-in")
    assert_clean(view, "sign-in")
    view.page.fill("#key", "pulse_not-a-real-key")
    view.page.click("button[type=submit]")
    view.page.wait_for_selector("#sign-in-error")
    assert "not accepted" in view.page.inner_text("#sign-in-error")
    assert view.page.evaluate("sessionStorage.length") == 0
    # The refused key shows in the console as the 401 the browser fetched; nothing else.
    view.problems[:] = [p for p in view.problems if "401" not in p]
    assert_clean(view, "sign-in-error")


def test_a_key_with_insights_only_reads_team_by_team_and_a_revoked_one_signs_out(
    view: View,
) -> None:
    made = view.demo.post("/v1/keys", {"name": "analyst", "scopes": ["insights:read"]})
    page = view.page
    sign_in(view, made["key"])
    # No feeds:read: the heatmap reads each team's scores; the CSV download says why not.
    view.open("heatmap?place=riverside", "heatmap")
    assert "Falling" in page.inner_text(cell(view, "riverside-nt2", "support"))
    view.open("signs", "signs")
    page.click("text=Download these rows as CSV")
    page.wait_for_selector("#download-status:has-text('feeds:read')")
    view.demo.post(f"/v1/keys/{made['id']}/revoke")
    view.open("overview", "sign-in")
    assert "no longer accepted" in page.inner_text("#sign-in-error")
    assert page.evaluate("sessionStorage.length") == 0


def test_the_key_is_kept_in_the_tab_and_sent_only_as_a_header(signed_in: View) -> None:
    page = signed_in.page
    assert page.evaluate("Object.values(sessionStorage)") == [signed_in.demo.key]
    assert page.context.cookies() == []
    assert signed_in.demo.key not in page.url


def test_the_overview_shows_each_place_and_its_place_signs(signed_in: View) -> None:
    page = signed_in.page
    rows = page.locator("table.pulse-overview tbody tr")
    assert rows.count() == 5
    hillcrest = page.locator("table.pulse-overview tbody tr", has_text="Hillcrest")
    # Columns: place, responses, rate, red, amber, spreading, partner divide, hierarchy gap.
    assert hillcrest.locator("td").nth(5).locator(".nhsuk-tag").count() >= 1
    assert_clean(signed_in, "overview")


def test_the_place_heatmap_puts_the_place_first_and_badges_the_planted_signs(
    signed_in: View,
) -> None:
    page = signed_in.page
    signed_in.open("heatmap?place=riverside", "heatmap")
    first = page.locator("table.pulse-heatmap tbody tr").first
    assert first.get_attribute("data-subject") == "riverside"
    assert "Falling" in page.inner_text(cell(signed_in, "riverside-nt2", "support"))
    assert re.fullmatch(
        r"\d\.\d\d", page.inner_text(f"{cell(signed_in, 'riverside-nt1', 'purpose')} .pulse-value")
    )
    assert_clean(signed_in, "heatmap-place")
    for place, subject, dimension, rule in [
        ("hillcrest", "hillcrest-nt1", "belief", "Polarised"),
        ("old-town", "old-town-nt3", None, "Hierarchy gap"),
        ("northgate", "northgate-nt4", None, "Gone quiet"),
        ("marsh-end", "marsh-end-nt5", "new_ways_of_working", "Low score"),
    ]:
        signed_in.open(f"heatmap?place={place}", "heatmap")
        where = (
            row(signed_in, subject) if dimension is None else cell(signed_in, subject, dimension)
        )
        assert rule in page.inner_text(where), (subject, rule)


def test_sorting_the_heatmap_by_a_dimension_keeps_the_place_row_on_top(signed_in: View) -> None:
    page = signed_in.page
    signed_in.open("heatmap?place=riverside", "heatmap")
    page.click("th a:has-text('Support')")
    signed_in.wait("heatmap")
    subjects = page.locator("table.pulse-heatmap tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.subject)"
    )
    assert subjects[0] == "riverside" and subjects[1] == "riverside-nt2"
    sorted_by = page.get_attribute("th[aria-sort='ascending']", "aria-sort")
    assert sorted_by == "ascending"


def _a_suppressed_team_cell(demo: Demo) -> tuple[str, str, str]:
    """A (pulse, team, dimension) whose whole-team cell the API suppresses."""
    for team in demo.get("/v1/teams", place="riverside", limit=100)["data"]:
        for entry in demo.get(f"/v1/teams/{team['code']}/scores")["data"]:
            for d in entry["dimensions"]:
                if d["suppressed"]:
                    return entry["pulse"], team["code"], d["dimension"]
    raise AssertionError("the demo has no suppressed team cell at Riverside")


def test_a_suppressed_cell_shows_no_number_anywhere_in_the_page(signed_in: View) -> None:
    pulse, team, dimension = _a_suppressed_team_cell(signed_in.demo)
    page = signed_in.page
    signed_in.open(f"heatmap?place=riverside&pulse={pulse}", "heatmap")
    suppressed = page.locator(cell(signed_in, team, dimension))
    assert "heat-suppressed" in (suppressed.get_attribute("class") or "")
    assert "Suppressed" in suppressed.inner_text()
    assert not re.search(r"\d", suppressed.evaluate("c => c.outerHTML"))
    assert_clean(signed_in, "heatmap-suppressed")
    # The team's trend table lists that pulse as suppressed, without a number either.
    signed_in.open(f"team/{team}?pulse={pulse}", "team")
    section = page.locator(f"section[data-dimension='{dimension}'] tr", has_text=pulse)
    assert section.locator("td").all_text_contents() == ["Suppressed"] * 3
    assert not re.search(
        r"\d", section.locator("td").evaluate_all("cs => cs.map(c => c.outerHTML).join()")
    )


def test_the_team_page_shows_flags_in_words_trends_participation_and_breakdowns(
    signed_in: View,
) -> None:
    page = signed_in.page
    demo = signed_in.demo
    signed_in.open("team/riverside-nt2", "team")
    flags = demo.get("/v1/warning-signs", team="riverside-nt2")["data"]
    assert flags
    shown = page.inner_text(".pulse-flags")
    for flag in flags:
        assert flag["message"] in shown
    assert "Baseline mean" in shown
    assert page.locator("section.pulse-trend svg").count() == len(DIMENSIONS)
    pulses = demo.get("/v1/pulses")["data"]
    assert page.locator("table.pulse-participation tbody tr").count() == len(pulses)
    assert_clean(signed_in, "team")
    signed_in.open("team/old-town-nt3", "team")
    assert page.locator("table.pulse-breakdowns tbody tr").count() >= 1
    assert "Hierarchy gap" in page.inner_text(".pulse-flags")


def test_a_young_team_is_noted_as_in_its_adoption_window(signed_in: View) -> None:
    signed_in.open("team/marsh-end-nt5", "team")
    assert "adoption window" in signed_in.page.inner_text(".pulse-adoption")
    signed_in.open("team/marsh-end-nt4", "team")
    assert signed_in.page.locator(".pulse-adoption").count() == 0


def test_the_warning_sign_list_filters_links_and_downloads_the_feed(
    signed_in: View, tmp_path: Path
) -> None:
    page = signed_in.page
    signed_in.open("signs", "signs")
    assert_clean(signed_in, "warning-signs")
    page.select_option("#filter-place", "hillcrest")
    page.select_option("#filter-severity", "amber")
    page.click("form.pulse-filters button[type=submit]")
    signed_in.page.wait_for_url(re.compile(r"severity=amber"))
    signed_in.wait("signs")
    rows = page.locator("table.pulse-signs tbody tr")
    assert rows.count() >= 2
    assert set(rows.locator("td:nth-of-type(1)").all_inner_texts()) == {"Amber"}
    page.click("table.pulse-signs a:has-text('Hillcrest Neighbourhood Team 1')")
    signed_in.wait("team")
    page.go_back()
    signed_in.wait("signs")
    with page.expect_download() as download:
        page.click("text=Download these rows as CSV")
    saved = tmp_path / "signs.csv"
    download.value.save_as(saved)
    lines = saved.read_text(encoding="utf-8").strip().splitlines()
    assert len(lines) == rows.count() + 1 and "hillcrest" in lines[1]


def test_the_heatmap_of_forty_teams_is_timed(signed_in: View) -> None:
    page = signed_in.page
    started = time.perf_counter()
    signed_in.open("heatmap", "heatmap")
    seconds = time.perf_counter() - started
    teams = page.locator("table.pulse-heatmap tbody tr:not(.pulse-heatmap__place)").count()
    assert teams == 40
    in_page = page.get_attribute("#app", "data-render-ms")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    TIMINGS.write_text(
        f"heatmap of {teams} teams: {seconds:.3f} s from navigation to drawn "
        f"(in-page {in_page} ms)\n",
        encoding="utf-8",
    )
    assert_clean(signed_in, "heatmap-all")
