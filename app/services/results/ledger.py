"""The publication ledger: a closed pulse's cells, published once and kept (DESIGN 3.4).

The first publication of a closed pulse decides its cells from the structure (team ->
place, organisation -> kind), k and responses as they stand, and keeps them with that k
and structure. Nothing later recomputes it: structure and k changes apply to pulses that
close after them. When its responses change (a late upload, an erasure), a revision asks
``analysis.disclosure.ledger`` which cells may take new numbers given every earlier
edition; the others keep the numbers first published, marked ``revision_withheld`` where
the new ones differ. Each edition keeps which cells it published and how many respondents
of each profile and cohort it included (no scores, no ids): a later revision's test needs
what the published cells were sums over. Those counts are never served.
"""

from collections import defaultdict
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.analysis.cells import PLACE, TEAM, CellKey, Profile, cells_of
from app.analysis.disclosure import Edition, revision_cells
from app.analysis.published import Published
from app.analysis.snapshot import Pulse as PulseFacts
from app.analysis.snapshot import Snapshot
from app.analysis.snapshot import Team as TeamFacts
from app.analysis.stats import Moments
from app.models import (
    Organisation,
    Place,
    Publication,
    PublicationEdition,
    Pulse,
    Response,
    ScoreCell,
    System,
    Team,
)
from app.services.aggregation import cohort_moments
from app.services.results.revisions import closing, revise_pulse
from app.vocab import DIMENSIONS

CellRow = tuple[str, str, str | None, str, str | None, str | None]  # the identity of a cell
KEPT = ("n", "mean", "sd", "ci_low", "ci_high", "suppressed", "total", "total_sq")
SERVED = ("n", "mean", "sd", "ci_low", "ci_high", "suppressed")


@dataclass(frozen=True)
class Structure:
    """The structure a pulse was published from."""

    teams: dict[str, tuple[str, int | None, str | None]]  # code -> place, headcount, formed_on
    kinds: dict[str, str]  # organisation code -> kind

    def to_json(self) -> dict[str, Any]:
        return {"teams": {c: list(t) for c, t in self.teams.items()}, "kinds": self.kinds}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Structure":
        teams = {c: (t[0], t[1], t[2]) for c, t in data["teams"].items()}
        return cls(teams, dict(data["kinds"]))

    def team_place(self) -> dict[str, str]:
        return {code: team[0] for code, team in self.teams.items()}

    def facts(self) -> list[TeamFacts]:
        """The teams as the rules see them."""
        from datetime import date

        return [
            TeamFacts(code, place, headcount, date.fromisoformat(formed) if formed else None)
            for code, (place, headcount, formed) in sorted(self.teams.items())
        ]


@dataclass
class Plan:
    """What a pulse's ledger is to become: its cells, and the edition that makes them so."""

    pulse_id: int
    number: int  # the edition: 0 for the first publication
    revision: int  # the pulse's responses revision it answers
    k: int
    structure: Structure
    cells: dict[CellRow, dict[str, Any]]  # every kept field of every listed cell
    published: dict[str, dict[str, list[list[str | None]]]]  # dimension -> place -> cells
    counts: dict[str, dict[str, list[list[Any]]]]  # dimension -> place -> cohort counts
    kept: dict[tuple[str, str], dict[CellKey, Moments]] = field(default_factory=dict)
    # Whether ``cells`` were written already, place by place as they were decided (``Stream``).
    written: bool = False


# Cells as a first publication decides them, a place at a time (identity -> kept fields).
Sink = Callable[[dict[CellRow, dict[str, Any]]], None]
# Opens a writer of the pulse's new cells, held open while its places are decided (the
# database inserts them meanwhile); it gives None when the cells cannot be written so
# (the pulse holds rows already), and then they are written with the rest of the plan.
Stream = Callable[[], AbstractContextManager[Sink | None]]


def current_structure(session: Session, system_id: int) -> Structure:
    """The system's structure now."""
    teams = session.execute(
        select(Team.code, Place.code, Team.headcount, Team.formed_on)
        .join(Place, Place.id == Team.place_id)
        .where(Team.system_id == system_id)
    )
    kinds = session.execute(
        select(Organisation.code, Organisation.kind).where(Organisation.system_id == system_id)
    )
    return Structure(
        {c: (p, h, f.isoformat() if f else None) for c, p, h, f in teams}, dict(kinds.all())
    )


def plan(
    session: Session,
    system: System,
    pulse: Pulse,
    publication: Publication | None,
    stream: Stream | None = None,
) -> Plan | None:
    """What the ledger of a closed pulse needs now: its first publication, a revision, or
    nothing (None) when it answers the pulse's responses as they are.

    With ``stream``, a first publication writes its cells through it as it decides them
    (``Plan.written``).
    """
    if publication is not None and publication.editions > 0:
        if publication.responses_revision == pulse.revision:
            return None
        return _revision(session, system, pulse, publication)
    return _first(session, system, pulse, stream)


def _profiles(
    session: Session, system_id: int, pulse: Pulse, structure: Structure, cohort_now: int
) -> dict[str, dict[tuple[Profile, int], Moments]]:
    """Per dimension, the moments of each profile and cohort (the unpublished: ``cohort_now``)."""
    now = current_structure(session, system_id)
    out: dict[str, dict[tuple[Profile, int], Moments]] = {}
    made: dict[tuple[str, str | None, str | None, str | None, int | None], tuple[Profile, int]] = {}
    for dimension, rows in cohort_moments(session, system_id, pulse.id).items():
        merged: dict[tuple[Profile, int], Moments] = {}
        for group_key, moments in rows.items():
            key = made.get(group_key)
            if key is None:  # the same groups come back on every dimension: made once
                team, group, profession, organisation, cohort = group_key
                kind = None
                if organisation is not None:
                    kind = structure.kinds.get(organisation, now.kinds.get(organisation))
                profile = Profile(team, group, profession, kind)
                key = (profile, cohort_now if cohort is None else cohort)
                made[group_key] = key
            merged[key] = merged[key] + moments if key in merged else moments
        out[dimension] = dict(merged)
    return out


def _place_of(structure: Structure, system_id: int, session: Session) -> dict[str, str]:
    places = structure.team_place()
    # A team created after the pulse closed can hold late responses: its place then.
    for code, team in current_structure(session, system_id).teams.items():
        places.setdefault(code, team[0])
    return places


def _first(session: Session, system: System, pulse: Pulse, stream: Stream | None) -> Plan:
    structure = current_structure(session, system.id)
    k = system.min_group_size
    profiles = _profiles(session, system.id, pulse, structure, 0)
    team_place = structure.team_place()
    snapshot = Snapshot(
        system=system.slug,
        pulse=PulseFacts(pulse.key, pulse.closes_on),
        earlier=(),
        teams=tuple(structure.facts()),
        responses={},
        scores={
            (pulse.key, d): {p: m for (p, _), m in rows.items()} for d, rows in profiles.items()
        },
        k=k,
    )
    decided = Published(snapshot)
    result = Plan(pulse.id, 0, pulse.revision, k, structure, {}, {}, {})
    places = sorted(set(team_place.values()))
    local = {d: _by_place(rows, team_place) for d, rows in profiles.items()}
    key = pulse.key
    # From here to the end nothing is read from the database: a stream may hold it.
    with stream() if stream is not None else nullcontext() as sink:
        for place in places:
            # Respondents per cell, from the same profiles as the decision (each at cohort 0).
            sized = {d: decided.sizes(key, d, place) for d in DIMENSIONS}
            listed = sorted({c for sizes in sized.values() for c in sizes})
            rows: dict[CellRow, dict[str, Any]] = {}
            for dimension in DIMENSIONS:
                shown = decided.cells(key, dimension, place)
                here = local.get(dimension, {}).get(place, {})
                sizes = sized[dimension]
                for cell in listed:
                    numbers = _numbers(shown.get(cell))
                    numbers["small"] = sizes.get(cell, 0) < k
                    numbers["revision_withheld"] = False
                    rows[_identity(cell, dimension, team_place)] = numbers
                result.kept[(dimension, place)] = dict(shown)
                _record(result, dimension, place, shown, here, team_place)
            result.cells.update(rows)
            if sink is not None:
                sink(rows)
        result.written = sink is not None
    return result


def _revision(session: Session, system: System, pulse: Pulse, publication: Publication) -> Plan:
    assert publication.structure is not None and publication.k is not None
    structure = Structure.from_json(publication.structure)
    k = publication.k
    number = publication.editions
    profiles = _profiles(session, system.id, pulse, structure, number)
    team_place = _place_of(structure, system.id, session)
    editions = list(
        session.scalars(
            select(PublicationEdition)
            .where(PublicationEdition.pulse_id == pulse.id)
            .order_by(PublicationEdition.number)
        )
    )
    stored = {
        (c.scope, c.place, c.team, c.dimension, c.segment_type, c.segment): c
        for c in session.scalars(
            select(ScoreCell).where(
                ScoreCell.pulse_id == pulse.id, ScoreCell.withdrawn_at.is_(None)
            )
        )
    }
    result = Plan(pulse.id, number, pulse.revision, k, structure, {}, {}, {})
    places = sorted(set(team_place.values()))
    local = {d: _by_place(rows, team_place) for d, rows in profiles.items()}
    rows_at: dict[str, list[ScoreCell]] = defaultdict(list)
    for kept_row in stored.values():
        rows_at[kept_row.place].append(kept_row)
    # The rows listed are the same on every dimension (DESIGN 3.6).
    listed = {
        place: {_key(r) for r in rows_at[place]}
        | {
            key
            for d in DIMENSIONS
            for key in _cell_moments(local.get(d, {}).get(place, {}), place, team_place)
        }
        for place in places
    }
    for dimension in DIMENSIONS:
        for place in places:
            current = local.get(dimension, {}).get(place, {})
            history = [_edition(e, dimension, place) for e in editions]
            mine = {pc: m.n for pc, m in current.items()}
            withheld = frozenset(
                _key(row) for row in rows_at[place] if row.small and _at(row, dimension, place)
            )
            new = revision_cells(place, history, mine, withheld, k)
            moments = _cell_moments(current, place, team_place)
            kept: dict[CellKey, Moments] = {}
            for key in sorted(listed[place]):
                identity = _identity(key, dimension, team_place)
                row = stored.get(identity)
                if key in new:
                    numbers = _numbers(moments.get(key))
                    numbers["revision_withheld"] = False
                    kept[key] = moments[key]
                elif row is not None:
                    numbers = {name: getattr(row, name) for name in KEPT}
                    changed = moments.get(key, Moments()).n != (row.n or 0) or (
                        row.total is not None and moments.get(key, Moments()).total != row.total
                    )
                    numbers["revision_withheld"] = row.revision_withheld or (
                        not row.suppressed and changed
                    )
                    if not row.suppressed and row.total is not None and row.n:
                        kept[key] = Moments(row.n, row.total, row.total_sq or 0.0)
                else:
                    numbers = _numbers(None)
                    numbers["revision_withheld"] = False
                numbers["small"] = row.small if row is not None else True
                numbers["published_at"] = (
                    None if key in new else (row.published_at if row else None)
                )
                result.cells[identity] = numbers
            result.kept[(dimension, place)] = kept
            shown_new = {key: moments[key] for key in new}
            _record(result, dimension, place, shown_new, current, team_place)
    return result


def _edition(edition: PublicationEdition, dimension: str, place: str) -> Edition:
    cells = frozenset(CellKey(*c) for c in edition.cells.get(dimension, {}).get(place, []))
    counts = {
        (Profile(team, group, profession, kind), cohort): count
        for team, group, profession, kind, cohort, count in edition.counts.get(dimension, {}).get(
            place, []
        )
    }
    return Edition(cells, counts)


def _record(
    result: Plan,
    dimension: str,
    place: str,
    shown: dict[CellKey, Moments],
    profiles: dict[tuple[Profile, int], Moments],
    team_place: dict[str, str],
) -> None:
    """Note in the edition what it published here, and whom it included."""
    result.published.setdefault(dimension, {})[place] = [
        [c.scope, c.subject, c.segment_type, c.segment] for c in sorted(shown)
    ]
    result.counts.setdefault(dimension, {})[place] = [
        [p.team, p.role_group, p.profession, p.organisation_kind, cohort, m.n]
        for (p, cohort), m in sorted(profiles.items(), key=_order)
        if team_place.get(p.team) == place and m.n > 0
    ]


def _cell_moments(
    profiles: dict[tuple[Profile, int], Moments], place: str, team_place: dict[str, str]
) -> dict[CellKey, Moments]:
    cells: dict[CellKey, Moments] = defaultdict(Moments)
    for (profile, _), moments in sorted(profiles.items(), key=_order):
        if team_place.get(profile.team) == place and moments.n > 0:
            for key in cells_of(profile, place):
                cells[key] += moments
    return dict(cells)


def _by_place(
    profiles: dict[tuple[Profile, int], Moments], team_place: dict[str, str]
) -> dict[str, dict[tuple[Profile, int], Moments]]:
    """The moments of each profile and cohort, place by place (in the order given)."""
    out: dict[str, dict[tuple[Profile, int], Moments]] = defaultdict(dict)
    for (profile, cohort), moments in profiles.items():
        place = team_place.get(profile.team)
        if place is not None:
            out[place][(profile, cohort)] = moments
    return dict(out)


def _order(item: tuple[tuple[Profile, int], Moments]) -> tuple[tuple[str, ...], int]:
    """The sort key of a profile and cohort: the order of ``Profile`` (None first), cheaply."""
    (p, cohort), _ = item
    fields = (p.team, p.role_group, p.profession, p.organisation_kind)
    return tuple("" if f is None else f for f in fields), cohort


def _key(row: ScoreCell) -> CellKey:
    subject = row.team if row.scope == TEAM else row.place
    assert subject is not None
    return CellKey(row.scope, subject, row.segment_type, row.segment)


def _at(row: ScoreCell, dimension: str, place: str) -> bool:
    return row.dimension == dimension and row.place == place


def _identity(key: CellKey, dimension: str, team_place: dict[str, str]) -> CellRow:
    if key.scope == TEAM:
        return (
            TEAM,
            team_place[key.subject],
            key.subject,
            dimension,
            key.segment_type,
            key.segment,
        )
    return (PLACE, key.subject, None, dimension, key.segment_type, key.segment)


_SUPPRESSED: dict[str, Any] = dict.fromkeys(KEPT) | {"suppressed": True}


def _numbers(value: Moments | None) -> dict[str, Any]:
    """The published numbers of a cell (and its sums, kept for the rules); null if suppressed."""
    if value is None:
        return _SUPPRESSED.copy()
    interval = value.ci95()
    return {
        "n": value.n,
        "mean": None if value.mean is None else round(value.mean, 4),
        "sd": None if value.sd is None else round(value.sd, 4),
        # The scale runs from 1 to 5, so the interval is cut to it.
        "ci_low": None if interval is None else round(max(1.0, interval[0]), 4),
        "ci_high": None if interval is None else round(min(5.0, interval[1]), 4),
        "suppressed": False,
        "total": value.total,
        "total_sq": value.total_sq,
    }


def lock(session: Session, pulse_id: int) -> None:
    """Hold off responses into the pulse while its ledger is written (PostgreSQL)."""
    closing(session, pulse_id)


def write(session: Session, system_id: int, done: Publication, plan: Plan, now: datetime) -> None:
    """Keep a plan: the edition, the publication's record, and the pulse's cohort."""
    session.add(
        PublicationEdition(
            system_id=system_id,
            pulse_id=plan.pulse_id,
            number=plan.number,
            published_at=now,
            cells=plan.published,
            counts=plan.counts,
        )
    )
    if plan.number == 0:
        done.k = plan.k
        done.structure = plan.structure.to_json()
        done.published_at = now
    done.editions = plan.number + 1
    done.responses_revision = plan.revision
    stamp(plan.cells.values(), now)
    session.execute(
        update(Response)
        .where(Response.pulse_id == plan.pulse_id, Response.published_in.is_(None))
        .values(published_in=plan.number)
    )


def stamp(cells: Iterable[dict[str, Any]], now: datetime) -> None:
    """Date the cells an edition publishes new numbers for (``published_at``: now)."""
    for numbers in cells:
        if numbers.get("published_at") is None and not numbers["suppressed"]:
            numbers["published_at"] = now


def revise_late(session: Session, system_id: int) -> None:
    """Make due a revision of every published pulse holding responses it has not included."""
    pulses = session.scalars(
        select(Response.pulse_id)
        .where(Response.system_id == system_id, Response.published_in.is_(None))
        .where(
            Response.pulse_id.in_(
                select(Publication.pulse_id).where(
                    Publication.system_id == system_id, Publication.editions > 0
                )
            )
        )
        .distinct()
    )
    for pulse_id in list(pulses):
        revise_pulse(session, pulse_id)


def unpublished(session: Session, system_id: int) -> list[str]:
    """Keys of the system's pulses that have no publication yet, in the order they open."""
    published = select(Publication.pulse_id).where(
        Publication.system_id == system_id, Publication.editions > 0
    )
    return list(
        session.scalars(
            select(Pulse.key)
            .where(Pulse.system_id == system_id, Pulse.id.not_in(published))
            .order_by(Pulse.opens_on, Pulse.key)
        )
    )
