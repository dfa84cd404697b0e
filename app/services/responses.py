"""Storing responses: one validation and write path for the API and the CSV import."""

import hashlib
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, cast

import psycopg
from sqlalchemy import ARRAY, String, Table, any_, literal, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from app.domain import pulse_status
from app.errors import Conflict, NotFound, ValidationFailed, field_error
from app.models import SCORE_SCALE, Organisation, Pulse, Response, Team
from app.schemas.responses import ResponseCreate
from app.services.pagination import Slice, keyset_page
from app.vocab import DIMENSIONS, PulseStatus

RESPONSE_TABLE = cast(Table, Response.__table__)


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with item ``index``: ``field`` is a path inside the item, or ''."""

    index: int
    field: str
    detail: str


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

    def pulse(self, key: str) -> PulseRef | None:
        return self.pulses.get(key)

    def team(self, code: str) -> int | None:
        return self.teams.get(code)

    def organisation(self, code: str) -> int | None:
        return self.organisations.get(code)


def stored_scores(item: ResponseCreate) -> list[int | None]:
    """The five scores as stored: hundredths, or None for a skipped dimension."""
    scores = item.scores
    return [
        None if value is None else round(value * SCORE_SCALE)
        for value in (
            scores.purpose,
            scores.belief,
            scores.support,
            scores.new_ways_of_working,
            scores.partner_relationships,
        )
    ]


def fingerprint(item: ResponseCreate, scores: list[int | None]) -> str:
    """SHA-256 of a response's content: equal for a re-post, different for another answer."""
    # Codes match the code pattern and the vocabularies hold no '|', so joining is unambiguous.
    content = "|".join(
        [
            item.pulse,
            item.team,
            *("" if s is None else str(s) for s in scores),
            item.role or "",
            item.profession or "",
            item.organisation or "",
            item.submitted_at.isoformat() if item.submitted_at else "",
        ]
    )
    return hashlib.sha256(content.encode()).hexdigest()


@dataclass
class Prepared:
    """Rows ready to insert, or the problems that stop them."""

    rows: list[dict[str, Any]]
    # The item index of each row.
    indices: list[int]
    invalid: list[Problem]
    # Items aimed at a pulse the caller may not post to (409, not 422).
    refused: list[Problem]
    # Items repeating an earlier item of the same batch (same external_id, same answers).
    repeats: int = 0


def prepare(
    refs: References,
    items: Sequence[tuple[int, ResponseCreate]],
    now: datetime,
    may_backfill: bool,
    seen: dict[str, str] | None = None,
) -> Prepared:
    """Check references and pulse state, and build one row per valid item.

    ``seen`` maps the external_ids met so far to their fingerprints; pass the same dict to
    successive calls to catch repeats across the chunks of one import.
    """
    refs.load(item for _index, item in items)
    out = Prepared(rows=[], indices=[], invalid=[], refused=[])
    seen = {} if seen is None else seen
    for index, item in items:
        pulse = refs.pulse(item.pulse)
        team_id = refs.team(item.team)
        org_id = refs.organisation(item.organisation) if item.organisation else None
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
        scores = stored_scores(item)
        print_ = fingerprint(item, scores)
        if item.external_id is not None:
            earlier = seen.get(item.external_id)
            if earlier is not None and earlier != print_:
                problems.append(
                    Problem(
                        index,
                        "external_id",
                        "repeats an external_id of this batch with other answers",
                    )
                )
            elif earlier is not None:
                out.repeats += 1
                continue
            seen[item.external_id] = print_
        if problems:
            out.invalid.extend(problems)
            continue
        assert pulse is not None and team_id is not None
        status = pulse_status(pulse.opens_on, pulse.closes_on, pulse.closed_at, now)
        if status is PulseStatus.scheduled or (status is PulseStatus.closed and not may_backfill):
            out.refused.append(Problem(index, "pulse", f"pulse '{pulse.key}' is {status.value}"))
            continue
        out.rows.append(
            {
                "system_id": refs.system_id,
                "pulse_id": pulse.id,
                "team_id": team_id,
                "organisation_id": org_id,
                "role": item.role,
                "profession": item.profession,
                **dict(zip(DIMENSIONS, scores, strict=True)),
                "submitted_at": item.submitted_at,
                "received_at": now,
                "external_id": item.external_id,
                "fingerprint": print_,
            }
        )
        out.indices.append(index)
    return out


@dataclass(frozen=True, slots=True)
class Stored:
    """What storing rows did: how many were created and how many were already stored.

    ``ids`` holds the ids created, where the write path returned them (small writes).
    """

    created: int
    already_stored: int
    ids: list[uuid.UUID]


# Up to this many rows, one INSERT ... RETURNING is the cheapest write; beyond it, COPY.
SMALL_WRITE = 50


def store(
    session: Session, system_id: int, rows: list[dict[str, Any]], indices: list[int]
) -> Stored:
    """Insert ``rows``; an external_id already stored is skipped when its answers match.

    Raises 409 listing every item whose external_id is stored with other answers; the caller's
    transaction then rolls back, so nothing of the batch is kept.
    """
    if not rows:
        return Stored(0, 0, [])
    stored = _fingerprints(session, system_id, [r["external_id"] for r in rows])
    _refuse_clashes(stored, rows, indices)
    new = [row for row in rows if row["external_id"] is None or row["external_id"] not in stored]
    if not new:
        return Stored(0, len(rows), [])
    postgresql = session.get_bind().dialect.name == "postgresql"
    if postgresql and len(new) > SMALL_WRITE and _copy_new(session, new):
        return Stored(len(new), len(rows) - len(new), [])
    # A concurrent writer may have stored some of these external_ids since they were
    # looked up: ON CONFLICT skips them, and their answers are then compared as above.
    inserted = _insert_skipping_stored(session, new, postgresql)
    if len(inserted) < len(new):
        known = {external_id for _, external_id in inserted}
        late = [r["external_id"] for r in new if r["external_id"] not in known]
        _refuse_clashes(_fingerprints(session, system_id, late), rows, indices)
    return Stored(len(inserted), len(rows) - len(inserted), [row_id for row_id, _ in inserted])


def _fingerprints(
    session: Session, system_id: int, external_ids: Sequence[str | None]
) -> dict[str, str]:
    """The stored fingerprint of each of ``external_ids`` that is stored."""
    wanted = [e for e in external_ids if e is not None]
    if not wanted:
        return {}
    if session.get_bind().dialect.name == "postgresql":
        # One array parameter: thousands of IN placeholders cost the driver more than the query.
        among = Response.external_id == any_(literal(wanted, ARRAY(String())))
    else:
        among = Response.external_id.in_(wanted)
    query = select(Response.external_id, Response.fingerprint).where(
        Response.system_id == system_id, among
    )
    return {external_id: print_ for external_id, print_ in session.execute(query) if external_id}


def _refuse_clashes(stored: dict[str, str], rows: list[dict[str, Any]], indices: list[int]) -> None:
    clashes = [
        Problem(i, "external_id", f"'{row['external_id']}' is stored with other answers")
        for i, row in zip(indices, rows, strict=True)
        if row["external_id"] in stored and stored[row["external_id"]] != row["fingerprint"]
    ]
    if clashes:
        raise ExternalIdConflict(clashes)


def _insert_skipping_stored(
    session: Session, rows: list[dict[str, Any]], postgresql: bool
) -> list[tuple[uuid.UUID, str | None]]:
    """INSERT ... ON CONFLICT DO NOTHING RETURNING the id and external_id of each new row."""
    insert = pg_insert if postgresql else sqlite_insert
    stmt = (
        insert(RESPONSE_TABLE)
        .on_conflict_do_nothing(index_elements=["system_id", "external_id"])
        .returning(RESPONSE_TABLE.c.id, RESPONSE_TABLE.c.external_id)
    )
    with_ids = [{"id": uuid.uuid4(), **row} for row in rows]
    return [(row_id, external_id) for row_id, external_id in session.execute(stmt, with_ids)]


COPIED = [column.name for column in RESPONSE_TABLE.columns if column.name != "id"]
# PostgreSQL types of the COPIED columns, for the binary COPY format.
COPIED_TYPES = [
    {"system_id": "int4", "pulse_id": "int4", "team_id": "int4", "organisation_id": "int4"}.get(
        name,
        "int2" if name in DIMENSIONS else "timestamptz" if name.endswith("_at") else "varchar",
    )
    for name in COPIED
]


def _copy_new(session: Session, rows: list[dict[str, Any]]) -> bool:
    """COPY rows straight into the table; False (and nothing written) if one is stored now.

    A multi-row INSERT of thousands of rows spends most of its time in the driver parsing
    the statement's placeholders, and ON CONFLICT costs the server a speculative insertion
    per row; COPY does neither (docs/BENCHMARKS.md). The rows were checked against what is
    stored just before; should a concurrent writer store one of their external_ids in
    between, the unique constraint stops the COPY, its savepoint is rolled back, and the
    caller takes the ON CONFLICT path instead.
    """
    columns = ", ".join(COPIED)
    driver = session.connection().connection.driver_connection
    assert isinstance(driver, psycopg.Connection)
    try:
        with (
            session.begin_nested(),
            driver.cursor() as cursor,
            cursor.copy(f"COPY response ({columns}) FROM STDIN (FORMAT BINARY)") as copy,
        ):
            copy.set_types(COPIED_TYPES)
            for row in rows:
                copy.write_row([row[name] for name in COPIED])
    except psycopg.errors.UniqueViolation:
        return False
    return True


class ExternalIdConflict(Conflict):
    """An external_id already stored with different answers."""

    def __init__(self, clashes: list[Problem]) -> None:
        super().__init__("A different response is already stored under this external_id.")
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
) -> tuple[Slice[Response], list[dict[str, Any]]]:
    """A page of response metadata in arrival order, never scores."""
    stmt = select(Response).where(Response.system_id == system_id)
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
        parse=[datetime.fromisoformat, uuid.UUID],
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
        raise NotFound(f"No response with id '{response_id}' in this system.")
    session.delete(response)
    session.flush()


def ingest(
    session: Session,
    system_id: int,
    items: Sequence[tuple[int, ResponseCreate]],
    now: datetime,
    may_backfill: bool,
    pointer: Callable[[Problem], str],
    invalid: Sequence[dict[str, str]] = (),
) -> Stored:
    """Store ``items`` all together or not at all; problems are reported at ``pointer``.

    ``invalid`` holds the errors of items that failed validation already; they are reported
    together with the items that name unknown codes, so one answer lists every bad item.
    """
    prepared = prepare(References(session, system_id), items, now, may_backfill)
    if invalid or prepared.invalid:
        errors = [*invalid, *(field_error(pointer(p), p.detail) for p in prepared.invalid)]
        raise ValidationFailed(
            "Invalid, or naming something that does not exist in this system; nothing was stored.",
            errors=sorted(errors, key=_pointer_order),
        )
    if prepared.refused:
        pulses = sorted({p.detail for p in prepared.refused})
        raise Conflict(
            "Only an admin key may load responses into a closed pulse, and no key into a "
            f"scheduled one: {'; '.join(pulses)}. Nothing was stored.",
            errors=[field_error(pointer(p), p.detail) for p in prepared.refused],
        )
    try:
        stored = store(session, system_id, prepared.rows, prepared.indices)
    except ExternalIdConflict as clash:
        clash.errors = [field_error(pointer(p), p.detail) for p in clash.clashes]
        raise
    return Stored(stored.created, stored.already_stored + prepared.repeats, stored.ids)


def _pointer_order(error: dict[str, str]) -> tuple[int, str]:
    """Sort key putting ``/responses/9/...`` before ``/responses/10/...``."""
    parts = error["pointer"].split("/")
    index = int(parts[2]) if len(parts) > 2 and parts[2].isdigit() else -1
    return index, error["pointer"]
