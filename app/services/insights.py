"""Scores and warning signs of closed pulses: computed once per set of inputs, then read.

A closed pulse's aggregates and flags are a pure function of the structure, its responses
(and those of a few pulses before it) and the rulebook. They are computed ahead of reads by
the publisher (``services.publisher``), or by the first read that finds them missing, and
kept (``score_cell``, ``warning_sign``) with a digest of those inputs; a later read
recomputes only when the digest differs (a late upload, an erasure, a changed team or
rule). Rows whose content is unchanged keep their ``updated_at``, for incremental feeds.
"""

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from app.analysis.cells import CellKey
from app.analysis.engine import assess
from app.analysis.rulebook import Rulebook
from app.analysis.snapshot import Flag, Snapshot
from app.analysis.snapshot import Pulse as PulseFacts
from app.analysis.snapshot import Team as TeamFacts
from app.domain import pulse_status
from app.models import (
    Place,
    Publication,
    Pulse,
    RuleSet,
    ScoreCell,
    System,
    Team,
    WarningSign,
)
from app.services.aggregation import profile_moments, response_counts
from app.services.bulk import insert_rows
from app.services.pagination import Slice, keyset_page
from app.services.revisions import revise
from app.vocab import DIMENSIONS, PulseStatus

# Earlier pulses a computation reads: falling pools up to three published ones, a
# sustained decline spans four pulses in a row.
EARLIER = 4
# The first key of the advisory locks that serialise computations (the second: a system).
LOCK_SPACE = 7301


# -- rules ---------------------------------------------------------------------------------


def rulebook(session: Session, system_id: int) -> tuple[Rulebook, int]:
    """The system's rulebook and its version (1 until the first change)."""
    stored = session.get(RuleSet, system_id)
    if stored is None:
        return Rulebook(), 1
    return Rulebook.from_dict(stored.rules), stored.version


def replace_rules(
    session: Session, system_id: int, body: dict[str, Any], now: datetime
) -> tuple[Rulebook, int]:
    """Validate and store a new rulebook; its version is one more than the last."""
    book = Rulebook.from_dict(body)  # raises RulebookError naming every bad field
    stored = session.get(RuleSet, system_id, with_for_update=True)
    if stored is None:
        stored = RuleSet(system_id=system_id, version=1, rules={}, updated_at=now)
        session.add(stored)
    stored.version += 1
    stored.rules = book.to_dict()
    stored.updated_at = now
    session.flush()
    revise(session, system_id)
    return book, stored.version


# -- which pulses ---------------------------------------------------------------------------


def closes_on(pulse: Pulse) -> date:
    """The day a pulse closed: early if an admin closed it, else its last day."""
    return pulse.closed_at.date() if pulse.closed_at else pulse.closes_on


def closed_pulses(session: Session, system_id: int, now: datetime) -> list[Pulse]:
    """The system's closed pulses in the order they opened."""
    # Read afresh (not from the session's identity map): their state is part of the key.
    pulses = session.scalars(
        select(Pulse)
        .where(Pulse.system_id == system_id)
        .order_by(Pulse.opens_on, Pulse.key)
        .execution_options(populate_existing=True)
    )
    return [
        p
        for p in pulses
        if pulse_status(p.opens_on, p.closes_on, p.closed_at, now) is PulseStatus.closed
    ]


def is_closed(pulse: Pulse, now: datetime) -> bool:
    return pulse_status(pulse.opens_on, pulse.closes_on, pulse.closed_at, now) is PulseStatus.closed


# -- computing ------------------------------------------------------------------------------


CellRow = tuple[str, str, str | None, str, str | None, str | None]  # the identity of a cell


@dataclass(frozen=True)
class _Inputs:
    system: System
    pulse: Pulse
    earlier: list[Pulse]
    k: int
    adoption_months: int
    rules: dict[str, Any] | None  # as stored; None for the defaults
    version: int
    key: str

    def book(self) -> Rulebook:
        return Rulebook() if self.rules is None else Rulebook.from_dict(self.rules)


def _inputs(
    session: Session, system: System, pulse: Pulse, now: datetime, closed: list[Pulse] | None
) -> _Inputs:
    """What a pulse's results depend on, summed up in a short key that is cheap to make.

    The system's revision moves with every change to structure and rules; its settings are
    read with it, so a computation uses the settings its key names. A pulse's revision
    moves when its responses change after it closed (a late upload, an erasure, a response
    whose request was under way as it closed: see ``services.responses.ingest`` and
    ``services.structure.close_pulse``); the earlier closed pulses change as pulses close.
    """
    closed = closed_pulses(session, system.id, now) if closed is None else closed
    earlier = [p for p in closed if (p.opens_on, p.key) < (pulse.opens_on, pulse.key)][-EARLIER:]
    system_revision, k, adoption_months = session.execute(
        select(System.revision, System.min_group_size, System.adoption_months).where(
            System.id == system.id
        )
    ).one()
    stored = session.get(RuleSet, system.id)
    rules, version = (None, 1) if stored is None else (stored.rules, stored.version)
    facts = [
        system_revision,
        k,
        adoption_months,
        version,
        [[p.id, str(closes_on(p)), p.revision] for p in [*earlier, pulse]],
    ]
    key = hashlib.sha256(json.dumps(facts).encode()).hexdigest()
    return _Inputs(system, pulse, earlier, k, adoption_months, rules, version, key)


def inputs_key(
    session: Session, system: System, pulse: Pulse, now: datetime, closed: list[Pulse]
) -> str:
    """The key a pulse's kept results must carry to be current."""
    return _inputs(session, system, pulse, now, closed).key


def _kept(
    session: Session, system: System, pulse: Pulse, now: datetime, closed: list[Pulse] | None
) -> tuple[_Inputs, Publication | None]:
    """The inputs of a pulse's results now, and the record of those kept, if any."""
    inputs = _inputs(session, system, pulse, now, closed)
    done = session.scalar(
        select(Publication).where(
            Publication.system_id == system.id, Publication.pulse_id == pulse.id
        )
    )
    return inputs, done


def publish(
    session: Session,
    system: System,
    pulse: Pulse,
    now: datetime,
    closed: list[Pulse] | None = None,
) -> Publication:
    """The computation for a closed pulse, made now if its inputs changed since the last.

    ``closed`` is the system's closed pulses, when the caller has them already.
    """
    inputs, done = _kept(session, system, pulse, now, closed)
    if done is not None and done.inputs == inputs.key:
        return done
    if session.get_bind().dialect.name == "postgresql":
        # One computation per system at a time: a second reader waits, then finds it done
        # (so look again, at everything afresh), and rows are stamped in the order they are
        # committed (below).
        session.execute(select(func.pg_advisory_xact_lock(LOCK_SPACE, system.id)))
        session.expire_all()
        inputs, done = _kept(session, system, pulse, now, None)
        if done is not None and done.inputs == inputs.key:
            return done
    cells, flags = _compute(session, inputs)
    return _write(session, inputs, done, cells, flags, now)


@dataclass(frozen=True)
class Computed:
    """Results of a pulse computed from one read of their inputs, not yet kept."""

    key: str
    cells: dict[CellRow, dict[str, Any]]
    flags: list[Flag]


def compute(session: Session, system: System, pulse: Pulse, now: datetime) -> Computed | None:
    """A pulse's results, computed without writing; None when the kept ones are current.

    With ``keep``, for SQLite, where a transaction that writes holds the whole database:
    the computation reads in a transaction of its own, and only keeping the results writes.
    """
    inputs, done = _kept(session, system, pulse, now, None)
    if done is not None and done.inputs == inputs.key:
        return None
    cells, flags = _compute(session, inputs)
    return Computed(inputs.key, cells, flags)


def keep(session: Session, system: System, pulse: Pulse, computed: Computed, now: datetime) -> bool:
    """Keep results computed earlier, if their inputs are still those now (else False)."""
    inputs, done = _kept(session, system, pulse, now, None)
    if inputs.key != computed.key:
        return False
    if done is None or done.inputs != inputs.key:
        _write(session, inputs, done, computed.cells, computed.flags, now)
    return True


def _write(
    session: Session,
    inputs: _Inputs,
    done: Publication | None,
    cells: dict[CellRow, dict[str, Any]],
    flags: list[Flag],
    now: datetime,
) -> Publication:
    """Make the kept results of a pulse these, and record the inputs they are from."""
    system_id = inputs.system.id
    # Feeds page by (updated_at, id): a stamp never earlier than the last one keeps rows
    # written later from sorting before rows a reader has already paged past.
    last = session.scalar(
        select(func.max(Publication.computed_at)).where(Publication.system_id == system_id)
    )
    now = max(now, last + timedelta(microseconds=1)) if last is not None else now
    _sync_cells(session, inputs, cells, now)
    _sync_flags(session, inputs, flags, now)
    if done is None:
        done = Publication(system_id=system_id, pulse_id=inputs.pulse.id)
        session.add(done)
    done.inputs = inputs.key
    done.rules_version = inputs.version
    done.computed_at = now
    session.flush()
    return done


def _teams(session: Session, system_id: int) -> list[TeamFacts]:
    rows = session.execute(
        select(Team.code, Place.code, Team.headcount, Team.formed_on)
        .join(Place, Place.id == Team.place_id)
        .where(Team.system_id == system_id)
        .order_by(Team.code)
    )
    return [
        TeamFacts(code, place, headcount, formed_on) for code, place, headcount, formed_on in rows
    ]


def _compute(session: Session, inputs: _Inputs) -> tuple[dict[CellRow, dict[str, Any]], list[Flag]]:
    pulses = [*inputs.earlier, inputs.pulse]
    ids = [p.id for p in pulses]
    teams = _teams(session, inputs.system.id)
    moments = profile_moments(session, inputs.system.id, ids)
    counts = response_counts(session, inputs.system.id, ids)
    key_of = {p.id: p.key for p in pulses}
    snapshot = Snapshot(
        system=inputs.system.slug,
        pulse=PulseFacts(inputs.pulse.key, closes_on(inputs.pulse)),
        earlier=tuple(PulseFacts(p.key, closes_on(p)) for p in inputs.earlier),
        teams=tuple(teams),
        responses={(key_of[p], team): n for (p, team), n in counts.items()},
        scores={(key_of[p], dimension): m for (p, dimension), m in moments.items()},
        k=inputs.k,
        adoption_months=inputs.adoption_months,
    )
    # The flags' publication decisions serve the cells too: deciding again would double
    # the cost of a first read.
    flags, published = assess(snapshot, inputs.book())
    team_place = {team.code: team.place for team in teams}
    places = sorted(set(team_place.values()))
    cells: dict[CellRow, dict[str, Any]] = {}
    for dimension in DIMENSIONS:
        for place in places:
            shown = published.cells(inputs.pulse.key, dimension, place)
            for key in published.present(inputs.pulse.key, dimension, place):
                cells[_identity(key, dimension, team_place)] = _numbers(shown.get(key))
    return cells, flags


def _identity(key: CellKey, dimension: str, team_place: dict[str, str]) -> CellRow:
    if key.scope == "team":
        return (
            "team",
            team_place[key.subject],
            key.subject,
            dimension,
            key.segment_type,
            key.segment,
        )
    return ("place", key.subject, None, dimension, key.segment_type, key.segment)


def _numbers(value: Any) -> dict[str, Any]:
    """The published numbers of a cell; all null when it is suppressed."""
    if value is None:
        return {
            "n": None,
            "mean": None,
            "sd": None,
            "ci_low": None,
            "ci_high": None,
            "suppressed": True,
        }
    interval = value.ci95()
    return {
        "n": value.n,
        "mean": round(value.mean, 4),
        "sd": None if value.sd is None else round(value.sd, 4),
        # The scale runs from 1 to 5, so the interval is cut to it.
        "ci_low": None if interval is None else round(max(1.0, interval[0]), 4),
        "ci_high": None if interval is None else round(min(5.0, interval[1]), 4),
        "suppressed": False,
    }


NUMBERS = ("n", "mean", "sd", "ci_low", "ci_high", "suppressed")


def _sync_cells(
    session: Session, inputs: _Inputs, cells: dict[CellRow, dict[str, Any]], now: datetime
) -> None:
    """Make the stored cells of the pulse equal ``cells``, touching only those that changed."""
    stored = {
        (c.scope, c.place, c.team, c.dimension, c.segment_type, c.segment): c
        for c in session.scalars(select(ScoreCell).where(ScoreCell.pulse_id == inputs.pulse.id))
    }
    gone = [row.id for key, row in stored.items() if key not in cells]
    if gone:
        session.execute(delete(ScoreCell).where(ScoreCell.id.in_(gone)))
    new = []
    for key, numbers in cells.items():
        row = stored.get(key)
        if row is None:
            scope, place, team, dimension, segment_type, segment = key
            new.append(
                {
                    "system_id": inputs.system.id,
                    "pulse_id": inputs.pulse.id,
                    "scope": scope,
                    "place": place,
                    "team": team,
                    "dimension": dimension,
                    "segment_type": segment_type,
                    "segment": segment,
                    **numbers,
                    "updated_at": now,
                }
            )
        elif any(getattr(row, name) != numbers[name] for name in NUMBERS):
            for name in NUMBERS:
                setattr(row, name, numbers[name])
            row.updated_at = now
    insert_rows(session, ScoreCell, new)
    session.flush()


def _sync_flags(session: Session, inputs: _Inputs, flags: Sequence[Flag], now: datetime) -> None:
    """Make the stored flags of the pulse equal ``flags``, touching only those that changed."""
    stored = {
        f.id: f
        for f in session.scalars(select(WarningSign).where(WarningSign.pulse_id == inputs.pulse.id))
    }
    wanted = {flag.id: flag for flag in flags}
    gone = [flag_id for flag_id in stored if flag_id not in wanted]
    if gone:
        session.execute(delete(WarningSign).where(WarningSign.id.in_(gone)))
    new = []
    for flag_id, flag in wanted.items():
        fields = {
            "rule": flag.rule,
            "severity": flag.severity,
            "scope": flag.scope,
            "place": flag.place,
            "team": flag.team,
            "dimension": flag.dimension,
            "message": flag.message,
            "evidence": flag.evidence,
            "rules_version": inputs.version,
        }
        row = stored.get(flag_id)
        if row is None:
            new.append(
                {
                    "id": flag_id,
                    "system_id": inputs.system.id,
                    "pulse_id": inputs.pulse.id,
                    **fields,
                    "updated_at": now,
                }
            )
        elif any(getattr(row, name) != value for name, value in fields.items()):
            for name, value in fields.items():
                setattr(row, name, value)
            row.updated_at = now
    insert_rows(session, WarningSign, new)
    session.flush()


# -- reading --------------------------------------------------------------------------------


def _cells(
    session: Session, pulse: Pulse, scope: str, place: str, team: str | None
) -> list[ScoreCell]:
    stmt = select(ScoreCell).where(
        ScoreCell.pulse_id == pulse.id,
        ScoreCell.scope == scope,
        ScoreCell.place == place,
        ScoreCell.team.is_(None) if team is None else ScoreCell.team == team,
    )
    return list(session.scalars(stmt))


def _dimensions(cells: list[ScoreCell]) -> list[dict[str, Any]]:
    out = []
    for dimension in DIMENSIONS:
        mine = [c for c in cells if c.dimension == dimension]
        whole = next((c for c in mine if c.segment_type is None), None)
        if whole is None:
            continue
        out.append(
            {
                "dimension": dimension,
                **{name: getattr(whole, name) for name in NUMBERS},
                "breakdowns": [
                    {
                        "segment_type": c.segment_type,
                        "segment": c.segment,
                        **{name: getattr(c, name) for name in NUMBERS},
                    }
                    for c in sorted(mine, key=lambda c: (c.segment_type or "", c.segment or ""))
                    if c.segment_type is not None
                ],
            }
        )
    return out


def scores(
    session: Session,
    system: System,
    pulses: list[Pulse],
    place: str,
    teams: list[Team],
    team: str | None,
    now: datetime,
) -> list[dict[str, Any]]:
    """The scores of a team (``team``) or place (all its ``teams``) in each of ``pulses``."""
    counts = response_counts(session, system.id, [p.id for p in pulses])
    codes = [t.code for t in teams]
    headcounts = [t.headcount for t in teams]
    headcount = None if not teams or None in headcounts else sum(h or 0 for h in headcounts)
    closed = closed_pulses(session, system.id, now)  # once, not once per pulse
    entries = []
    for pulse in pulses:
        status = pulse_status(pulse.opens_on, pulse.closes_on, pulse.closed_at, now)
        responses = sum(counts.get((pulse.id, code), 0) for code in codes)
        dimensions: list[dict[str, Any]] = []
        if status is PulseStatus.closed:
            publish(session, system, pulse, now, closed)
            dimensions = _dimensions(
                _cells(session, pulse, "team" if team else "place", place, team)
            )
        entries.append(
            {
                "pulse": pulse.key,
                "status": status,
                "scope": "team" if team else "place",
                "place": place,
                "team": team,
                "participation": {
                    "responses": responses,
                    "headcount": headcount,
                    "response_rate": round(responses / headcount, 4) if headcount else None,
                },
                "dimensions": dimensions,
            }
        )
    return entries


@dataclass(frozen=True)
class FlagFilters:
    """Filters of GET /v1/warning-signs; None means any."""

    place: str | None = None
    team: str | None = None
    rule: str | None = None
    severity: str | None = None
    dimension: str | None = None
    scope: str | None = None


def list_flags(
    session: Session,
    system: System,
    pulse: Pulse,
    filters: FlagFilters,
    cursor: str | None,
    limit: int,
    now: datetime,
    closed: list[Pulse] | None = None,
) -> tuple[Slice[WarningSign], list[dict[str, Any]]]:
    """A page of the warning signs of a closed pulse, by id (``closed``: as for publish)."""
    publish(session, system, pulse, now, closed)
    stmt = select(WarningSign).where(WarningSign.pulse_id == pulse.id)
    for name in ("place", "team", "rule", "severity", "dimension", "scope"):
        value = getattr(filters, name)
        if value is not None:
            stmt = stmt.where(getattr(WarningSign, name) == value)
    chunk = keyset_page(session, stmt, [WarningSign.id], cursor, limit)
    return chunk, [flag_view(flag, pulse.key) for flag in chunk.rows]


def flag_view(flag: WarningSign, pulse: str) -> dict[str, Any]:
    """A stored flag as the API shows it."""
    return {
        "id": flag.id,
        "rule": flag.rule,
        "severity": flag.severity,
        "scope": flag.scope,
        "pulse": pulse,
        "place": flag.place,
        "team": flag.team,
        "dimension": flag.dimension,
        "message": flag.message,
        "evidence": flag.evidence,
        "rules_version": flag.rules_version,
    }
