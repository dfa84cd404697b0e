"""The red team's attacks, rebuilt through the API: no weighting of what was ever published
isolates fewer than k people (DESIGN section 3.3 and 3.4).

Each test knows every response it posted, scores and attributes. It reads everything the
API publishes, before and after the change an attack makes: the scores of every team and
place (all pulses) and every page of the score feed. Each published cell (n, mean, sd) is
matched to the set of respondents it must be the aggregate of, under one of the structures
and response sets the test has used; then, per pulse and dimension, the union of every
cell ever read goes to the independent checker with the k in force when the pulse closed.

The tests assume neither that a closed pulse's numbers change after an edit nor that they
stay: only that nothing in the union isolates a small group, and that each number read is
the aggregate of some set of respondents the test can name.
"""

import random
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fractions import Fraction
from math import sqrt
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import SCORE_SCALE, Organisation, Place, Pulse, Team
from app.models import Response as StoredResponse
from app.services.demo import build_demo
from app.vocab import DIMENSIONS
from tests.api.conftest import Tenant
from tests.builders import make_key
from tests.conftest import Clock
from tests.disclosure_checker import find_exposure

PULSE = "2026-10"
DURING = datetime(2026, 10, 15, 12, 0, tzinfo=UTC)
AFTER = datetime(2026, 11, 5, 12, 0, tzinfo=UTC)
# Published means and sds are rounded to 4 places.
TOLERANCE = 0.5e-4 + 1e-9
CellKey = tuple[str, str, str, str, str | None, str | None]  # pulse, dimension, scope, ...


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

    def label(self) -> str:
        segment = "" if self.segment_type is None else f" {self.segment_type}={self.segment}"
        return f"{self.scope} {self.subject}{segment} {self.dimension}: n={self.n}"


@dataclass
class Known:
    """Everything the test posted, every structure and response set it used, and k at close."""

    answers: dict[str, Answer] = field(default_factory=dict)
    structures: list[Structure] = field(default_factory=list)
    stored: list[frozenset[str]] = field(default_factory=list)
    k_at_close: dict[str, int] = field(default_factory=dict)
    read: set[Cell] = field(default_factory=set)
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


def numbers_match(answers: list[Answer], cell: Cell) -> bool:
    scores = [Fraction(a.scores[cell.dimension]).limit_denominator(100) for a in answers]
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
    key = (cell.pulse, cell.dimension, cell.scope, cell.subject, cell.segment_type, cell.segment)
    fits = set()
    for structure in known.structures:
        for stored in known.stored:
            inside = known.index(structure, stored).get(key, [])
            if numbers_match(inside, cell):
                fits.add(frozenset(a.external_id for a in inside))
    assert fits, f"no set of posted responses gives the published {cell}"
    assert len(fits) == 1, f"the published {cell} fits several sets of respondents: {fits}"
    return fits.pop()


def assert_nothing_isolated(known: Known) -> None:
    """Per pulse and dimension, no weighting of the cells ever read isolates < k people."""
    assert known.read, "something was published"
    by_pulse: dict[tuple[str, str], dict[frozenset[str], Cell]] = defaultdict(dict)
    for cell in sorted(known.read, key=repr):
        by_pulse[(cell.pulse, cell.dimension)].setdefault(members(known, cell), cell)
    for (pulse, dimension), cells in sorted(by_pulse.items()):
        k = known.k_at_close[pulse]
        exposed = find_exposure(cells, k)
        if exposed is not None:
            who = sorted(
                f"{a.team} role={a.role} profession={a.profession} organisation={a.organisation}"
                for a in (known.answers[e] for e in exposed)
            )
            around = sorted(c.label() for m, c in cells.items() if m & exposed)
            raise AssertionError(
                f"pulse {pulse}, {dimension}, k={k}: the published cells isolate {len(exposed)}"
                f" respondents {who} (weigh together some of: {around})"
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


def read_everything(client: TestClient, headers: dict[str, str], known: Known) -> None:
    """Every published cell of the score endpoints (every team, place, pulse) and the feed."""
    cells: list[Cell | None] = []
    subjects = [("team", t["code"]) for t in pages(client, headers, "/v1/teams?limit=1000")]
    subjects += [("place", p["code"]) for p in pages(client, headers, "/v1/places?limit=1000")]
    for scope, code in subjects:
        for entry in pages(client, headers, f"/v1/{scope}s/{code}/scores?limit=100"):
            for d in entry["dimensions"]:
                where = (entry["pulse"], d["dimension"], scope, code)
                cells.append(published(d, *where))
                cells += [published(part, *where) for part in d["breakdowns"]]
    for row in pages(client, headers, "/v1/feeds/scores?limit=1000"):
        subject = row["team"] if row["scope"] == "team" else row["place"]
        cells.append(published(row, row["pulse"], row["dimension"], row["scope"], subject))
    known.read |= {cell for cell in cells if cell is not None}


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
    assert_nothing_isolated(known)
