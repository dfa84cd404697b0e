"""Storing responses: one validation and write path for the API and the CSV import."""

import hashlib
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, cast

import psycopg
from sqlalchemy import ARRAY, String, Table, any_, literal, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from app.db import FLUSHED
from app.domain import pulse_status
from app.errors import (
    MAX_ERRORS,
    Conflict,
    ErrorList,
    NotFound,
    ValidationFailed,
    field_error,
    shown,
)
from app.models import SCORE_SCALE, Organisation, Pulse, Response, Team
from app.schemas.responses import ResponseCreate
from app.services.pagination import Slice, cursor_datetime, keyset_page
from app.services.results.revisions import revise_pulse, writing_to
from app.vocab import DIMENSIONS, PulseStatus

RESPONSE_TABLE = cast(Table, Response.__table__)


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with item ``index``: ``field`` is a path inside the item, or ''."""

    index: int
    field: str
    detail: str


# Longer than any request takes from its start (its ``now``) to its commit, waits included
# (SQLite gives up waiting for the write lock after 30 s).
COMMIT_MARGIN = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class PulseRef:
    id: int
    key: str
    opens_on: date
    closes_on: date
    closed_at: datetime | None


@dataclass
class References:
    """Codes of one system resolved to ids, looked up once and kept for later batches."""

    session: Session
    system_id: int
    pulses: dict[str, PulseRef | None] = field(default_factory=dict)
    teams: dict[str, int | None] = field(default_factory=dict)
    organisations: dict[str, int | None] = field(default_factory=dict)
    # Once every code of the system is loaded, an unknown code needs no query.
    complete: bool = False

    def load(self, items: Iterable[ResponseCreate]) -> None:
        """Look up every code in ``items`` not looked up before."""
        if self.complete:
            return
        pulses, teams, orgs = set(), set(), set()
        for item in items:
            pulses.add(item.pulse)
            teams.add(item.team)
            if item.organisation is not None:
                orgs.add(item.organisation)
        self._load_pulses(pulses - self.pulses.keys())
        self._load_codes(Team, teams - self.teams.keys(), self.teams)
        self._load_codes(Organisation, orgs - self.organisations.keys(), self.organisations)

    def load_all(self) -> None:
        """Load every code of the system, for a long import that must not query as it goes."""
        self._load_pulses(None)
        self._load_codes(Team, None, self.teams)
        self._load_codes(Organisation, None, self.organisations)
        self.complete = True

    def _load_pulses(self, keys: set[str] | None) -> None:
        if keys is not None and not keys:
            return
        stmt = select(Pulse).where(Pulse.system_id == self.system_id)
        if keys is not None:
            stmt = stmt.where(Pulse.key.in_(keys))
        if keys is not None:
            # Locked before their state is read, so none of them closes until this commits.
            # (An import, which loads every pulse, locks none: it revises the system as it
            # commits, whatever closed meanwhile.)
            writing_to(self.session, stmt.with_only_columns(Pulse.id))
        stmt = stmt.execution_options(populate_existing=True)
        for pulse in self.session.scalars(stmt):
            self.pulses[pulse.key] = PulseRef(
                pulse.id, pulse.key, pulse.opens_on, pulse.closes_on, pulse.closed_at
            )
        for key in keys or ():
            self.pulses.setdefault(key, None)

    def _load_codes(
        self,
        model: type[Team] | type[Organisation],
        codes: set[str] | None,
        into: dict[str, int | None],
    ) -> None:
        if codes is not None and not codes:
            return
        stmt = select(model.code, model.id).where(model.system_id == self.system_id)
        if codes is not None:
            stmt = stmt.where(model.code.in_(codes))
        into.update({code: row_id for code, row_id in self.session.execute(stmt)})
        for code in codes or ():
            into.setdefault(code, None)


def stored_scores(item: ResponseCreate) -> tuple[int | None, ...]:
    """The five scores as stored: hundredths, or None for a skipped dimension."""
    s = item.scores
    # Written out rather than looped: this runs for every row of an import.
    return (
        None if s.purpose is None else round(s.purpose * SCORE_SCALE),
        None if s.belief is None else round(s.belief * SCORE_SCALE),
        None if s.support is None else round(s.support * SCORE_SCALE),
        None if s.new_ways_of_working is None else round(s.new_ways_of_working * SCORE_SCALE),
        None if s.partner_relationships is None else round(s.partner_relationships * SCORE_SCALE),
    )


def fingerprint(item: ResponseCreate, scores: tuple[int | None, ...]) -> str:
    """SHA-256 of a response's content: equal for a re-post, different for another answer."""
    # Codes match the code pattern and the vocabularies hold no '|', so joining is unambiguous.
    a, b, c, d, e = scores
    at = item.submitted_at
    content = "|".join(
        (
            item.pulse,
            item.team,
            "" if a is None else str(a),
            "" if b is None else str(b),
            "" if c is None else str(c),
            "" if d is None else str(d),
            "" if e is None else str(e),
            item.role or "",
            item.profession or "",
            item.organisation or "",
            "" if at is None else at.isoformat(),
        )
    )
    return hashlib.sha256(content.encode()).hexdigest()


# A response as stored, one value per column of COLUMNS (the id is left to the database).
Row = tuple[Any, ...]
COLUMNS = (
    "system_id",
    "pulse_id",
    "team_id",
    "organisation_id",
    "role",
    "profession",
    *DIMENSIONS,
    "submitted_at",
    "received_at",
    "external_id",
    "fingerprint",
    "stored_by",
)
EXTERNAL_ID = COLUMNS.index("external_id")
FINGERPRINT = COLUMNS.index("fingerprint")
STORED_BY = COLUMNS.index("stored_by")


@dataclass
class Prepared:
    """Rows ready to insert, or the problems that stop them."""

    rows: list[Row]
    # The item index of each row.
    indices: list[int]
    invalid: list[Problem]
    # Items aimed at a pulse the caller may not post to (409, not 422).
    refused: list[Problem]
    # Items repeating an earlier item of the same batch (same external_id, same answers).
    repeats: int = 0

    def extend(self, other: "Prepared") -> None:
        """Add the rows and problems of ``other``, prepared after these."""
        self.rows += other.rows
        self.indices += other.indices
        self.invalid += other.invalid
        self.refused += other.refused
        self.repeats += other.repeats


def prepare(
    refs: References,
    items: Sequence[tuple[int, ResponseCreate]],
    now: datetime,
    may_backfill: bool,
    seen: dict[str, str] | None = None,
    writer: str | None = None,
) -> Prepared:
    """Check references and pulse state, and build one row per valid item.

    ``seen`` maps the external_ids met so far to their fingerprints; pass the same dict to
    successive calls to catch repeats across the chunks of one import. ``writer`` is whom
    the rows are attributed to (``Caller.writer``); None for the command line, which reads
    the database itself and so may compare with every stored response (see ``store``).
    """
    refs.load(item for _index, item in items)
    out = Prepared(rows=[], indices=[], invalid=[], refused=[])
    seen = {} if seen is None else seen
    # Why each pulse met so far refuses responses, or None: one status per pulse, not per row.
    refusals: dict[str, str | None] = {}
    for index, item in items:
        pulse = refs.pulses.get(item.pulse)
        team_id = refs.teams.get(item.team)
        org_id = None if item.organisation is None else refs.organisations.get(item.organisation)
        problems = _problems(index, item, pulse, team_id, org_id, now)
        scores = stored_scores(item)
        print_ = fingerprint(item, scores)
        if item.external_id is not None:
            earlier = seen.get(item.external_id)
            if earlier == print_:
                out.repeats += 1
                continue
            if earlier is not None:
                problems.append(
                    Problem(
                        index,
                        "external_id",
                        "repeats an external_id of this batch with other answers",
                    )
                )
            seen[item.external_id] = print_
        if problems:
            out.invalid.extend(problems)
            continue
        assert pulse is not None
        if pulse.key not in refusals:
            refusals[pulse.key] = _refusal(pulse, now, may_backfill)
        if (refusal := refusals[pulse.key]) is not None:
            out.refused.append(Problem(index, "pulse", refusal))
            continue
        out.rows.append(
            (
                refs.system_id,
                pulse.id,
                team_id,
                org_id,
                item.role,
                item.profession,
                *scores,
                item.submitted_at,
                now,
                item.external_id,
                print_,
                writer,
            )
        )
        out.indices.append(index)
    return out


def _problems(
    index: int,
    item: ResponseCreate,
    pulse: PulseRef | None,
    team_id: int | None,
    org_id: int | None,
    now: datetime,
) -> list[Problem]:
    """What is wrong with the references and time of ``item``."""
    problems = []
    if pulse is None:
        problems.append(Problem(index, "pulse", f"no pulse with key '{item.pulse}'"))
    if team_id is None:
        problems.append(Problem(index, "team", f"no team with code '{item.team}'"))
    if item.organisation is not None and org_id is None:
        problems.append(
            Problem(index, "organisation", f"no organisation with code '{item.organisation}'")
        )
    if item.submitted_at is not None and item.submitted_at > now:
        problems.append(Problem(index, "submitted_at", "must not be in the future"))
    return problems


def _refusal(pulse: PulseRef, now: datetime, may_backfill: bool) -> str | None:
    """Why responses may not go into ``pulse`` now, or None."""
    status = pulse_status(pulse.opens_on, pulse.closes_on, pulse.closed_at, now)
    if status is PulseStatus.scheduled or (status is PulseStatus.closed and not may_backfill):
        return f"pulse '{pulse.key}' is {status.value}"
    return None


@dataclass(frozen=True, slots=True)
class Stored:
    """What storing rows did: how many were created and how many were already stored.

    ``ids`` holds the ids created, where the write path returned them (small writes);
    ``late`` the keys of the closed pulses they went into (``ingest``).
    """

    created: int
    already_stored: int
    ids: list[uuid.UUID]
    late: tuple[str, ...] = ()


# Up to this many rows, one INSERT ... RETURNING is the cheapest write; beyond it, COPY.
SMALL_WRITE = 50


def store(session: Session, system_id: int, rows: list[Row], indices: list[int]) -> Stored:
    """Insert ``rows``; an external_id their writer stored already is skipped if answers match.

    Raises 409 listing every item whose external_id is stored with other answers, or stored
    by another writer whatever its answers; the caller's transaction then rolls back, so
    nothing of the batch is kept. Rows of no writer (the command line) are compared with
    every stored response.
    """
    if not rows:
        return Stored(0, 0, [])
    postgresql = session.get_bind().dialect.name == "postgresql"
    # Most rows of a large write are new: COPY them all at once, and look up what is stored
    # only when the unique constraint says one of them is.
    if postgresql and len(rows) > SMALL_WRITE and _copy(session, rows):
        return Stored(len(rows), 0, [])
    stored = _fingerprints(session, system_id, [row[EXTERNAL_ID] for row in rows])
    _refuse_clashes(stored, rows, indices)
    new = [row for row in rows if row[EXTERNAL_ID] is None or row[EXTERNAL_ID] not in stored]
    if not new:
        return Stored(0, len(rows), [])
    if postgresql and len(new) > SMALL_WRITE and _copy(session, new):
        return Stored(len(new), len(rows) - len(new), [])
    # A concurrent writer may have stored some of these external_ids since they were
    # looked up: ON CONFLICT skips them, and their answers are then compared as above.
    inserted = _insert_skipping_stored(session, new, postgresql)
    if len(inserted) < len(new):
        known = {external_id for _, external_id in inserted}
        late = [row[EXTERNAL_ID] for row in new if row[EXTERNAL_ID] not in known]
        _refuse_clashes(_fingerprints(session, system_id, late), rows, indices)
    return Stored(len(inserted), len(rows) - len(inserted), [row_id for row_id, _ in inserted])


def _fingerprints(
    session: Session, system_id: int, external_ids: Sequence[str | None]
) -> dict[str, tuple[str | None, str]]:
    """Who stored each of ``external_ids`` that is stored, and its fingerprint."""
    wanted = [e for e in external_ids if e is not None]
    if not wanted:
        return {}
    if session.get_bind().dialect.name == "postgresql":
        # One array parameter: thousands of IN placeholders cost the driver more than the query.
        among = Response.external_id == any_(literal(wanted, ARRAY(String())))
    else:
        among = Response.external_id.in_(wanted)
    query = select(Response.external_id, Response.stored_by, Response.fingerprint).where(
        Response.system_id == system_id, among
    )
    return {
        external_id: (stored_by, print_)
        for external_id, stored_by, print_ in session.execute(query)
        if external_id
    }


def _refuse_clashes(
    stored: dict[str, tuple[str | None, str]], rows: list[Row], indices: list[int]
) -> None:
    """Raise 409 naming each row whose external_id is another writer's or has other answers.

    Another writer's external_id is refused before its answers are looked at, in words of
    its own, so that nothing in the answer (or its timing) depends on the stored response.
    """
    clashes, foreign = [], False
    for i, row in zip(indices, rows, strict=True):
        found = stored.get(row[EXTERNAL_ID])
        if found is None:
            continue
        stored_by, print_ = found
        if row[STORED_BY] is not None and stored_by != row[STORED_BY]:
            foreign = True
            detail = f"'{row[EXTERNAL_ID]}' is already used by another client"
        elif print_ != row[FINGERPRINT]:
            detail = f"'{row[EXTERNAL_ID]}' is stored with other answers"
        else:
            continue
        clashes.append(Problem(i, "external_id", detail))
    if clashes:
        raise ExternalIdConflict(clashes, foreign)


def _insert_skipping_stored(
    session: Session, rows: list[Row], postgresql: bool
) -> list[tuple[uuid.UUID, str | None]]:
    """INSERT ... ON CONFLICT DO NOTHING RETURNING the id and external_id of each new row."""
    insert = pg_insert if postgresql else sqlite_insert
    stmt = (
        insert(RESPONSE_TABLE)
        .on_conflict_do_nothing(index_elements=["system_id", "external_id"])
        .returning(RESPONSE_TABLE.c.id, RESPONSE_TABLE.c.external_id)
    )
    with_ids = [{"id": uuid.uuid4(), **dict(zip(COLUMNS, row, strict=True))} for row in rows]
    return [(row_id, external_id) for row_id, external_id in session.execute(stmt, with_ids)]


# PostgreSQL types of the COLUMNS, for the binary COPY format.
COPY_TYPES = [
    {"system_id": "int4", "pulse_id": "int4", "team_id": "int4", "organisation_id": "int4"}.get(
        name,
        "int2" if name in DIMENSIONS else "timestamptz" if name.endswith("_at") else "varchar",
    )
    for name in COLUMNS
]


def _copy(session: Session, rows: list[Row]) -> bool:
    """COPY rows straight into the table; False (and nothing written) if one is stored.

    A multi-row INSERT of thousands of rows spends most of its time in the driver parsing
    the statement's placeholders, and ON CONFLICT costs the server a speculative insertion
    per row; COPY does neither (docs/BENCHMARKS.md). Should one of the rows' external_ids be
    stored already, or be stored by a concurrent writer meanwhile, the unique constraint
    stops the COPY and its savepoint is rolled back.
    """
    columns = ", ".join(COLUMNS)
    try:
        with session.begin_nested():
            # Asked for inside the nested transaction, so that its SAVEPOINT is emitted.
            driver = session.connection().connection.driver_connection
            assert isinstance(driver, psycopg.Connection)
            with (
                driver.cursor() as cursor,
                cursor.copy(f"COPY response ({columns}) FROM STDIN (FORMAT BINARY)") as copy,
            ):
                copy.set_types(COPY_TYPES)
                for row in rows:
                    copy.write_row(row)
    except psycopg.errors.UniqueViolation:
        return False
    session.info[FLUSHED] = True  # a write the session's events do not see
    return True


class ExternalIdConflict(Conflict):
    """An external_id already stored with different answers, or by another client."""

    def __init__(self, clashes: list[Problem], foreign: bool) -> None:
        super().__init__(
            "An external_id is already used by another client; nothing was stored."
            if foreign
            else "A different response is already stored under this external_id."
        )
        self.clashes = clashes


def receipt(session: Session, system_id: int, response_id: uuid.UUID) -> dict[str, Any]:
    """The readable metadata of one stored response."""
    row = session.execute(
        select(Response, Pulse.key, Team.code)
        .join(Pulse, Pulse.id == Response.pulse_id)
        .join(Team, Team.id == Response.team_id)
        .where(Response.system_id == system_id, Response.id == response_id)
    ).one()
    return _view(*row)


def receipt_by_external_id(session: Session, system_id: int, external_id: str) -> dict[str, Any]:
    """The readable metadata of the response stored under ``external_id``."""
    response_id = session.execute(
        select(Response.id).where(
            Response.system_id == system_id, Response.external_id == external_id
        )
    ).scalar_one()
    return receipt(session, system_id, response_id)


def _view(response: Response, pulse_key: str, team_code: str) -> dict[str, Any]:
    return {
        "id": response.id,
        "external_id": response.external_id,
        "pulse": pulse_key,
        "team": team_code,
        "submitted_at": response.submitted_at,
        "received_at": response.received_at,
    }


def list_responses(
    session: Session,
    system_id: int,
    pulse: str | None,
    team: str | None,
    external_id: str | None,
    cursor: str | None,
    limit: int,
    *,
    stored_by: str | None,
) -> tuple[Slice[Response], list[dict[str, Any]]]:
    """A page of response metadata in arrival order, never scores.

    Only the responses ``stored_by`` stored (a ``Caller.writer``), or all when it is None.
    """
    stmt = select(Response).where(Response.system_id == system_id)
    if stored_by is not None:
        stmt = stmt.where(Response.stored_by == stored_by)
    if pulse is not None:
        stmt = stmt.where(
            Response.pulse_id.in_(
                select(Pulse.id).where(Pulse.system_id == system_id, Pulse.key == pulse)
            )
        )
    if team is not None:
        stmt = stmt.where(
            Response.team_id.in_(
                select(Team.id).where(Team.system_id == system_id, Team.code == team)
            )
        )
    if external_id is not None:
        stmt = stmt.where(Response.external_id == external_id)
    chunk = keyset_page(
        session,
        stmt,
        [Response.received_at, Response.id],
        cursor,
        limit,
        parse=[cursor_datetime, uuid.UUID],
    )
    pulses = dict(
        session.execute(
            select(Pulse.id, Pulse.key).where(Pulse.id.in_({r.pulse_id for r in chunk.rows}))
        ).all()
    )
    teams = dict(
        session.execute(
            select(Team.id, Team.code).where(Team.id.in_({r.team_id for r in chunk.rows}))
        ).all()
    )
    return chunk, [_view(r, pulses[r.pulse_id], teams[r.team_id]) for r in chunk.rows]


def erase(session: Session, system_id: int, response_id: uuid.UUID | None) -> None:
    """Delete one response for good; 404 when the system has no such response."""
    response = None
    if response_id is not None:
        response = session.scalar(
            select(Response).where(Response.system_id == system_id, Response.id == response_id)
        )
    if response is None:
        raise NotFound(f"No response with id '{shown(response_id)}' in this system.")
    session.delete(response)
    session.flush()
    revise_pulse(session, response.pulse_id)


def ingest(
    session: Session,
    system_id: int,
    items: Sequence[tuple[int, ResponseCreate]],
    now: datetime,
    may_backfill: bool,
    pointer: Callable[[Problem], str],
    invalid: ErrorList | None = None,
    writer: str | None = None,
) -> Stored:
    """Store ``items`` all together or not at all; problems are reported at ``pointer``.

    ``invalid`` holds the errors of items that failed validation already; they are reported
    together with the items that name unknown codes, so one answer lists every bad item.
    ``writer`` is whom the responses are attributed to (``Caller.writer``; see ``prepare``).
    """
    refs = References(session, system_id)
    prepared = prepare(refs, items, now, may_backfill, writer=writer)
    invalid = invalid or ErrorList()
    if invalid or prepared.invalid:
        # The first errors of the two lists, each in item order, hold the first of them all.
        first = [field_error(pointer(p), p.detail) for p in prepared.invalid[:MAX_ERRORS]]
        raise ValidationFailed(
            "Invalid, or naming something that does not exist in this system; nothing was stored.",
            errors=sorted([*invalid.listed, *first], key=_pointer_order)[:MAX_ERRORS],
            error_count=invalid.count + len(prepared.invalid),
        )
    if prepared.refused:
        pulses = sorted({p.detail for p in prepared.refused})
        raise Conflict(
            "Only an admin key may load responses into a closed pulse, and no key into a "
            f"scheduled one: {'; '.join(pulses)}. Nothing was stored.",
            errors=[field_error(pointer(p), p.detail) for p in prepared.refused[:MAX_ERRORS]],
            error_count=len(prepared.refused),
        )
    try:
        stored = store(session, system_id, prepared.rows, prepared.indices)
    except ExternalIdConflict as clash:
        clash.errors = [field_error(pointer(p), p.detail) for p in clash.clashes[:MAX_ERRORS]]
        clash.error_count = len(clash.clashes)
        raise
    # A late upload changes published results. So may a response to a pulse that closes by
    # date while this transaction is still to commit: pulses are judged as they will be
    # once it has (``now`` is when the request began).
    committed = now + COMMIT_MARGIN
    late = []
    if stored.created:
        for ref in refs.pulses.values():
            if (
                ref is not None
                and pulse_status(ref.opens_on, ref.closes_on, ref.closed_at, committed)
                is PulseStatus.closed
            ):
                revise_pulse(session, ref.id)
                late.append(ref.key)
    repeats = stored.already_stored + prepared.repeats
    return Stored(stored.created, repeats, stored.ids, tuple(sorted(late)))


def _pointer_order(error: dict[str, str]) -> tuple[int, str]:
    """Sort key putting ``/responses/9/...`` before ``/responses/10/...``."""
    parts = error["pointer"].split("/")
    index = int(parts[2]) if len(parts) > 2 and parts[2].isdigit() else -1
    return index, error["pointer"]
