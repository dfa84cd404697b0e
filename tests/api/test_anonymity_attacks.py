"""The red team's attacks, rebuilt through the API: no weighting of what was ever published
isolates fewer than k people (DESIGN section 3.3, 3.4 and 3.7).

Each test knows every response it posted, scores and attributes. It reads everything the
API publishes, before and after the change an attack makes: the scores of every team and
place (all pulses), every page of the score feed, and every warning sign of every pulse,
from ``/v1/warning-signs`` and from the warning-sign feed. Each published cell (n, mean,
sd) is matched to the set of respondents it must be the aggregate of, under one of the
structures and response sets the test has used; then, per pulse and dimension, the union of
every cell ever read goes to the independent checker with the k in force when the pulse
closed.

The evidence of a warning sign gives numbers of groups: a subject's mean (``low_score``,
``falling``, ``below_place``), its sd (``polarised``), its means over four pulses
(``sustained_decline``), its baseline pooled over earlier pulses (``falling``), two segments
of it (``hierarchy_gap``, ``partner_divide``), the rest of its place, that is the place less
the team (``below_place``), and what follows from those: differences (fall, gap,
shortfall), the p-value of the comparison (a function of both groups' n, sum and sum of
squares) and its adjusted p-value (a function of every comparison made for the subject in
the pulse). Each group is first matched to the published cells it should be made of, read
in the same pass: the same n, and the mean (or sd) to the two places the evidence shows.
Matched, it is a combination of published cells and adds nothing. Unmatched, the test
looks for the respondents it covers among every set it can name (every structure and
response set, each part on its own: a revision may keep some cells as first published);
the one set that fits becomes new equations for the checker, and if none or several fit,
the test fails, for then it cannot tell what the number gives away. The p-values are
recomputed: each from its two groups, and the adjusted one from the comparisons that the
published cells of the subject allow (DESIGN section 4), so they too are matched, not
assumed. Counts of responses are participation (published while a pulse is open, too) and
carry no scores: they are matched to the participation the score endpoints show. Every
number in a flag's message must be one of its evidence, rounded.

The tests assume neither that a closed pulse's numbers change after an edit nor that they
stay: only that nothing in the union isolates a small group, and that each number read is
the aggregate of some set of respondents the test can name.
"""

import json
import random
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fractions import Fraction
from itertools import combinations, pairwise, product
from math import sqrt
from typing import Any

import pytest
from fastapi.testclient import TestClient
from scipy import special
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import SCORE_SCALE, Organisation, Place, Pulse, Team
from app.models import Response as StoredResponse
from app.services.demo import build_demo
from app.vocab import DIMENSIONS
from tests.api.conftest import Tenant
from tests.builders import make_key
from tests.conftest import Clock
from tests.disclosure_checker import Row, find_exposure

PULSE = "2026-10"
DURING = datetime(2026, 10, 15, 12, 0, tzinfo=UTC)
AFTER = datetime(2026, 11, 5, 12, 0, tzinfo=UTC)
# Published means and sds are rounded to 4 places.
TOLERANCE = 0.5e-4 + 1e-9
# The evidence of warning signs rounds means, sds and differences to 2 places.
EVIDENCE_TOLERANCE = 0.5e-2 + 1e-9
CellKey = tuple[str, str, str, str, str | None, str | None]  # pulse, dimension, scope, ...
# A comparison of a family: (rule, dimension, the segments compared), and its p-value.
Compared = tuple[tuple[str, str, tuple[str, ...]], float]
Weights = dict[str, int]  # respondent (external id) -> weight


# -- what the test knows ------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """One posted response: who answered what."""

    external_id: str
    pulse: str
    team: str
    scores: dict[str, float]
    role: str | None = None
    profession: str | None = None
    organisation: str | None = None

    def body(self) -> dict[str, Any]:
        item: dict[str, Any] = {
            "pulse": self.pulse,
            "team": self.team,
            "scores": self.scores,
            "external_id": self.external_id,
        }
        for name in ("role", "profession", "organisation"):
            if getattr(self, name) is not None:
                item[name] = getattr(self, name)
        return item


@dataclass(frozen=True)
class Structure:
    """Each team's place and each organisation's kind, as they stood at some time."""

    team_place: dict[str, str]
    organisation_kind: dict[str, str]


@dataclass(frozen=True)
class Cell:
    """A published cell, as read: where, what, and its numbers."""

    pulse: str
    dimension: str
    scope: str
    subject: str
    segment_type: str | None
    segment: str | None
    n: int
    mean: float
    sd: float | None

    def key(self) -> CellKey:
        return (
            self.pulse,
            self.dimension,
            self.scope,
            self.subject,
            self.segment_type,
            self.segment,
        )

    def label(self) -> str:
        segment = "" if self.segment_type is None else f" {self.segment_type}={self.segment}"
        return f"{self.scope} {self.subject}{segment} {self.dimension}: n={self.n}"


@dataclass(frozen=True)
class Evidence:
    """A group the evidence of a warning sign gives numbers of, and no published cell is over.

    Its weights may be negative (a place less a team) and span pulses (a pooled baseline).
    """

    dimension: str
    pulses: frozenset[str]
    weights: frozenset[tuple[str, int]]
    label: str


@dataclass
class Known:
    """Everything the test posted, every structure and response set it used, and k at close."""

    answers: dict[str, Answer] = field(default_factory=dict)
    structures: list[Structure] = field(default_factory=list)
    stored: list[frozenset[str]] = field(default_factory=list)
    k_at_close: dict[str, int] = field(default_factory=dict)
    read: set[Cell] = field(default_factory=set)
    evidence: dict[tuple[str, frozenset[tuple[str, int]]], Evidence] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)  # every warning sign read, as JSON
    indexes: dict[tuple[int, int], dict[CellKey, list[Answer]]] = field(default_factory=dict)

    def add_structure(self, structure: Structure) -> None:
        if structure not in self.structures:
            self.structures.append(structure)

    def add_stored(self, external_ids: frozenset[str]) -> None:
        if external_ids not in self.stored:
            self.stored.append(external_ids)

    def index(self, structure: Structure, stored: frozenset[str]) -> dict[CellKey, list[Answer]]:
        """The stored answers in each cell under a structure (worked out once)."""
        at = (self.structures.index(structure), self.stored.index(stored))
        if at not in self.indexes:
            cells: dict[CellKey, list[Answer]] = defaultdict(list)
            for external_id in sorted(stored):
                answer = self.answers[external_id]
                for key in cell_keys(answer, structure):
                    cells[key].append(answer)
            self.indexes[at] = dict(cells)
        return self.indexes[at]

    def candidates(self, key: CellKey) -> set[frozenset[str]]:
        """Every non-empty set of respondents a cell can be over, by structure and response set."""
        found = {
            frozenset(a.external_id for a in self.index(structure, stored).get(key, []))
            for structure in self.structures
            for stored in self.stored
        }
        return found - {frozenset()}


def role_group(role: str | None) -> str | None:
    if role is None:
        return None
    return "frontline" if role == "frontline" else "leaders"


def cell_keys(answer: Answer, structure: Structure) -> Iterator[CellKey]:
    """The cells an answer counts in under a structure (DESIGN section 5)."""
    segments = {
        "role_group": role_group(answer.role),
        "profession": answer.profession,
        "organisation_kind": structure.organisation_kind.get(answer.organisation or ""),
    }
    for dimension in answer.scores:
        for scope, subject in (("team", answer.team), ("place", structure.team_place[answer.team])):
            yield (answer.pulse, dimension, scope, subject, None, None)
            for segment_type, segment in segments.items():
                if segment is not None:
                    yield (answer.pulse, dimension, scope, subject, segment_type, segment)


def score(answer: Answer, dimension: str) -> Fraction:
    return Fraction(answer.scores[dimension]).limit_denominator(100)


def numbers_match(answers: list[Answer], cell: Cell) -> bool:
    scores = [score(a, cell.dimension) for a in answers]
    if len(scores) != cell.n or not scores:
        return False
    mean = sum(scores) / len(scores)
    if abs(float(mean) - cell.mean) > TOLERANCE:
        return False
    if len(scores) < 2:
        return cell.sd is None
    variance = sum((s - mean) ** 2 for s in scores) / (len(scores) - 1)
    return cell.sd is not None and abs(sqrt(variance) - cell.sd) <= TOLERANCE


def members(known: Known, cell: Cell) -> frozenset[str]:
    """The respondents a published cell is the aggregate of; fails if none or several fit."""
    fits = set()
    for structure in known.structures:
        for stored in known.stored:
            inside = known.index(structure, stored).get(cell.key(), [])
            if numbers_match(inside, cell):
                fits.add(frozenset(a.external_id for a in inside))
    assert fits, f"no set of posted responses gives the published {cell}"
    assert len(fits) == 1, f"the published {cell} fits several sets of respondents: {fits}"
    return fits.pop()


def linked(
    rows: list[tuple[frozenset[str], Row, str]],
) -> Iterator[tuple[frozenset[str], list[tuple[frozenset[str], Row, str]]]]:
    """Rows grouped by the pulses they tie together: a pooled baseline ties several."""
    groups: list[set[str]] = []
    for pulses, _, _ in rows:
        joined = set(pulses)
        for group in [g for g in groups if g & joined]:
            groups.remove(group)
            joined |= group
        groups.append(joined)
    for group in sorted(groups, key=sorted):
        yield frozenset(group), [row for row in rows if row[0] <= group]


def assert_nothing_isolated(known: Known) -> None:
    """Per pulse and dimension, no weighting of the numbers ever read isolates < k people.

    The numbers are the cells ever read and the groups of evidence no cell is over; evidence
    that pools pulses is checked with them together, under the largest of their k.
    """
    assert known.read, "something was published"
    rows: dict[str, list[tuple[frozenset[str], Row, str]]] = defaultdict(list)
    seen: set[tuple[str, str, frozenset[str]]] = set()
    for cell in sorted(known.read, key=repr):
        group = members(known, cell)
        if (cell.pulse, cell.dimension, group) not in seen:
            seen.add((cell.pulse, cell.dimension, group))
            rows[cell.dimension].append((frozenset({cell.pulse}), group, cell.label()))
    for evidence in sorted(known.evidence.values(), key=repr):
        weights = dict(evidence.weights)
        rows[evidence.dimension].append((evidence.pulses, weights, evidence.label))
    for dimension, listed in sorted(rows.items()):
        for pulses, part in linked(listed):
            k = max(known.k_at_close[pulse] for pulse in pulses)
            exposed = find_exposure([row for _, row, _ in part], k)
            if exposed is not None:
                who = sorted(
                    f"{a.pulse} {a.team} role={a.role} profession={a.profession}"
                    f" organisation={a.organisation}"
                    for a in (known.answers[str(e)] for e in exposed)
                )
                around = sorted(label for _, row, label in part if set(row) & exposed)
                raise AssertionError(
                    f"pulse {', '.join(sorted(pulses))}, {dimension}, k={k}: the published"
                    f" numbers isolate {len(exposed)} respondents {who} (weigh together some"
                    f" of: {around})"
                )


# -- reading everything -------------------------------------------------------------------


def pages(client: TestClient, headers: dict[str, str], url: str) -> Iterator[dict[str, Any]]:
    next_url: str | None = url
    while next_url:
        response = client.get(next_url, headers=headers)
        assert response.status_code == 200, response.text
        yield from response.json()["data"]
        next_url = response.json()["next"]


def published(
    row: dict[str, Any], pulse: str, dimension: str, scope: str, subject: str
) -> Cell | None:
    """The cell a score row shows, or None when it is suppressed."""
    if row["suppressed"]:
        assert row["mean"] is None and row["sd"] is None, row
        return None
    return Cell(
        pulse,
        dimension,
        scope,
        subject,
        row.get("segment_type"),
        row.get("segment"),
        row["n"],
        row["mean"],
        row["sd"],
    )


@dataclass(frozen=True)
class Moments:
    """Exact n, sum and sum of squares of a weighted group of answers."""

    n: int
    total: Fraction
    total_sq: Fraction

    @property
    def mean(self) -> Fraction:
        return self.total / self.n

    @property
    def variance(self) -> Fraction | None:
        if self.n < 2:
            return None
        return max(Fraction(0), (self.total_sq - self.total * self.total / self.n) / (self.n - 1))

    @property
    def sd(self) -> float | None:
        variance = self.variance
        return None if variance is None else sqrt(variance)


def moments(known: Known, weights: Weights, dimension: str) -> Moments:
    n, total, total_sq = 0, Fraction(0), Fraction(0)
    for person, weight in weights.items():
        value = score(known.answers[person], dimension)
        n, total, total_sq = n + weight, total + weight * value, total_sq + weight * value**2
    return Moments(n, total, total_sq)


def combine(parts: Iterable[tuple[int, Iterable[str]]]) -> Weights:
    """The weighted sum of some sets of respondents."""
    out: Weights = defaultdict(int)
    for weight, people in parts:
        for person in people:
            out[person] += weight
    return {person: weight for person, weight in out.items() if weight}


@dataclass
class Reading:
    """One pass over everything published: what the warning signs of that pass are read from."""

    known: Known
    closed: list[str] = field(default_factory=list)  # closed pulses, in the order they opened
    enabled: dict[str, bool] = field(default_factory=dict)  # rule -> whether it runs
    cells: dict[CellKey, Cell] = field(default_factory=dict)
    participation: dict[tuple[str, str], int] = field(default_factory=dict)  # pulse, team
    team_place: dict[tuple[str, str], str] = field(default_factory=dict)  # pulse, team
    flags: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # pulse -> flags
    vectors: dict[CellKey, frozenset[str]] = field(default_factory=dict)
    families: dict[tuple[str, str, str], list[Compared]] = field(default_factory=dict)
    rules: dict[str, dict[str, Any]] = field(default_factory=dict)  # rule -> settings

    def add(self, cell: Cell) -> None:
        known = self.cells.setdefault(cell.key(), cell)
        assert (known.n, known.mean, known.sd) == (cell.n, cell.mean, cell.sd), (known, cell)

    def members(self, key: CellKey) -> frozenset[str] | None:
        """The respondents of the cell published under a key in this pass, if it is."""
        cell = self.cells.get(key)
        if cell is None:
            return None
        if key not in self.vectors:
            self.vectors[key] = members(self.known, cell)
        return self.vectors[key]

    def group(self, parts: list[tuple[int, CellKey]]) -> Moments | None:
        """A weighted sum of cells published in this pass; None if one is not, or no parts."""
        served = [(weight, self.members(key)) for weight, key in parts]
        if not served or any(people is None for _, people in served):
            return None
        return moments(self.known, combine((w, p or ()) for w, p in served), parts[0][1][1])


def read_everything(client: TestClient, headers: dict[str, str], known: Known) -> None:
    """Every published cell of the score endpoints (every team, place, pulse) and the feed,
    and every warning sign of every pulse, from the endpoint and the feed, checked."""
    reading = Reading(known)
    cells: list[Cell | None] = []
    subjects = [("team", t["code"]) for t in pages(client, headers, "/v1/teams?limit=1000")]
    subjects += [("place", p["code"]) for p in pages(client, headers, "/v1/places?limit=1000")]
    for scope, code in subjects:
        for entry in pages(client, headers, f"/v1/{scope}s/{code}/scores?limit=100"):
            if scope == "team":
                responses = entry["participation"]["responses"]
                reading.participation[(entry["pulse"], code)] = responses
            for d in entry["dimensions"]:
                where = (entry["pulse"], d["dimension"], scope, code)
                cells.append(published(d, *where))
                cells += [published(part, *where) for part in d["breakdowns"]]
    for row in pages(client, headers, "/v1/feeds/scores?limit=1000"):
        subject = row["team"] if row["scope"] == "team" else row["place"]
        cells.append(published(row, row["pulse"], row["dimension"], row["scope"], subject))
        if row["scope"] == "team" and row["segment_type"] is None and not row["suppressed"]:
            reading.team_place[(row["pulse"], row["team"])] = row["place"]
    shown = [cell for cell in cells if cell is not None]
    known.read |= set(shown)
    for cell in shown:
        reading.add(cell)
    read_warning_signs(client, headers, reading)


def read_warning_signs(client: TestClient, headers: dict[str, str], reading: Reading) -> None:
    """Every warning sign of every pulse, from the endpoint and the feed, each checked."""
    pulses = list(pages(client, headers, "/v1/pulses?limit=1000"))
    pulses.sort(key=lambda p: (p["opens_on"], p["key"]))
    reading.closed = [p["key"] for p in pulses if p["status"] == "closed"]
    rules = call(client, "GET", "/v1/rules", headers, None)["rules"]
    reading.enabled = {name: settings["enabled"] for name, settings in rules.items()}
    reading.rules = rules
    listed: list[dict[str, Any]] = []
    for pulse in pulses:
        url = f"/v1/warning-signs?pulse={pulse['key']}&limit=50"
        for flag in pages(client, headers, url):
            assert flag["pulse"] == pulse["key"], flag
            listed.append(flag)
    listed += pages(client, headers, "/v1/feeds/warning-signs?limit=1000")
    distinct: dict[str, dict[str, Any]] = {}
    for flag in listed:
        shown = {name: flag[name] for name in FLAG_FIELDS}
        distinct[json.dumps(shown, sort_keys=True)] = shown
    for flag in distinct.values():
        reading.flags.setdefault(flag["pulse"], []).append(flag)
    for text, flag in sorted(distinct.items()):
        check_flag(reading, flag)
        reading.known.flags.add(text)


# -- the evidence of warning signs --------------------------------------------------------

FLAG_FIELDS = (
    *("id", "rule", "severity", "scope", "pulse", "place", "team", "dimension"),
    *("message", "evidence"),
)
COMPARED = {"p", "p_adjusted", "comparisons", "test", "alternative", "statistic", "df"}
COMPARED |= {"method", "alpha"}
# Thresholds of the rule in force, by their rulebook names: settings, no scores.
THRESHOLDS: dict[str, tuple[str, ...]] = {
    "low_score": ("amber_below", "red_below"),
    "polarised": ("amber_sd", "red_sd"),
    "falling": ("amber_fall", "red_fall"),
    "sustained_decline": ("amber_fall", "red_fall"),
    "hierarchy_gap": ("amber_gap", "red_gap"),
    "partner_divide": ("amber_gap", "red_gap"),
    "below_place": ("amber_gap", "red_gap"),
    "low_participation": ("amber_ratio", "red_ratio"),
    "insufficient_responses": (),
    "gone_quiet": (),
    "spreading": ("amber_share", "red_share"),
}
# What each rule's evidence holds (DESIGN section 4); a field not listed fails the test,
# which must then be taught which respondents it covers.
EVIDENCE: dict[str, set[str]] = {
    "low_score": {"n", "mean", "sd"},
    "polarised": {"n", "mean", "sd"},
    "falling": {"n", "mean", "sd", "baseline_pulses", "baseline_n", "baseline_mean"}
    | {"baseline_sd", "fall"}
    | COMPARED,
    "sustained_decline": {"pulses", "n", "means", "sds", "fall"} | COMPARED,
    "hierarchy_gap": {"groups", "n", "means", "sds", "gap"} | COMPARED,
    "partner_divide": {"groups", "n", "means", "sds", "gap"} | COMPARED,
    "below_place": {"n", "mean", "sd", "rest_n", "rest_mean", "rest_sd", "shortfall"} | COMPARED,
    "low_participation": {"responses", "headcount", "ratio"},
    "insufficient_responses": {"responses", "min_group_size"},
    "gone_quiet": {"responses", "previous_pulse"},
    "spreading": {"flagged_teams", "reportable_teams", "share", "teams"},
}
for _rule, _names in THRESHOLDS.items():
    EVIDENCE[_rule] |= {*_names, "related"}
# Directional rules are tested one-sided (only a fall or a shortfall counts).
ONE_SIDED = {"falling", "sustained_decline", "below_place"}
EVERYONE_ELSE = "everyone_else"  # the rest of a subject beside its one published segment
ADOPTION = {"adoption_window", "formed_on"}  # a team's formation date: structure, no scores
COMPARISONS = ("falling", "sustained_decline", "hierarchy_gap", "partner_divide", "below_place")
MIN_COMPARISONS = 5  # a family is adjusted as if it held at least the five dimensions
BASELINE_PULSES = 3  # falling pools up to three earlier pulses the subject was published in
EARLIER = 4  # of the four closed pulses before it (a sustained decline spans four)


def fits(group: Moments, n: int, mean: float | None, sd: float | None) -> bool:
    """Whether a group has the n, and to two places the mean and sd, that evidence shows."""
    if group.n != n or n <= 0:
        return False
    if mean is not None and abs(float(group.mean) - mean) > EVIDENCE_TOLERANCE:
        return False
    return sd is None or (group.sd is not None and abs(group.sd - sd) <= EVIDENCE_TOLERANCE)


def describe(flag: dict[str, Any]) -> str:
    subject = flag["team"] if flag["scope"] == "team" else flag["place"]
    dimension = f" {flag['dimension']}" if flag["dimension"] else ""
    return f"{flag['rule']} of {flag['scope']} {subject} in {flag['pulse']}{dimension}"


def subject_key(flag: dict[str, Any], pulse: str | None = None, *segment: str) -> CellKey:
    """The key of a flag's subject (whole, or one segment) in its pulse or another."""
    subject = flag["team"] if flag["scope"] == "team" else flag["place"]
    segment_type, name = segment if segment else (None, None)
    return (pulse or flag["pulse"], flag["dimension"], flag["scope"], subject, segment_type, name)


def cite(
    reading: Reading,
    flag: dict[str, Any],
    what: str,
    parts: list[tuple[int, CellKey]],
    n: int,
    mean: float | None,
    sd: float | None = None,
) -> Moments:
    """The group a number of evidence is over: published cells, or new equations.

    ``parts`` says what the group should be (weighted cells: a place less a team, a team
    over several pulses). When the cells published in this pass under those keys give the
    evidence's numbers, the group is their combination and adds nothing. Otherwise the test
    looks for the one weighted set of respondents it can name that gives them: the checker
    weighs it as a new row. If none or several fit, the test cannot tell what is given away.
    """
    known, dimension = reading.known, parts[0][1][1]
    served = reading.group(parts)
    if served is not None and fits(served, n, mean, sd):
        return served
    options = [sorted(known.candidates(key), key=sorted) for _, key in parts]
    found = {
        frozenset(combine(zip([w for w, _ in parts], choice, strict=True)).items())
        for choice in product(*options)
    }
    fitting = [g for g in found if fits(moments(known, dict(g), dimension), n, mean, sd)]
    label = f"{describe(flag)}: {what} (n={n}, mean={mean}, sd={sd})"
    assert fitting, (
        f"the evidence of {label} matches no published cell of this pass and no set of"
        " respondents the test can name: it cannot tell which respondents the number covers"
    )
    assert len(fitting) == 1, (
        f"the evidence of {label} matches no published cell of this pass and fits several"
        f" sets of respondents: {sorted(sorted(g) for g in fitting)}"
    )
    pulses = frozenset(key[0] for _, key in parts)
    known.evidence.setdefault(
        (dimension, fitting[0]), Evidence(dimension, pulses, fitting[0], label)
    )
    return moments(known, dict(fitting[0]), dimension)


def welch(a: Moments, b: Moments, one_sided: bool = False) -> tuple[float, float | None, float]:
    """Welch's t-test of two groups: p, t and df; one-sided, the evidence that a is above b."""
    va, vb = a.variance, b.variance
    if va is None or vb is None:
        return 1.0, None, 0.0
    se_a, se_b = va / a.n, vb / b.n
    se2 = se_a + se_b
    if se2 == 0:
        df0 = float(a.n + b.n - 2)
        if a.mean == b.mean:
            return 1.0, 0.0, df0
        return (0.0 if not one_sided or a.mean > b.mean else 1.0), None, df0
    t = float(a.mean - b.mean) / sqrt(se2)
    df = float(se2 * se2 / (se_a * se_a / (a.n - 1) + se_b * se_b / (b.n - 1)))
    if one_sided:
        return min(1.0, float(special.stdtr(df, -t))), t, df
    return min(1.0, 2.0 * float(special.stdtr(df, -abs(t)))), t, df


def welch_p(a: Moments, b: Moments, one_sided: bool = False) -> float:
    """The p-value of ``welch``."""
    return welch(a, b, one_sided)[0]


def holm(pvalues: list[float], at_least: int) -> list[float]:
    """Holm's step-down adjusted p-values over a family of at least ``at_least``."""
    m = max(len(pvalues), at_least)
    adjusted = [0.0] * len(pvalues)
    running = 0.0
    for rank, index in enumerate(sorted(range(len(pvalues)), key=lambda i: pvalues[i])):
        running = max(running, min(1.0, (m - rank) * pvalues[index]))
        adjusted[index] = running
    return adjusted


def same_p(mine: float, shown: float) -> bool:
    """A p-value against one shown to three significant figures."""
    return abs(mine - shown) <= 5e-3 * max(abs(mine), abs(shown)) + 1e-12


def near(exact: Fraction | float, shown: float) -> bool:
    return abs(float(exact) - shown) <= EVIDENCE_TOLERANCE


def family(reading: Reading, pulse: str, scope: str, subject: str, place: str) -> list[Compared]:
    """Every comparison the published cells of a subject allow in a pulse, with its p-value.

    DESIGN section 4: against the baseline pooled from up to three earlier pulses in which
    the subject was published; the first of four falling pulses in a row against the last;
    leaders against frontline; each pair of organisation kinds of a place; a team against
    the rest of its place. All read from the cells published in this pass.
    """
    if (pulse, scope, subject) in reading.families:
        return reading.families[(pulse, scope, subject)]
    out: list[Compared] = []
    earlier = reading.closed[: reading.closed.index(pulse)][-EARLIER:]
    on = reading.enabled
    for dimension in DIMENSIONS:
        key: CellKey = (pulse, dimension, scope, subject, None, None)
        whole = reading.group([(1, key)])
        if whole is None:
            continue
        shown = [q for q in earlier if reading.members((q, *key[1:])) is not None]
        pooled = shown[-BASELINE_PULSES:]
        baseline = reading.group([(1, (q, *key[1:])) for q in pooled])
        if on["falling"] and baseline is not None:
            out.append((("falling", dimension, ()), welch_p(baseline, whole, True)))
        run = [reading.group([(1, (q, *key[1:]))]) for q in earlier[-3:]]
        series = [m for m in run if m is not None] + [whole]
        tolerance = Fraction(1, 10**9)
        # Four published pulses make a comparison of the family whether or not each fell:
        # which comparisons count must not depend on the scores.
        if on["sustained_decline"] and len(earlier) >= 3 and len(series) == 4:
            falls = all(later.mean < before.mean - tolerance for before, later in pairwise(series))
            p = welch_p(series[0], whole, True) if falls else 1.0
            out.append((("sustained_decline", dimension, ()), p))
        leaders = reading.group([(1, (*key[:4], "role_group", "leaders"))])
        frontline = reading.group([(1, (*key[:4], "role_group", "frontline"))])
        if on["hierarchy_gap"] and leaders is not None and frontline is not None:
            groups = ("leaders", "frontline")
            out.append((("hierarchy_gap", dimension, groups), welch_p(leaders, frontline)))
        elif on["hierarchy_gap"]:
            # One of them withheld: the other against the rest of the subject (the subject
            # less the published segment), never against the withheld cell.
            for segment, group in (("leaders", leaders), ("frontline", frontline)):
                cut = (1, (*key[:4], "role_group", segment))
                rest = reading.group([(1, key), (-1, cut[1])])
                if group is not None and rest is not None and rest.n >= 2:
                    pair = (segment, EVERYONE_ELSE)
                    out.append((("hierarchy_gap", dimension, pair), welch_p(group, rest)))
                    break
        if scope == "place" and on["partner_divide"]:
            kinds = sorted(
                kind
                for (*where, kind) in reading.cells
                if tuple(where) == (*key[:4], "organisation_kind") and kind is not None
            )
            for a, b in combinations(kinds, 2):
                ga = reading.group([(1, (*key[:4], "organisation_kind", a))])
                gb = reading.group([(1, (*key[:4], "organisation_kind", b))])
                assert ga is not None and gb is not None
                out.append((("partner_divide", dimension, (a, b)), welch_p(ga, gb)))
            if len(kinds) == 1:
                cut: CellKey = (*key[:4], "organisation_kind", kinds[0])
                ga, rest = reading.group([(1, cut)]), reading.group([(1, key), (-1, cut)])
                if ga is not None and rest is not None and rest.n >= 2:
                    pair = (kinds[0], EVERYONE_ELSE)
                    out.append((("partner_divide", dimension, pair), welch_p(ga, rest)))
        if scope == "team" and on["below_place"]:
            rest = reading.group([(1, (pulse, dimension, "place", place, None, None)), (-1, key)])
            if rest is not None and rest.n >= 2:
                out.append((("below_place", dimension, ()), welch_p(rest, whole, True)))
    reading.families[(pulse, scope, subject)] = out
    return out


def check_comparison(
    reading: Reading, flag: dict[str, Any], groups: tuple[str, ...], a: Moments, b: Moments
) -> None:
    """The p-value from the two groups cited, the adjusted one from the subject's family."""
    evidence, label = flag["evidence"], describe(flag)
    one_sided = flag["rule"] in ONE_SIDED
    assert evidence["alternative"] == ("one-sided" if one_sided else "two-sided"), flag
    assert (evidence["test"], evidence["method"]) == ("welch_t", "holm"), flag
    p, t, df = welch(a, b, one_sided)
    assert same_p(p, evidence["p"]), (
        f"the p-value of {label} ({evidence['p']}) is not that of the groups its evidence"
        f" cites ({p}): it reads numbers of some other group"
    )
    assert (t is None) == (evidence["statistic"] is None), flag
    if t is not None:
        assert abs(t - evidence["statistic"]) <= 5e-4 + 1e-9, f"{label}: t is not {t}"
    assert abs(df - evidence["df"]) <= 0.05 + 1e-9, f"{label}: df is not {df}"
    subject = flag["team"] if flag["scope"] == "team" else flag["place"]
    made = family(reading, flag["pulse"], flag["scope"], subject, flag["place"])
    names = [name for name, _ in made]
    me = (flag["rule"], flag["dimension"], groups)
    assert me in names, (
        f"{label} compares groups the published cells of this pass do not allow: {names}"
    )
    adjusted = holm([p for _, p in made], MIN_COMPARISONS)[names.index(me)]
    assert evidence["comparisons"] == max(len(made), MIN_COMPARISONS), (
        f"{label}: a family of {evidence['comparisons']} comparisons, but the published cells"
        f" allow {names}: some comparison reads cells that are not published"
    )
    assert same_p(adjusted, evidence["p_adjusted"]), (
        f"the adjusted p-value of {label} ({evidence['p_adjusted']}) is not reproduced from"
        f" the comparisons the published cells allow ({adjusted}, of {names}): it depends"
        " on numbers that are not published"
    )


def check_flag(reading: Reading, flag: dict[str, Any]) -> None:
    """Match every number a warning sign shows to published numbers or to named respondents."""
    rule, evidence, label = flag["rule"], flag["evidence"], describe(flag)
    assert rule in EVIDENCE, f"{label}: the test does not know which respondents it covers"
    given = set(evidence) - ADOPTION
    assert given == EVIDENCE[rule], (
        f"{label}: evidence fields {sorted(given ^ EVIDENCE[rule])} are not the ones the test"
        " knows which respondents they cover"
    )
    settings = reading.rules.get(rule, {})
    for name in THRESHOLDS[rule]:
        assert evidence[name] == settings[name], f"{label}: {name} is not the rule's"
    if "alpha" in evidence:
        assert evidence["alpha"] == 0.05, flag
    check_related(reading, flag)
    CHECKS[rule](reading, flag)
    check_message(flag)


def check_related(reading: Reading, flag: dict[str, Any]) -> None:
    """Related flags: the other flags of the same subject, pulse and dimension."""
    same = {
        other["id"]
        for other in reading.flags.get(flag["pulse"], [])
        if (other["scope"], other["place"], other["team"], other["dimension"])
        == (flag["scope"], flag["place"], flag["team"], flag["dimension"])
        and other["id"] != flag["id"]
    }
    assert flag["evidence"]["related"] == sorted(same), f"{describe(flag)}: related {same}"


def check_level(reading: Reading, flag: dict[str, Any]) -> None:
    evidence, whole = flag["evidence"], subject_key(flag)
    n, mean, sd = evidence["n"], evidence["mean"], evidence["sd"]
    cite(reading, flag, "its mean and sd", [(1, whole)], n, mean, sd)


def check_falling(reading: Reading, flag: dict[str, Any]) -> None:
    evidence = flag["evidence"]
    now = cite(
        reading,
        flag,
        "its mean",
        [(1, subject_key(flag))],
        evidence["n"],
        evidence["mean"],
        evidence["sd"],
    )
    pooled = evidence["baseline_pulses"]
    before = reading.closed[: reading.closed.index(flag["pulse"])]
    assert pooled and set(pooled) <= set(before), f"{describe(flag)}: baseline of {pooled}"
    parts = [(1, subject_key(flag, pulse)) for pulse in pooled]
    baseline = cite(
        reading,
        flag,
        "its baseline",
        parts,
        evidence["baseline_n"],
        evidence["baseline_mean"],
        evidence["baseline_sd"],
    )
    assert near(baseline.mean - now.mean, evidence["fall"]), flag
    check_comparison(reading, flag, (), baseline, now)


def check_decline(reading: Reading, flag: dict[str, Any]) -> None:
    evidence = flag["evidence"]
    pulses, ns, means, sds = evidence["pulses"], evidence["n"], evidence["means"], evidence["sds"]
    assert len(pulses) == len(ns) == len(means) == 4 and pulses[-1] == flag["pulse"], flag
    series = [
        cite(reading, flag, f"its mean in {pulse}", [(1, subject_key(flag, pulse))], n, mean, sd)
        for pulse, n, mean, sd in zip(pulses, ns, means, sds, strict=True)
    ]
    assert near(series[0].mean - series[-1].mean, evidence["fall"]), flag
    check_comparison(reading, flag, (), series[0], series[-1])


def check_gap(reading: Reading, flag: dict[str, Any]) -> None:
    evidence = flag["evidence"]
    segment_type = "role_group" if flag["rule"] == "hierarchy_gap" else "organisation_kind"
    groups = evidence["groups"]
    published = next(g for g in groups if g != EVERYONE_ELSE)

    def parts(segment: str) -> list[tuple[int, CellKey]]:
        if segment == EVERYONE_ELSE:  # the subject less the other, published, segment
            cut = subject_key(flag, None, segment_type, published)
            return [(1, subject_key(flag)), (-1, cut)]
        return [(1, subject_key(flag, None, segment_type, segment))]

    a, b = (
        cite(reading, flag, f"its {segment}", parts(segment), n, mean, sd)
        for segment, n, mean, sd in zip(
            groups, evidence["n"], evidence["means"], evidence["sds"], strict=True
        )
    )
    assert near(abs(a.mean - b.mean), evidence["gap"]), flag
    check_comparison(reading, flag, tuple(evidence["groups"]), a, b)


def check_below_place(reading: Reading, flag: dict[str, Any]) -> None:
    evidence, whole = flag["evidence"], subject_key(flag)
    team = cite(
        reading, flag, "its mean", [(1, whole)], evidence["n"], evidence["mean"], evidence["sd"]
    )
    place: CellKey = (flag["pulse"], flag["dimension"], "place", flag["place"], None, None)
    rest = cite(
        reading,
        flag,
        "the rest of its place",
        [(1, place), (-1, whole)],
        evidence["rest_n"],
        evidence["rest_mean"],
        evidence["rest_sd"],
    )
    assert near(rest.mean - team.mean, evidence["shortfall"]), flag
    check_comparison(reading, flag, (), rest, team)


def check_participation(reading: Reading, flag: dict[str, Any]) -> None:
    """Counts of responses: the participation the team's scores show, no scores at all."""
    evidence, pulse, team = flag["evidence"], flag["pulse"], flag["team"]
    responses = reading.participation.get((pulse, team))
    assert responses is not None and evidence["responses"] == responses, (
        f"{describe(flag)} counts {evidence['responses']} responses, the team's scores {responses}"
    )
    if flag["rule"] == "insufficient_responses":
        assert evidence["min_group_size"] == reading.known.k_at_close[pulse], flag
        assert 1 <= responses < evidence["min_group_size"], flag
    if flag["rule"] == "low_participation":
        assert evidence["ratio"] == round(responses / evidence["headcount"], 4), flag
        quiet = [
            f
            for f in reading.flags.get(pulse, [])
            if (f["rule"], f["team"]) == ("gone_quiet", team)
        ]
        assert not quiet, f"{describe(flag)}: gone_quiet replaces it"
    if flag["rule"] == "gone_quiet":
        previous = reading.closed[reading.closed.index(pulse) - 1]
        assert responses == 0 and evidence["previous_pulse"] == previous, flag
        assert (previous, team) in reading.team_place, f"{describe(flag)}: not reportable before"


def check_spreading(reading: Reading, flag: dict[str, Any]) -> None:
    """Counts of teams: those published in the pulse, and those of them with amber or red."""
    evidence, pulse, place = flag["evidence"], flag["pulse"], flag["place"]
    reportable = {t for (p, t), at in reading.team_place.items() if (p, at) == (pulse, place)}
    flagged = {
        f["team"]
        for f in reading.flags.get(pulse, [])
        if f["scope"] == "team" and f["severity"] != "info" and f["team"] in reportable
    }
    assert (evidence["flagged_teams"], evidence["reportable_teams"]) == (
        len(flagged),
        len(reportable),
    ), f"{describe(flag)}: {sorted(flagged)} of {sorted(reportable)} teams"
    assert evidence["share"] == round(len(flagged) / len(reportable), 4), flag
    assert evidence["teams"] == sorted(flagged), flag


CHECKS = {
    "low_score": check_level,
    "polarised": check_level,
    "falling": check_falling,
    "sustained_decline": check_decline,
    "hierarchy_gap": check_gap,
    "partner_divide": check_gap,
    "below_place": check_below_place,
    "low_participation": check_participation,
    "insufficient_responses": check_participation,
    "gone_quiet": check_participation,
    "spreading": check_spreading,
}
# Words of messages with numbers in them that no evidence gives: pulse keys, dates, and
# what the adoption window says of every team.
FIXED = re.compile(r"\d{4}-\d{2}(-\d{2})?|take 6 to 12 months to adopt")


def flat(value: Any) -> Iterator[float]:
    if isinstance(value, bool):
        return
    if isinstance(value, int | float):
        yield float(value)
    elif isinstance(value, list):
        for item in value:
            yield from flat(item)


def check_message(flag: dict[str, Any]) -> None:
    """Every number in a flag's message is a number of its evidence, rounded."""
    text, evidence = FIXED.sub(" ", flag["message"]), flag["evidence"]
    if "p<0.001" in text:
        assert evidence["p_adjusted"] < 0.001, flag
        text = text.replace("p<0.001", " ")
    shown = [number for value in evidence.values() for number in flat(value)]
    for match in re.finditer(r"(\d+(?:\.(\d+))?)(%?)", text):
        number, decimals, percent = float(match[1]), len(match[2] or ""), bool(match[3])
        scale, slack = (100, 0.51) if percent else (1, 0.5 * 10**-decimals + EVIDENCE_TOLERANCE)
        assert any(abs(number - scale * value) <= slack for value in shown), (
            f"{describe(flag)}: the message cites {match[0]}, which is none of its evidence"
            f" {evidence}: '{flag['message']}'"
        )


# -- building a world through the API ----------------------------------------------------


def call(client: TestClient, method: str, path: str, headers: dict[str, str], body: Any) -> Any:
    response = client.request(method, path, json=body, headers=headers)
    assert response.status_code in (200, 201), response.text
    return response.json()


@dataclass
class Attack:
    """A system the test sets up and changes through the API, remembering what it did."""

    client: TestClient
    admin: dict[str, str]
    clock: Clock
    known: Known = field(default_factory=Known)
    team_place: dict[str, str] = field(default_factory=dict)
    organisation_kind: dict[str, str] = field(default_factory=dict)
    rng: random.Random = field(default_factory=lambda: random.Random(11))

    def structure(self, teams: dict[str, str], organisations: dict[str, str]) -> None:
        """Places, organisations (code -> kind), teams (code -> place) and the pulse."""
        for kind_code, kind in organisations.items():
            body = {"code": kind_code, "name": kind_code, "kind": kind}
            call(self.client, "POST", "/v1/organisations", self.admin, body)
        host = next(iter(organisations))
        for place in sorted(set(teams.values())):
            call(self.client, "POST", "/v1/places", self.admin, {"code": place, "name": place})
        for team, place in teams.items():
            body = {"code": team, "name": team, "place": place, "host_organisation": host}
            call(self.client, "POST", "/v1/teams", self.admin, body)
        body = {"key": PULSE, "title": PULSE, "opens_on": "2026-10-01", "closes_on": "2026-10-31"}
        call(self.client, "POST", "/v1/pulses", self.admin, body)
        self.team_place.update(teams)
        self.organisation_kind.update(organisations)
        self.remember_structure()

    def remember_structure(self) -> None:
        self.known.add_structure(Structure(dict(self.team_place), dict(self.organisation_kind)))

    def answers(self, team: str, count: int, **attributes: str) -> None:
        """``count`` respondents of a team with these attributes, each scoring at random."""
        for _ in range(count):
            scores = {d: self.rng.choice([1, 1.5, 2, 2.75, 3, 3.5, 4, 4.25, 5]) for d in DIMENSIONS}
            answer = Answer(f"r{len(self.known.answers)}", PULSE, team, scores, **attributes)
            self.known.answers[answer.external_id] = answer

    def post_and_close(self) -> None:
        """Post every answer while the pulse is open, then let it close under the k in force."""
        self.clock.now = DURING
        items = [a.body() for a in self.known.answers.values()]
        call(self.client, "POST", "/v1/responses/batch", self.admin, {"responses": items})
        self.known.add_stored(frozenset(self.known.answers))
        self.clock.now = AFTER
        system = call(self.client, "GET", "/v1/system", self.admin, None)
        self.known.k_at_close[PULSE] = system["min_group_size"]

    def read(self) -> None:
        read_everything(self.client, self.admin, self.known)

    def patch(self, path: str, body: dict[str, Any]) -> None:
        call(self.client, "PATCH", path, self.admin, body)

    def erase(self, external_id: str) -> None:
        listed = call(
            self.client, "GET", f"/v1/responses?external_id={external_id}", self.admin, None
        )["data"]
        assert len(listed) == 1, listed
        response = self.client.delete(f"/v1/responses/{listed[0]['id']}", headers=self.admin)
        assert response.status_code == 204, response.text
        remaining = self.known.stored[-1] - {external_id}
        self.known.add_stored(remaining)


@pytest.fixture
def attack(client: TestClient, tenant: Tenant, clock: Clock) -> Attack:
    return Attack(client, tenant.admin, clock)


# -- the attacks --------------------------------------------------------------------------


def test_crossed_role_and_profession_do_not_give_away_two_people(attack: Attack) -> None:
    # The worked example of section 3.3: frontline - nursing is B - C, and so on squares.
    attack.structure({"crossed": "riverside", "steady": "riverside"}, {"trust": "nhs_trust"})
    attack.answers("crossed", 5, role="frontline", profession="nursing")
    attack.answers("crossed", 1, role="frontline", profession="social_work")  # B
    attack.answers("crossed", 1, role="team_lead", profession="nursing")  # C
    attack.answers("crossed", 5, role="manager", profession="social_work")
    attack.answers("steady", 8, role="frontline")
    attack.post_and_close()

    attack.read()

    assert_nothing_isolated(attack.known)


def test_moving_a_team_of_one_to_another_place_does_not_give_it_away(attack: Attack) -> None:
    attack.structure(
        {"north-1": "north", "solo": "north", "south-1": "south"}, {"trust": "nhs_trust"}
    )
    attack.answers("north-1", 8)
    attack.answers("solo", 1)
    attack.answers("south-1", 8)
    attack.post_and_close()
    attack.read()
    assert_nothing_isolated(attack.known)  # the first publication alone is safe

    attack.patch("/v1/teams/solo", {"place": "south"})
    attack.team_place["solo"] = "south"
    attack.remember_structure()
    attack.read()

    assert_nothing_isolated(attack.known)


def test_correcting_an_organisation_kind_does_not_give_away_its_one_employee(
    attack: Attack,
) -> None:
    attack.structure(
        {"mixed": "hillcrest"},
        {"trust": "nhs_trust", "council": "local_authority", "acute": "other"},
    )
    attack.answers("mixed", 6, organisation="trust")
    attack.answers("mixed", 6, organisation="council")
    attack.answers("mixed", 1, organisation="acute")
    attack.post_and_close()
    attack.read()
    assert_nothing_isolated(attack.known)  # the first publication alone is safe

    attack.patch("/v1/organisations/acute", {"kind": "nhs_trust"})
    attack.organisation_kind["acute"] = "nhs_trust"
    attack.remember_structure()
    attack.read()

    assert_nothing_isolated(attack.known)


def test_erasing_a_response_does_not_give_it_away(attack: Attack) -> None:
    attack.structure({"six": "old-town"}, {"trust": "nhs_trust"})
    attack.answers("six", 6)
    attack.post_and_close()
    attack.read()
    assert_nothing_isolated(attack.known)  # the first publication alone is safe

    attack.erase("r0")
    attack.read()

    assert_nothing_isolated(attack.known)


def test_lowering_k_and_raising_it_again_does_not_publish_below_the_k_of_the_close(
    attack: Attack,
) -> None:
    attack.structure({"four": "marsh-end", "nine": "marsh-end"}, {"trust": "nhs_trust"})
    attack.answers("four", 4)
    attack.answers("nine", 6, role="frontline")
    attack.answers("nine", 3, role="manager")
    attack.post_and_close()
    attack.read()
    assert_nothing_isolated(attack.known)  # the first publication alone is safe

    for k in (3, 5):
        attack.patch("/v1/system", {"min_group_size": k})
        attack.read()

    assert attack.known.k_at_close[PULSE] == 5
    assert_nothing_isolated(attack.known)


# -- the demo -----------------------------------------------------------------------------


def demo_known(db: Session, system_id: int) -> Known:
    """The demo's responses, structure and k, from the database."""
    known = Known()
    team_place = dict(
        db.execute(
            select(Team.code, Place.code)
            .join(Place, Place.id == Team.place_id)
            .where(Team.system_id == system_id)
        ).all()
    )
    kinds = dict(
        db.execute(
            select(Organisation.code, Organisation.kind).where(Organisation.system_id == system_id)
        ).all()
    )
    known.add_structure(Structure(team_place, kinds))
    rows = db.execute(
        select(StoredResponse, Pulse.key, Team.code, Organisation.code)
        .join(Pulse, Pulse.id == StoredResponse.pulse_id)
        .join(Team, Team.id == StoredResponse.team_id)
        .outerjoin(Organisation, Organisation.id == StoredResponse.organisation_id)
        .where(StoredResponse.system_id == system_id)
    )
    for response, pulse, team, organisation in rows:
        scores = {
            d: getattr(response, d) / SCORE_SCALE
            for d in DIMENSIONS
            if getattr(response, d) is not None
        }
        answer = Answer(
            str(response.id), pulse, team, scores, response.role, response.profession, organisation
        )
        known.answers[answer.external_id] = answer
    known.add_stored(frozenset(known.answers))
    return known


def test_nothing_the_demo_publishes_isolates_a_small_group(
    client: TestClient, db: Session, clock: Clock
) -> None:
    system = build_demo(db, "demo", clock.now)
    db.flush()
    headers = {"Authorization": f"Bearer {make_key(db, system)}"}
    known = demo_known(db, system.id)
    for pulse in db.scalars(select(Pulse.key).where(Pulse.system_id == system.id)):
        known.k_at_close[pulse] = system.min_group_size

    read_everything(client, headers, known)

    assert {cell.pulse for cell in known.read} == set(known.k_at_close)
    assert known.flags, "the demo's warning signs were read and their evidence matched"
    assert_nothing_isolated(known)
