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
from app.analysis.published import KeptCells
from app.analysis.rulebook import Rulebook
from app.analysis.snapshot import Flag, Snapshot
from app.analysis.snapshot import Pulse as PulseFacts
from app.analysis.stats import Moments
from app.domain import pulse_status
from app.models import (
    Publication,
    Pulse,
    RuleSet,
    ScoreCell,
    System,
    Team,
    WarningSign,
)
from app.services import ledger
from app.services.aggregation import response_counts
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


Kept = dict[tuple[str, str, str], dict[CellKey, Moments]]  # (pulse, dimension, place) -> cells


# -- computing ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Inputs:
    system: System
    pulse: Pulse
    earlier: list[Pulse]
    adoption_months: int
    rules: dict[str, Any] | None  # as stored; None for the defaults
    version: int
    key: str

    def book(self) -> Rulebook:
        return Rulebook() if self.rules is None else Rulebook.from_dict(self.rules)


def _inputs(
    session: Session, system: System, pulse: Pulse, now: datetime, closed: list[Pulse] | None
) -> _Inputs:
    """What a pulse's warning signs depend on, summed up in a short key that is cheap to make.

    The cells come from the ledger (``services.ledger``), which structure and k never change
    once a pulse is published; a pulse's revision moves when its responses change after it
    closed (a late upload, an erasure, a response whose request was under way as it closed:
    see ``services.responses.ingest`` and ``services.structure.close_pulse``), and makes its
    ledger due a revision. The rules and the adoption window are read with the key.
    """
    closed = closed_pulses(session, system.id, now) if closed is None else closed
    earlier = [p for p in closed if (p.opens_on, p.key) < (pulse.opens_on, pulse.key)][-EARLIER:]
    adoption_months = session.execute(
        select(System.adoption_months).where(System.id == system.id)
    ).scalar_one()
    stored = session.get(RuleSet, system.id)
    rules, version = (None, 1) if stored is None else (stored.rules, stored.version)
    facts = [
        adoption_months,
        version,
        [[p.id, str(closes_on(p)), p.revision] for p in [*earlier, pulse]],
    ]
    key = hashlib.sha256(json.dumps(facts).encode()).hexdigest()
    return _Inputs(system, pulse, earlier, adoption_months, rules, version, key)


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
    done = _publication(session, system.id, pulse.id)
    return inputs, done


def _publication(session: Session, system_id: int, pulse_id: int) -> Publication | None:
    return session.scalar(
        select(Publication).where(
            Publication.system_id == system_id, Publication.pulse_id == pulse_id
        )
    )


def publish(
    session: Session,
    system: System,
    pulse: Pulse,
    now: datetime,
    closed: list[Pulse] | None = None,
) -> Publication:
    """A closed pulse's ledger and warning signs, brought up to date now if they are not.

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
    plans, flags = _compute(session, inputs, lock=True)
    return _write(session, inputs, done, plans, flags, now)


@dataclass(frozen=True)
class Computed:
    """Results of a pulse computed from one read of their inputs, not yet kept."""

    key: str
    plans: list[ledger.Plan]
    flags: list[Flag]


def compute(session: Session, system: System, pulse: Pulse, now: datetime) -> Computed | None:
    """A pulse's results, computed without writing; None when the kept ones are current.

    With ``keep``, for SQLite, where a transaction that writes holds the whole database:
    the computation reads in a transaction of its own, and only keeping the results writes.
    """
    inputs, done = _kept(session, system, pulse, now, None)
    if done is not None and done.inputs == inputs.key:
        return None
    plans, flags = _compute(session, inputs, lock=False)
    return Computed(inputs.key, plans, flags)


def keep(session: Session, system: System, pulse: Pulse, computed: Computed, now: datetime) -> bool:
    """Keep results computed earlier, if their inputs are still those now (else False)."""
    inputs, done = _kept(session, system, pulse, now, None)
    if inputs.key != computed.key:
        return False
    for plan in computed.plans:
        # Another computation may have kept an edition of the same pulse meanwhile.
        kept = _publication(session, system.id, plan.pulse_id)
        if kept is not None and kept.editions != plan.number:
            return False
    if done is None or done.inputs != inputs.key:
        _write(session, inputs, done, computed.plans, computed.flags, now)
    return True


def _write(
    session: Session,
    inputs: _Inputs,
    done: Publication | None,
    plans: list[ledger.Plan],
    flags: list[Flag],
    now: datetime,
) -> Publication:
    """Keep the ledger editions planned, the pulse's flags, and the inputs they are from."""
    system_id = inputs.system.id
    # Feeds page by (updated_at, id): a stamp never earlier than the last one keeps rows
    # written later from sorting before rows a reader has already paged past.
    last = session.scalar(
        select(func.max(Publication.computed_at)).where(Publication.system_id == system_id)
    )
    now = max(now, last + timedelta(microseconds=1)) if last is not None else now
    records = {}
    for plan in plans:
        record = _publication(session, system_id, plan.pulse_id)
        if record is None:
            record = Publication(
                system_id=system_id,
                pulse_id=plan.pulse_id,
                inputs="",
                rules_version=inputs.version,
                computed_at=now,
                editions=0,
            )
            session.add(record)
        ledger.write(session, system_id, record, plan, now)
        _sync_cells(session, system_id, plan.pulse_id, plan.cells, now)
        records[plan.pulse_id] = record
    _sync_flags(session, inputs, flags, now)
    done = records.get(inputs.pulse.id, done)
    if done is None:
        done = Publication(system_id=system_id, pulse_id=inputs.pulse.id, editions=0)
        session.add(done)
    done.inputs = inputs.key
    done.rules_version = inputs.version
    done.computed_at = now
    session.flush()
    return done


def _compute(session: Session, inputs: _Inputs, lock: bool) -> tuple[list[ledger.Plan], list[Flag]]:
    """The ledger editions due for the pulse and those before it, and the pulse's flags.

    The rules read the ledger's published cells only: no disclosure decision is made here
    except the first publication (or a revision) of a pulse whose ledger is due.
    """
    pulses = [*inputs.earlier, inputs.pulse]
    plans: list[ledger.Plan] = []
    kept: Kept = {}
    structure: ledger.Structure | None = None
    for pulse in pulses:
        record = _publication(session, inputs.system.id, pulse.id)
        if lock:
            ledger.lock(session, pulse.id)
        plan = ledger.plan(session, inputs.system, pulse, record)
        if plan is not None:
            plans.append(plan)
            for (dimension, place), cells in plan.kept.items():
                kept[(pulse.key, dimension, place)] = cells
            if pulse is inputs.pulse:
                structure = plan.structure
        else:
            kept.update(_kept_cells(session, pulse))
            if pulse is inputs.pulse:
                assert record is not None and record.structure is not None
                structure = ledger.Structure.from_json(record.structure)
    assert structure is not None
    k = plans[-1].k if plans and plans[-1].pulse_id == inputs.pulse.id else None
    if k is None:
        record = _publication(session, inputs.system.id, inputs.pulse.id)
        assert record is not None and record.k is not None
        k = record.k
    team_place = structure.team_place()
    # Team cells of earlier pulses are read at the team's place in this pulse.
    for (pulse_key, dimension, place), cells in list(kept.items()):
        for key, moments in list(cells.items()):
            if key.scope == "team" and team_place.get(key.subject, place) != place:
                del cells[key]
                kept.setdefault((pulse_key, dimension, team_place[key.subject]), {})[key] = moments
    ids = [p.id for p in pulses]
    counts = response_counts(session, inputs.system.id, ids)
    key_of = {p.id: p.key for p in pulses}
    snapshot = Snapshot(
        system=inputs.system.slug,
        pulse=PulseFacts(inputs.pulse.key, closes_on(inputs.pulse)),
        earlier=tuple(PulseFacts(p.key, closes_on(p)) for p in inputs.earlier),
        teams=tuple(structure.facts()),
        responses={(key_of[p], team): n for (p, team), n in counts.items()},
        scores={},
        k=k,
        adoption_months=inputs.adoption_months,
    )
    flags, _ = assess(snapshot, inputs.book(), KeptCells(kept, team_place))
    return plans, flags


def _kept_cells(
    session: Session, pulse: Pulse
) -> dict[tuple[str, str, str], dict[CellKey, Moments]]:
    """The published cells of a pulse's ledger, with their sums."""
    rows = session.execute(
        select(
            ScoreCell.scope,
            ScoreCell.place,
            ScoreCell.team,
            ScoreCell.dimension,
            ScoreCell.segment_type,
            ScoreCell.segment,
            ScoreCell.n,
            ScoreCell.total,
            ScoreCell.total_sq,
        ).where(ScoreCell.pulse_id == pulse.id, ScoreCell.suppressed.is_(False))
    )
    kept: dict[tuple[str, str, str], dict[CellKey, Moments]] = {}
    for scope, place, team, dimension, segment_type, segment, n, total, total_sq in rows:
        cell = CellKey(scope, team if team is not None else place, segment_type, segment)
        kept.setdefault((pulse.key, dimension, place), {})[cell] = Moments(
            n or 0, total or 0.0, total_sq or 0.0
        )
    return kept


NUMBERS = ("n", "mean", "sd", "ci_low", "ci_high", "suppressed")
SHOWN = (*NUMBERS, "published_at", "revision_withheld")  # what a score read shows of a cell
FIELDS = (*ledger.KEPT, "published_at", "revision_withheld", "small")


def _sync_cells(
    session: Session,
    system_id: int,
    pulse_id: int,
    cells: dict[ledger.CellRow, dict[str, Any]],
    now: datetime,
) -> None:
    """Make the stored cells of the pulse equal ``cells``, touching only those that changed."""
    stored = {
        (c.scope, c.place, c.team, c.dimension, c.segment_type, c.segment): c
        for c in session.scalars(select(ScoreCell).where(ScoreCell.pulse_id == pulse_id))
    }
    gone = [row.id for key, row in stored.items() if key not in cells]
    if gone:
        session.execute(delete(ScoreCell).where(ScoreCell.id.in_(gone)))
    new = []
    for key, numbers in cells.items():
        row = stored.get(key)
        values = {name: numbers.get(name) for name in FIELDS}
        values["revision_withheld"] = bool(values["revision_withheld"])
        values["small"] = bool(values["small"])
        if row is None:
            scope, place, team, dimension, segment_type, segment = key
            new.append(
                {
                    "system_id": system_id,
                    "pulse_id": pulse_id,
                    "scope": scope,
                    "place": place,
                    "team": team,
                    "dimension": dimension,
                    "segment_type": segment_type,
                    "segment": segment,
                    **values,
                    "updated_at": now,
                }
            )
        elif any(getattr(row, name) != values[name] for name in FIELDS):
            served = any(
                getattr(row, name) != values[name] for name in (*NUMBERS, "revision_withheld")
            )
            for name in FIELDS:
                setattr(row, name, values[name])
            if served:
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
                **{name: getattr(whole, name) for name in SHOWN},
                "breakdowns": [
                    {
                        "segment_type": c.segment_type,
                        "segment": c.segment,
                        **{name: getattr(c, name) for name in SHOWN},
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
