"""Publishing a closed pulse's results: computed once per set of inputs, then kept.

A closed pulse's results are the cells of its ledger (``results.ledger``: decided at its
first publication from the structure and k of its close, revised when its responses
change) and the warning signs the rules read from the kept cells of it and of the few
pulses before it. ``publish`` computes and keeps them in one transaction (``compute`` then
``keep`` split that in two, for SQLite): ahead of reads, by the publisher
(``results.publisher``), or at the first read that finds them missing (``results.reads``).
They are kept (``score_cell``, ``warning_sign``) with a digest of their inputs
(``inputs_key``: the engine's version, the rulebook's version, the adoption window, and
the id, closing day and responses revision of the pulse and of those before it), and
computed again only when the digest differs (a late upload, an erasure, a new rulebook).
Rows whose content is unchanged keep their ``updated_at``, for incremental feeds.

Here too: the rulebook a computation reads, and which of a system's pulses are closed.
"""

import hashlib
import json
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, event, func, or_, select
from sqlalchemy.orm import Session

from app.analysis.cells import CellKey, cell_id
from app.analysis.published import KeptCells
from app.analysis.signs import BREAKDOWNS_READ, Assessment, Rulebook, assessment, grade
from app.analysis.snapshot import Flag, Snapshot
from app.analysis.snapshot import Pulse as PulseFacts
from app.analysis.stats import Moments
from app.domain import pulse_status
from app.errors import ResultsComputing
from app.models import (
    Publication,
    Pulse,
    RuleSet,
    ScoreCell,
    System,
    WarningSign,
)
from app.services.aggregation import response_counts
from app.services.bulk import NULL, copy_text, insert_rows, insert_values, text_field
from app.services.results import assessments, ledger, participation
from app.services.results.collector import collector_paused
from app.services.results.revisions import revise
from app.vocab import PulseStatus

# Earlier pulses a computation reads: falling pools up to three published ones, a
# sustained decline spans four pulses in a row.
EARLIER = 4
# The first key of the advisory locks that serialise computations (the second: a system).
LOCK_SPACE = 7301
# The version of how warning signs are computed from kept cells, part of every inputs key:
# moved when the engine changes (tests, evidence, messages), so that every kept pulse's
# flags are computed again once, by the new code. (Its cells, the ledger, stay as kept.)
ENGINE = 2


# SQLite has no advisory locks. Within the process (the embedded deployment runs one),
# a computation of a system's results holds its lock here, so that a read finding it held
# answers what is kept instead of computing the same results beside it, as PostgreSQL's
# try-lock does (``publish``). Only the publisher ever waits for one.
_LOCAL: dict[int, threading.Lock] = {}
_LOCAL_GUARD = threading.Lock()


def local_lock(system_id: int) -> threading.Lock:
    """The process's lock on computing ``system_id``'s results (SQLite)."""
    with _LOCAL_GUARD:
        return _LOCAL.setdefault(system_id, threading.Lock())


# -- rules ---------------------------------------------------------------------------------


# The cells of ledgers read, by pulse, the ledger's state and whether only whole cells were
# read: a ledger's cells change only when an edition is written, which moves ``editions``.
KeptCache = dict[
    tuple[int, int, int | None, bool], dict[tuple[str, str, str], dict[CellKey, Moments]]
]


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
    revise(session, system_id, at_once=True)
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
Streams = Callable[[int, str], ledger.Stream]  # (pulse id, pulse key) -> writer of its cells


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

    The cells come from the ledger (``results.ledger``), which structure and k never change
    once a pulse is published; a pulse's revision moves when its responses change after it
    closed (a late upload, an erasure, a response whose request was under way as it closed:
    see ``services.responses.ingest`` and ``services.structure.close_pulse``), and makes its
    ledger due a revision. The rules and the adoption window are read with the key.
    """
    closed = closed_pulses(session, system.id, now) if closed is None else closed
    earlier = _earlier(closed, pulse)
    adoption_months = session.execute(
        select(System.adoption_months).where(System.id == system.id)
    ).scalar_one()
    stored = session.get(RuleSet, system.id)
    rules, version = (None, 1) if stored is None else (stored.rules, stored.version)
    key = _digest(adoption_months, version, [*earlier, pulse])
    return _Inputs(system, pulse, earlier, adoption_months, rules, version, key)


def _earlier(closed: list[Pulse], pulse: Pulse) -> list[Pulse]:
    """The closed pulses before ``pulse`` that its warning signs read."""
    return [p for p in closed if (p.opens_on, p.key) < (pulse.opens_on, pulse.key)][-EARLIER:]


def _digest(adoption_months: int, version: int, pulses: list[Pulse]) -> str:
    """The inputs key of the last of ``pulses`` (the others: those before it it reads)."""
    facts = [
        ENGINE,
        adoption_months,
        version,
        [[p.id, str(closes_on(p)), p.revision] for p in pulses],
    ]
    return hashlib.sha256(json.dumps(facts).encode()).hexdigest()


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


@collector_paused
def publish(
    session: Session,
    system: System,
    pulse: Pulse,
    now: datetime,
    closed: list[Pulse] | None = None,
    seen: KeptCache | None = None,
    wait: bool = True,
) -> Publication:
    """A closed pulse's ledger and warning signs, brought up to date now if they are not.

    ``closed`` is the system's closed pulses, when the caller has them already; ``seen``
    keeps the cells of ledgers read, for a caller publishing several pulses in turn.
    Without ``wait`` (a read), when another transaction is computing the system's results
    the results kept before are returned as they are, or ``ResultsComputing`` raised if
    there are none, rather than waiting for it.
    """
    inputs, done = _kept(session, system, pulse, now, closed)
    if done is not None and done.inputs == inputs.key:
        return done
    if session.get_bind().dialect.name != "postgresql":
        held = local_lock(system.id)
        if not held.acquire(blocking=wait):
            return _kept_meanwhile(pulse, done)
        try:
            plans, assessed = _compute(session, inputs, lock=True, seen=seen)
            flags = grade(assessed, inputs.book())
            return _write(session, inputs, done, plans, assessed, flags, now)
        finally:
            held.release()
    # One computation per system at a time: a second reader waits, then finds it done
    # (so look again, at everything afresh), and rows are stamped in the order they are
    # committed (below).
    lock = (LOCK_SPACE, system.id)
    if not wait and not session.scalar(select(func.pg_try_advisory_xact_lock(*lock))):
        return _kept_meanwhile(pulse, done)
    if wait:
        session.execute(select(func.pg_advisory_xact_lock(*lock)))
    session.expire_all()
    inputs, done = _kept(session, system, pulse, now, None)
    if done is not None and done.inputs == inputs.key:
        return done
    now = _stamped(session, system.id, now)  # the cells streamed carry the stamp _write makes
    streams = _cell_streams(session, inputs, now)
    plans, assess = _planned(session, inputs, lock=True, seen=seen, streams=streams)
    # The assessment is made in a thread while this one waits on the database keeping the
    # editions (the responses they include are marked: some 25,000 rows at 2,000 teams).
    pool = ThreadPoolExecutor(1, thread_name_prefix="pulse-assessment")
    try:
        assessing = pool.submit(assess)
        records = _keep_editions(session, inputs, plans, now)
        assessed = assessing.result()
    finally:
        # A write that fails is not held back until the assessment is made (seconds at
        # 8,000 teams): the caller rolls back, and lets the locks go, at once; the thread
        # ends on its own, on plain values, and what it makes is dropped.
        pool.shutdown(wait=False)
    flags = grade(assessed, inputs.book())
    return _write(session, inputs, done, plans, assessed, flags, now, records)


def _kept_meanwhile(pulse: Pulse, done: Publication | None) -> Publication:
    """What a read answers while another transaction computes: the results kept before."""
    if done is not None:
        return done  # published before, so known already: nothing new is shown
    raise ResultsComputing(f"The results of pulse {pulse.key!r} are being computed; retry shortly.")


def publish_all(
    session: Session,
    system: System,
    pulses: Sequence[Pulse],
    now: datetime,
    closed: list[Pulse] | None = None,
    wait: bool = True,
) -> list[Publication]:
    """``publish`` for each of ``pulses`` (closed ones), in their order.

    A read calls this for every closed pulse it shows, and they are almost always current:
    so their keys are made from one read of what they depend on and their records are read
    in one statement, and only a pulse whose kept results are not current goes through
    ``publish``.
    """
    if not pulses:
        return []
    closed = closed_pulses(session, system.id, now) if closed is None else closed
    adoption_months = session.execute(
        select(System.adoption_months).where(System.id == system.id)
    ).scalar_one()
    stored = session.get(RuleSet, system.id)
    version = 1 if stored is None else stored.version
    records = {
        record.pulse_id: record
        for record in session.scalars(
            select(Publication).where(
                Publication.system_id == system.id,
                Publication.pulse_id.in_([p.id for p in pulses]),
            )
        )
    }
    out = []
    for pulse in pulses:
        record = records.get(pulse.id)
        key = _digest(adoption_months, version, [*_earlier(closed, pulse), pulse])
        if record is None or record.inputs != key:
            record = publish(session, system, pulse, now, closed, wait=wait)
        out.append(record)
    return out


@dataclass(frozen=True)
class Computed:
    """Results of a pulse computed from one read of their inputs, not yet kept."""

    key: str
    plans: list[ledger.Plan]
    assessed: Assessment
    flags: list[Flag]


@collector_paused
def compute(
    session: Session, system: System, pulse: Pulse, now: datetime, seen: KeptCache | None = None
) -> Computed | None:
    """A pulse's results, computed without writing; None when the kept ones are current.

    With ``keep``, for SQLite, where a transaction that writes holds the whole database:
    the computation reads in a transaction of its own, and only keeping the results writes.
    """
    inputs, done = _kept(session, system, pulse, now, None)
    if done is not None and done.inputs == inputs.key:
        return None
    plans, assessed = _compute(session, inputs, lock=False, seen=seen)
    return Computed(inputs.key, plans, assessed, grade(assessed, inputs.book()))


@collector_paused
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
        _write(session, inputs, done, computed.plans, computed.assessed, computed.flags, now)
    return True


def _write(
    session: Session,
    inputs: _Inputs,
    done: Publication | None,
    plans: list[ledger.Plan],
    assessed: Assessment,
    flags: list[Flag],
    now: datetime,
    records: dict[int, Publication] | None = None,
) -> Publication:
    """Keep the ledger editions planned, the pulse's flags, and the inputs they are from.

    ``records``: the editions are kept already (``_keep_editions``, stamped ``now``).
    With an edition written, the assessment made from its cells is kept in memory once the
    transaction commits, under the key of the ledger as it then stands: the cells of the
    edition are those the assessment read.
    """
    system_id = inputs.system.id
    if records is None:
        now = _stamped(session, system_id, now)
        records = _keep_editions(session, inputs, plans, now)
    _sync_flags(session, inputs, flags, now)
    done = records.get(inputs.pulse.id, done)
    if done is None:
        done = Publication(system_id=system_id, pulse_id=inputs.pulse.id, editions=0)
        session.add(done)
    if plans or not _rules_alone(inputs, done):
        assert done.structure is not None  # loaded here only: a rule change needs none of it
        participation.sync(session, inputs.system, inputs.pulse, done.structure, now)
    done.inputs = inputs.key
    done.rules_version = inputs.version
    done.computed_at = now
    session.flush()
    if plans:
        pulses = [*inputs.earlier, inputs.pulse]
        ledgers = publication_records(session, system_id, pulses)
        key = assessment_key(
            inputs.system,
            inputs.pulse,
            inputs.earlier,
            ledgers,
            inputs.adoption_months,
            inputs.book(),
        )
        _keep_when_committed(session, key, assessed)
    return done


def _keep_editions(
    session: Session, inputs: _Inputs, plans: list[ledger.Plan], now: datetime
) -> dict[int, Publication]:
    """Keep the ledger editions planned (stamped ``now``): each pulse's publication record."""
    system_id = inputs.system.id
    key_of = {p.id: p.key for p in [*inputs.earlier, inputs.pulse]}
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
        if not plan.written:
            keys = (inputs.system.slug, key_of[plan.pulse_id])
            _sync_cells(session, system_id, plan.pulse_id, keys, plan.cells, now)
        records[plan.pulse_id] = record
    return records


def _stamped(session: Session, system_id: int, now: datetime) -> datetime:
    """The time a publication stamps its rows with: now, or just after the last one.

    Feeds page by (updated_at, id): a stamp never earlier than the last one keeps rows
    written later from sorting before rows a reader has already paged past.
    """
    last = session.scalar(
        select(func.max(Publication.computed_at)).where(Publication.system_id == system_id)
    )
    return max(now, last + timedelta(microseconds=1)) if last is not None else now


def _cell_streams(session: Session, inputs: _Inputs, now: datetime) -> Streams:
    """For each pulse, a stream that writes the cells of its first publication as its
    places are decided (PostgreSQL, in the transaction that keeps them, stamped ``now``).

    COPY of some 125,000 cells at 2,000 teams kept the server busy for about 1.5 s after
    the last was decided; sent place by place, it inserts them while the next places are
    decided (its foreign-key checks still run at its end, about 0.4 s). The rows are sent
    in COPY's text format, made by ``_CellText``: psycopg's own ``write_row`` took about
    as long again as making the values. A pulse holding
    rows already (none does, at a first publication) gives no stream: its cells are then
    compared with those rows by ``_sync_cells``.
    """
    system_id, slug = inputs.system.id, inputs.system.slug

    def streams(pulse_id: int, pulse_key: str) -> ledger.Stream:
        @contextmanager
        def stream() -> Iterator[ledger.Sink | None]:
            held = select(ScoreCell.id).where(ScoreCell.pulse_id == pulse_id).limit(1)
            if session.scalar(held) is not None:
                yield None
                return
            with copy_text(session, ScoreCell, CELL_COLUMNS) as send:
                yield _CellText(system_id, pulse_id, (slug, pulse_key), now, send)

        return stream

    return streams


TAB = "\t"  # between the fields of a row of COPY's text format


class _CellText:
    """A sink of a pulse's new cells: rows of COPY's text format, in the order of
    ``CELL_COLUMNS``, with the values ``_new_cell`` gives (stamped ``now``)."""

    def __init__(
        self,
        system_id: int,
        pulse_id: int,
        keys: tuple[str, str],
        now: datetime,
        send: Callable[[bytes], None],
    ) -> None:
        self.keys, self.now, self.write = keys, now, send
        self.ids = f"{TAB}{system_id}{TAB}{pulse_id}{TAB}"
        self.end = f"{TAB}{text_field(now)}{TAB}{NULL}\n"
        # Identities repeat their codes: the text of each is made once.
        self.subjects: dict[tuple[str, str, str | None], str] = {}
        self.segments: dict[tuple[str, str | None, str | None], str] = {}
        self.hidden: dict[tuple[Any, ...], str] = {}

    def encode(self, cells: dict[ledger.CellRow, dict[str, Any]]) -> bytes:
        ledger.stamp(cells.values(), self.now)
        slug, pulse_key = self.keys
        subjects, segments, hidden = self.subjects, self.segments, self.hidden
        lines = []
        for key, numbers in cells.items():
            scope, place, team, dimension, segment_type, segment = key
            subject = team if team is not None else place
            public_id = cell_id(slug, pulse_key, scope, subject, dimension, segment_type, segment)
            head = subjects.get(key[:3])
            if head is None:
                head = subjects[key[:3]] = TAB.join(map(text_field, key[:3]))
            tail = segments.get(key[3:])
            if tail is None:
                tail = segments[key[3:]] = TAB.join(map(text_field, key[3:]))
            values = (
                *[numbers.get(name) for name in ledger.KEPT],
                numbers.get("published_at"),
                bool(numbers.get("revision_withheld")),
                bool(numbers.get("small")),
            )
            if numbers["suppressed"]:  # null numbers, of a few kinds: each text made once
                shown = hidden.get(values)
                if shown is None:
                    shown = hidden[values] = TAB.join(map(text_field, values))
            else:
                shown = TAB.join(map(text_field, values))
            lines.append(f"{public_id}{self.ids}{head}{TAB}{tail}{TAB}{shown}{self.end}")
        return "".join(lines).encode()

    def __call__(self, cells: dict[ledger.CellRow, dict[str, Any]]) -> None:
        self.write(self.encode(cells))


# Key of ``Session.info``: assessments to keep in memory once the session commits.
ASSESSED = "pulse_assessed"


def _keep_when_committed(session: Session, key: tuple[Any, ...], assessed: Assessment) -> None:
    """Keep an assessment made from cells this session writes, if and once it commits."""
    session.info.setdefault(ASSESSED, []).append((key, assessed))
    if not event.contains(session, "after_commit", _committed):
        event.listen(session, "after_commit", _committed)
        event.listen(session, "after_rollback", _rolled_back)


def _committed(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint released: the transaction may still roll back
    for key, assessed in session.info.pop(ASSESSED, []):
        assessments.KEPT.put(key, assessed)


def _rolled_back(session: Session) -> None:
    session.info.pop(ASSESSED, None)


def _rules_alone(inputs: _Inputs, done: Publication) -> bool:
    """Whether the kept results differ from the inputs by the rulebook alone.

    Then nothing participation counts has changed since it was kept (the same pulses,
    responses revisions and adoption window), and a rule change leaves it as it is.
    """
    if done.rules_version == inputs.version:
        return False
    pulses = [*inputs.earlier, inputs.pulse]
    return done.inputs == _digest(inputs.adoption_months, done.rules_version, pulses)


def _compute(
    session: Session,
    inputs: _Inputs,
    lock: bool,
    seen: KeptCache | None = None,
    streams: Streams | None = None,
) -> tuple[list[ledger.Plan], Assessment]:
    """The ledger editions due for the pulse and those before it, and the pulse's assessment."""
    plans, assess = _planned(session, inputs, lock, seen, streams)
    return plans, assess()


def _planned(
    session: Session,
    inputs: _Inputs,
    lock: bool,
    seen: KeptCache | None = None,
    streams: Streams | None = None,
) -> tuple[list[ledger.Plan], Callable[[], Assessment]]:
    """The ledger editions due for the pulse and those before it, and what makes the
    pulse's assessment when called (reading nothing from the database).

    The rules read the ledger's published cells only: no disclosure decision is made here
    except the first publication (or a revision) of a pulse whose ledger is due. When no
    edition is due, the pulse's assessment (its comparisons, whatever the thresholds) is
    the one kept in memory for those cells if there is one (``results.assessments``), so a
    rule change only grades it.
    """
    pulses = [*inputs.earlier, inputs.pulse]
    plans: list[ledger.Plan] = []
    records: dict[int, Publication | None] = {}
    for pulse in pulses:
        record = _publication(session, inputs.system.id, pulse.id)
        if lock:
            ledger.lock(session, pulse.id)
        stream = streams(pulse.id, pulse.key) if streams is not None else None
        plan = ledger.plan(session, inputs.system, pulse, record, stream)
        records[pulse.id] = record
        if plan is not None:
            plans.append(plan)
    book = inputs.book()
    if not plans:
        assessed = kept_assessment(
            session,
            inputs.system,
            inputs.pulse,
            inputs.earlier,
            records,
            inputs.adoption_months,
            book,
            seen,
        )
        return plans, lambda: assessed
    # An edition is due: the rules read the cells it plans (not kept yet: their assessment
    # is kept in memory once the edition is committed, ``_write``) beside the kept cells
    # of the other pulses.
    kept: Kept = {}
    planned = {plan.pulse_id: plan for plan in plans}
    for pulse in pulses:
        plan = planned.get(pulse.id)
        if plan is not None:
            for (dimension, place), cells in plan.kept.items():
                kept[(pulse.key, dimension, place)] = cells
        else:
            record = records[pulse.id]
            assert record is not None
            kept.update(_kept_cells_seen(session, pulse, record, seen, pulse is not inputs.pulse))
    current = planned.get(inputs.pulse.id)
    if current is not None:
        structure, k = current.structure, current.k
    else:
        record = records[inputs.pulse.id]
        assert record is not None and record.structure is not None and record.k is not None
        structure, k = ledger.Structure.from_json(record.structure), record.k
    assess = _assessing(
        session,
        inputs.system,
        inputs.pulse,
        inputs.earlier,
        kept,
        structure,
        k,
        inputs.adoption_months,
        book,
    )
    return plans, assess


def kept_assessment(
    session: Session,
    system: System,
    pulse: Pulse,
    earlier: Sequence[Pulse],
    records: Mapping[int, Publication | None],
    adoption_months: int,
    book: Rulebook,
    seen: KeptCache | None = None,
) -> Assessment:
    """A pulse's assessment from the kept cells of it and of ``earlier``: kept in memory.

    ``records`` holds the publication record of each of those pulses (None: none kept).
    Made from the committed ledger only: a caller with an edition due uses ``_assessment``.
    """
    record = records[pulse.id]
    if record is None or record.k is None:  # k and structure are kept by the first edition
        raise ResultsComputing(
            f"The results of pulse {pulse.key!r} are not kept yet; retry shortly."
        )
    key = assessment_key(system, pulse, earlier, records, adoption_months, book)
    assessed = assessments.KEPT.get(key)
    if assessed is not None:
        return assessed
    assert record.structure is not None
    cells: Kept = {}
    for each in [*earlier, pulse]:
        kept = records[each.id]
        whole_only = each is not pulse
        if kept is None:
            cells.update(_kept_cells(session, each, whole_only))
        else:
            cells.update(_kept_cells_seen(session, each, kept, seen, whole_only))
    structure = ledger.Structure.from_json(record.structure)
    assessed = _assessment(
        session, system, pulse, earlier, cells, structure, record.k, adoption_months, book
    )
    assessments.KEPT.put(key, assessed)
    return assessed


def assessment_key(
    system: System,
    pulse: Pulse,
    earlier: Sequence[Pulse],
    records: Mapping[int, Publication | None],
    adoption_months: int,
    book: Rulebook,
) -> tuple[Any, ...]:
    """What a pulse's assessment is made from, as the key it is kept in memory under."""
    ledgers: list[tuple[Any, ...]] = []
    for each in [*earlier, pulse]:
        kept = records[each.id]
        # The first publication's time besides the ids: a database restored or made
        # afresh under a running process, with the same ids, is not taken for this one.
        state = (
            (None, None, None)
            if kept is None
            else (kept.editions, kept.responses_revision, kept.published_at)
        )
        ledgers.append((each.id, str(closes_on(each)), each.revision, *state))
    return (
        ENGINE,
        system.id,
        pulse.id,
        adoption_months,
        book.alpha,
        book.baseline_pulses,
        tuple(ledgers),
    )


def publication_records(
    session: Session, system_id: int, pulses: Sequence[Pulse]
) -> dict[int, Publication | None]:
    """The publication record of each of some pulses, by pulse id (None: none kept)."""
    records: dict[int, Publication | None] = {p.id: None for p in pulses}
    for record in session.scalars(
        select(Publication).where(
            Publication.system_id == system_id,
            Publication.pulse_id.in_([p.id for p in pulses]),
        )
    ):
        records[record.pulse_id] = record
    return records


def warm(
    session: Session,
    system: System,
    pulse: Pulse,
    closed: list[Pulse],
    seen: KeptCache | None = None,
) -> bool:
    """Make and keep a closed pulse's assessment if it is not kept; whether one was made.

    The publisher calls this when it has nothing due, so that the first rule change or
    preview after a start, or after a pulse is published, grades rather than reads.
    """
    earlier = _earlier(closed, pulse)
    pulses = [*earlier, pulse]
    records = publication_records(session, system.id, pulses)
    current = records[pulse.id]
    if current is None or current.k is None:
        return False  # not published yet: the publisher publishes it first
    adoption_months = session.execute(
        select(System.adoption_months).where(System.id == system.id)
    ).scalar_one()
    book = rulebook(session, system.id)[0]
    key = assessment_key(system, pulse, earlier, records, adoption_months, book)
    if key in assessments.KEPT:
        return False
    kept_assessment(session, system, pulse, earlier, records, adoption_months, book, seen)
    return True


def _assessment(
    session: Session,
    system: System,
    pulse: Pulse,
    earlier: Sequence[Pulse],
    kept: Kept,
    structure: ledger.Structure,
    k: int,
    adoption_months: int,
    book: Rulebook,
) -> Assessment:
    """The comparisons of a pulse's rules over cells read (changed: team cells re-placed)."""
    return _assessing(session, system, pulse, earlier, kept, structure, k, adoption_months, book)()


def _assessing(
    session: Session,
    system: System,
    pulse: Pulse,
    earlier: Sequence[Pulse],
    kept: Kept,
    structure: ledger.Structure,
    k: int,
    adoption_months: int,
    book: Rulebook,
) -> Callable[[], Assessment]:
    """``_assessment``, read now and made when called: the call reads nothing from the
    database, so it may run in another thread while this one writes.

    Everything the call needs is read here, from the session and its ORM objects, into
    plain values: the call touches no ORM object, so an attribute expired meanwhile (by
    the write in this thread) is never loaded from another.
    """
    team_place = structure.team_place()
    pulses = [*earlier, pulse]
    counts = response_counts(session, system.id, [p.id for p in pulses])
    key_of = {p.id: p.key for p in pulses}
    facts = PulseFacts(pulse.key, closes_on(pulse))
    earlier_facts = tuple(PulseFacts(p.key, closes_on(p)) for p in earlier)
    slug = system.slug
    teams = tuple(structure.facts())

    def made() -> Assessment:
        # Team cells of earlier pulses are read at the team's place in this pulse.
        for (pulse_key, dimension, place), cells in list(kept.items()):
            for key, moments in list(cells.items()):
                if key.scope == "team" and team_place.get(key.subject, place) != place:
                    del cells[key]
                    kept.setdefault((pulse_key, dimension, team_place[key.subject]), {})[key] = (
                        moments
                    )
        snapshot = Snapshot(
            system=slug,
            pulse=facts,
            earlier=earlier_facts,
            teams=teams,
            responses={(key_of[p], team): n for (p, team), n in counts.items()},
            scores={},
            k=k,
            adoption_months=adoption_months,
        )
        return assessment(snapshot, book, KeptCells(kept, team_place))

    return made


def _kept_cells_seen(
    session: Session,
    pulse: Pulse,
    record: Publication,
    seen: KeptCache | None,
    whole_only: bool = False,
) -> dict[tuple[str, str, str], dict[CellKey, Moments]]:
    """``_kept_cells``, read once per state of the ledger when the caller keeps ``seen``."""
    if seen is None:
        return _kept_cells(session, pulse, whole_only)
    key = (pulse.id, record.editions, record.responses_revision, whole_only)
    if key not in seen:
        seen[key] = _kept_cells(session, pulse, whole_only)
    # The caller moves cells between places: a copy of each place's cells.
    return {where: dict(cells) for where, cells in seen[key].items()}


def _kept_cells(
    session: Session, pulse: Pulse, whole_only: bool = False
) -> dict[tuple[str, str, str], dict[CellKey, Moments]]:
    """The published cells of a pulse's ledger, with their sums.

    Only the cells the rules read: whole team and place cells, and the breakdowns of
    ``BREAKDOWNS_READ`` (not professions, for one: half of a pulse's cells). With
    ``whole_only``, the whole cells alone: all the rules read of an earlier pulse (a
    baseline, a run of falls, whether a team was reportable), a twelfth of its cells.
    """
    stmt = select(
        ScoreCell.scope,
        ScoreCell.place,
        ScoreCell.team,
        ScoreCell.dimension,
        ScoreCell.segment_type,
        ScoreCell.segment,
        ScoreCell.n,
        ScoreCell.total,
        ScoreCell.total_sq,
    ).where(
        ScoreCell.pulse_id == pulse.id,
        ScoreCell.suppressed.is_(False),
        ScoreCell.withdrawn_at.is_(None),
    )
    wanted: list[ColumnElement[bool]] = [ScoreCell.segment_type.is_(None)]
    if not whole_only:
        wanted += [
            and_(ScoreCell.segment_type == segment_type, ScoreCell.scope.in_(scopes))
            for segment_type, scopes in BREAKDOWNS_READ.items()
        ]
    stmt = stmt.where(or_(*wanted))
    rows = session.execute(stmt)
    kept: dict[tuple[str, str, str], dict[CellKey, Moments]] = {}
    for scope, place, team, dimension, segment_type, segment, n, total, total_sq in rows:
        cell = CellKey(scope, team if team is not None else place, segment_type, segment)
        kept.setdefault((pulse.key, dimension, place), {})[cell] = Moments(
            n or 0, total or 0.0, total_sq or 0.0
        )
    return kept


NUMBERS = ("n", "mean", "sd", "ci_low", "ci_high", "suppressed")
FIELDS = (*ledger.KEPT, "published_at", "revision_withheld", "small")
# The columns of a new cell's row, in the order ``_sync_cells`` makes its values.
IDENTITY = ("scope", "place", "team", "dimension", "segment_type", "segment")  # a CellRow
CELL_COLUMNS = (
    "public_id",
    "system_id",
    "pulse_id",
    *IDENTITY,
    *FIELDS,
    "updated_at",
    "withdrawn_at",
)


def _sync_cells(
    session: Session,
    system_id: int,
    pulse_id: int,
    keys: tuple[str, str],
    cells: dict[ledger.CellRow, dict[str, Any]],
    now: datetime,
) -> None:
    """Make the stored cells of the pulse equal ``cells``, touching only those that changed.

    ``updated_at`` moves only when what a feed serves of the row changes; a cell no longer
    listed stays as a tombstone (``withdrawn_at``), so incremental readers learn of it.
    New cells (every cell, at a first publication) are written as rows of values.
    """
    stored = {
        (c.scope, c.place, c.team, c.dimension, c.segment_type, c.segment): c
        for c in session.scalars(select(ScoreCell).where(ScoreCell.pulse_id == pulse_id))
    }
    for key, kept in stored.items():
        if key not in cells and kept.withdrawn_at is None:
            kept.withdrawn_at = kept.updated_at = now
    new: list[tuple[Any, ...]] = []
    for key, numbers in cells.items():
        row = stored.get(key)
        if row is None:
            new.append(_new_cell(system_id, pulse_id, keys, key, numbers, now))
            continue
        values = {name: numbers.get(name) for name in FIELDS}
        values["revision_withheld"] = bool(values["revision_withheld"])
        values["small"] = bool(values["small"])
        if row.withdrawn_at is not None or any(
            getattr(row, name) != values[name] for name in FIELDS
        ):
            served = row.withdrawn_at is not None or any(
                getattr(row, name) != values[name] for name in (*NUMBERS, "revision_withheld")
            )
            for name in FIELDS:
                setattr(row, name, values[name])
            row.withdrawn_at = None
            if served:
                row.updated_at = now
    insert_values(session, ScoreCell, CELL_COLUMNS, new)
    session.flush()


def _new_cell(
    system_id: int,
    pulse_id: int,
    keys: tuple[str, str],
    key: ledger.CellRow,
    numbers: dict[str, Any],
    now: datetime,
) -> tuple[Any, ...]:
    """The values of a new cell's row, in the order of ``CELL_COLUMNS``."""
    scope, place, team, dimension, segment_type, segment = key
    subject = team if team is not None else place
    return (
        cell_id(*keys, scope, subject, dimension, segment_type, segment),
        system_id,
        pulse_id,
        *key,
        *[numbers.get(field) for field in ledger.KEPT],
        numbers.get("published_at"),
        bool(numbers.get("revision_withheld")),
        bool(numbers.get("small")),
        now,
        None,
    )


# What a flag says; its rulebook version changes with it, not with every new rulebook.
FLAG_FIELDS = ("rule", "severity", "scope", "place", "team", "dimension", "message", "evidence")


def _sync_flags(session: Session, inputs: _Inputs, flags: Sequence[Flag], now: datetime) -> None:
    """Make the stored flags of the pulse equal ``flags``, touching only those that changed.

    A flag the rules no longer raise stays as a tombstone (``withdrawn_at``); one raised
    again comes back under its id. A changed row is deleted and inserted whole (on
    PostgreSQL by COPY): a threshold moved changes the evidence of every flag of its rule,
    thousands of rows that one UPDATE each took over a second to write.
    """
    columns = [getattr(WarningSign, name) for name in FLAG_COLUMNS]
    stored = {
        row.id: row._asdict()
        for row in session.execute(select(*columns).where(WarningSign.pulse_id == inputs.pulse.id))
    }
    wanted = {flag.id: flag for flag in flags}
    rows: list[dict[str, Any]] = []  # whole rows to write, new or changed
    for flag_id, kept in stored.items():
        if flag_id not in wanted and kept["withdrawn_at"] is None:
            rows.append({**kept, "withdrawn_at": now, "updated_at": now})
    for flag_id, flag in wanted.items():
        fields = {name: getattr(flag, name) for name in FLAG_FIELDS}
        # As stored and read back (tuples become lists), so that equal evidence compares equal.
        fields["evidence"] = json.loads(json.dumps(flag.evidence))
        row = stored.get(flag_id)
        if (
            row is None
            or row["withdrawn_at"] is not None
            or any(row[name] != value for name, value in fields.items())
        ):
            rows.append(
                {
                    "id": flag_id,
                    "system_id": inputs.system.id,
                    "pulse_id": inputs.pulse.id,
                    **fields,
                    "rules_version": inputs.version,
                    "updated_at": now,
                    "withdrawn_at": None,
                }
            )
    replaced = [row["id"] for row in rows if row["id"] in stored]
    for start in range(0, len(replaced), 1000):
        chunk = replaced[start : start + 1000]
        session.execute(delete(WarningSign).where(WarningSign.id.in_(chunk)))
    insert_rows(session, WarningSign, rows)
    session.flush()


# Every column of a flag's row: a row rewritten is written whole.
FLAG_COLUMNS = tuple(column.key for column in WarningSign.__table__.columns)
