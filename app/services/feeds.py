"""Flat feeds of closed pulses for BI tools: keyset pages by (updated_at, id), three formats.

Rows come from the kept results of closed pulses (``results.publish``), so the feeds and
the insights endpoints share one publication decision and never disagree. Each row
carries a stable ``id``, its pulse's title and dates (the close date is what BI tools
partition by: it never changes for a row), the names of its place and team as they are
now, ``updated_at`` (moved only when what the row serves changes) and ``withdrawn_at``
(set on a tombstone: a row the results no longer hold, kept so incremental readers see it
go).
"""

import csv
import hashlib
import io
from collections.abc import Iterator
from dataclasses import dataclass, fields, replace
from datetime import date, datetime
from typing import Any

import orjson
import psycopg
from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    func,
    literal,
    select,
    text,
    tuple_,
)
from sqlalchemy.orm import Session, sessionmaker

from app.db import READ_ONLY
from app.errors import BadRequest
from app.models import (
    Participation,
    Place,
    Publication,
    Pulse,
    ScoreCell,
    System,
    Team,
    WarningSign,
)
from app.services.pagination import cursor_datetime, cursor_int, decode_cursor, encode_cursor
from app.services.results.publish import closed_pulses, publish_all

PULSE_COLUMNS = ("pulse", "pulse_title", "pulse_opens_on", "pulse_closes_on")
WHERE_COLUMNS = ("place", "place_name", "team", "team_name")
STAMP_COLUMNS = ("updated_at", "withdrawn_at")
SCORE_COLUMNS = (
    "id",
    *PULSE_COLUMNS,
    "scope",
    *WHERE_COLUMNS,
    "dimension",
    "segment_type",
    "segment",
    "n",
    "mean",
    "sd",
    "ci_low",
    "ci_high",
    "suppressed",
    "revision_withheld",
    *STAMP_COLUMNS,
)
FLAG_COLUMNS = (
    "id",
    "rule",
    "severity",
    "scope",
    *PULSE_COLUMNS,
    *WHERE_COLUMNS,
    "dimension",
    "message",
    "evidence",
    "rules_version",
    *STAMP_COLUMNS,
)
PARTICIPATION_COLUMNS = (
    "id",
    *PULSE_COLUMNS,
    "scope",
    *WHERE_COLUMNS,
    "responses",
    "headcount",
    "response_rate",
    *STAMP_COLUMNS,
)
# Spreadsheets run a cell that starts with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@")

FeedModel = type[ScoreCell] | type[WarningSign] | type[Participation]


@dataclass(frozen=True)
class Feed:
    """One feed: its table, its columns in order, and the filters it takes."""

    name: str
    model: FeedModel
    columns: tuple[str, ...]
    filters: tuple[str, ...]


SCORES = Feed("scores", ScoreCell, SCORE_COLUMNS, ("place", "team", "dimension"))
WARNING_SIGNS = Feed(
    "warning-signs",
    WarningSign,
    FLAG_COLUMNS,
    ("place", "team", "dimension", "rule", "severity"),
)
PARTICIPATION = Feed("participation", Participation, PARTICIPATION_COLUMNS, ("place", "team"))


@dataclass(frozen=True)
class FeedQuery:
    """The filters and page of a feed request; None means any."""

    pulse: str | None = None
    place: str | None = None
    team: str | None = None
    dimension: str | None = None
    rule: str | None = None
    severity: str | None = None
    updated_from: datetime | None = None
    updated_to: datetime | None = None
    closes_from: date | None = None
    closes_to: date | None = None
    cursor: str | None = None
    limit: int = 100

    def with_limit(self, limit: int) -> "FeedQuery":
        return replace(self, limit=limit)

    def digest(self) -> str:
        return repr([getattr(self, f.name) for f in fields(self)])


def publish_closed(session: Session, system: System, now: datetime) -> list[Publication]:
    """Make sure every closed pulse's results are current; their publication records."""
    closed = closed_pulses(session, system.id, now)
    return publish_all(session, system, closed, now, closed, wait=False)


def last_change(session: Session, feed: Feed, system_id: int) -> datetime | None:
    """When a row of the feed, or a name or pulse date it shows, last changed."""
    stamps = [
        select(func.max(model.updated_at)).where(model.system_id == system_id).scalar_subquery()
        for model in (feed.model, Pulse, Place, Team)
    ]
    values = [v for v in session.execute(select(*stamps)).one() if v is not None]
    return max(values) if values else None


def etag(feed: Feed, query: FeedQuery, fmt: str, changed: datetime | None) -> str:
    """A validator that changes whenever the rows of this request could, and only then.

    Every change of a row moves its ``updated_at`` (a withdrawal too), and stamps only
    grow: the latest stamp of the feed and of what its rows name sums up their state.
    """
    state = [feed.name, fmt, query.digest(), changed.isoformat() if changed else ""]
    return '"' + hashlib.sha256("|".join(state).encode()).hexdigest()[:32] + '"'


def _expressions(feed: Feed) -> dict[str, Any]:
    model = feed.model
    named: dict[str, Any] = {
        "pulse": Pulse.key,
        "pulse_title": Pulse.title,
        "pulse_opens_on": Pulse.opens_on,
        "pulse_closes_on": Pulse.closes_on,
        "place_name": Place.name,
        "team_name": Team.name,
    }
    if model is ScoreCell or model is Participation:
        named["id"] = model.public_id
    return {name: named.get(name, getattr(model, name, None)) for name in feed.columns}


def _statement(
    feed: Feed,
    system_id: int,
    query: FeedQuery,
    keys_only: bool = False,
    stamps_as_text: bool = False,
) -> Select[Any]:
    """The feed's rows for ``query``, by (updated_at, id), with the sort key as _at, _key.

    With ``stamps_as_text``, timestamps are written as the JSON formats write them. With
    ``keys_only``, just the sort key of each row, without joining the names in.
    """
    model = feed.model
    exprs = _expressions(feed)
    if stamps_as_text:
        exprs = {n: _stamp_text(e) if n in STAMP_COLUMNS else e for n, e in exprs.items()}
    shown = [e.label(n) for n, e in exprs.items()]
    stmt = select(*([] if keys_only else shown), model.updated_at.label("_at"))
    stmt = stmt.add_columns(model.id.label("_key")).join(Pulse, Pulse.id == model.pulse_id)
    if not keys_only:
        stmt = stmt.join(
            Place, and_(Place.system_id == model.system_id, Place.code == model.place)
        ).outerjoin(Team, and_(Team.system_id == model.system_id, Team.code == model.team))
    stmt = stmt.where(model.system_id == system_id)
    if query.pulse is not None:
        stmt = stmt.where(Pulse.key == query.pulse)
    for name in feed.filters:
        value = getattr(query, name)
        if value is not None:
            stmt = stmt.where(getattr(model, name) == value)
    if query.updated_from is not None:
        stmt = stmt.where(model.updated_at >= query.updated_from)
    if query.updated_to is not None:
        stmt = stmt.where(model.updated_at < query.updated_to)
    if query.closes_from is not None:
        stmt = stmt.where(Pulse.closes_on >= query.closes_from)
    if query.closes_to is not None:
        stmt = stmt.where(Pulse.closes_on < query.closes_to)
    if query.cursor is not None:
        stmt = stmt.where(_key_after(model, _after(feed, query.cursor), strict=True))
    return stmt.order_by(model.updated_at, model.id)


def _key_after(model: FeedModel, key: list[Any], strict: bool) -> ColumnElement[bool]:
    ours = (model.updated_at, model.id)
    theirs = tuple_(*(literal(v, type_=c.type) for v, c in zip(key, ours, strict=True)))
    return tuple_(*ours) > theirs if strict else tuple_(*ours) <= theirs


def _after(feed: Feed, cursor: str) -> list[Any]:
    updated_at, key = decode_cursor(cursor, 2)
    try:
        if not isinstance(updated_at, str):
            raise TypeError
        when = cursor_datetime(updated_at)
        if feed is WARNING_SIGNS:
            if not isinstance(key, str):
                raise TypeError
        else:
            key = cursor_int(key)
    except (TypeError, ValueError):
        raise BadRequest(
            "The cursor is not valid; use the `next_cursor` of a previous page.",
            errors=[{"parameter": "cursor", "detail": "not a cursor issued by this feed"}],
        ) from None
    return [when, key]


def json_page(
    session: Session, feed: Feed, system_id: int, query: FeedQuery
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of rows as dicts, and the cursor of the next page."""
    rows = session.execute(_statement(feed, system_id, query).limit(query.limit + 1)).all()
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    data = [{name: getattr(row, name) for name in feed.columns} for row in rows]
    cursor = _cursor_of(rows[-1]) if more and rows else None
    return data, cursor


def _cursor_of(row: Any) -> str:
    return encode_cursor([row._at.isoformat(), row._key])


def stream_bounds(
    session: Session, feed: Feed, system_id: int, query: FeedQuery
) -> tuple[Any, str | None]:
    """The key of the last row of this page, and the next page's cursor (None at the end)."""
    # Every row has its place (a cell's place is never deleted), so the names' joins
    # change no row's presence: the bounds read the keys alone.
    stmt = _statement(feed, system_id, query, keys_only=True).offset(query.limit - 1).limit(2)
    rows = session.execute(stmt).all()
    if len(rows) < 2:
        return None, None  # the page holds every remaining row
    last = rows[0]
    return (last._at, last._key), _cursor_of(last)


def evidence_keys(session: Session, system_id: int) -> list[str]:
    """The flat evidence columns of the system's warning signs, for CSV: one per leaf key."""
    found: set[str] = set()
    stmt = select(WarningSign.evidence).where(WarningSign.system_id == system_id)
    for (evidence,) in session.execute(stmt):
        found.update(flatten(evidence))
    return sorted(found)


def flatten(value: dict[str, Any], prefix: str = "evidence") -> dict[str, Any]:
    """A nested evidence object as flat ``evidence_<key>[_<key>...]`` columns.

    Lists (of pulses, say) stay whole, as JSON text: a column per item would change with
    the number of items.
    """
    flat: dict[str, Any] = {}
    for key, item in value.items():
        name = f"{prefix}_{key}"
        if isinstance(item, dict):
            flat.update(flatten(item, name))
        else:
            flat[name] = item
    return flat


def stream(
    factory: sessionmaker[Session],
    feed: Feed,
    system_id: int,
    query: FeedQuery,
    last: Any,
    fmt: str,
    evidence: list[str],
) -> Iterator[bytes]:
    """The page's rows as NDJSON or CSV, read from the database in batches."""
    with factory() as session:
        session.connection(execution_options={READ_ONLY: True})
        connection = session.connection()
        if fmt == "ndjson" and connection.dialect.name == "postgresql":
            yield from _ndjson_by_copy(session, feed, system_id, query, last)
            return
        stmt = _statement(feed, system_id, query)
        if last is not None:
            stmt = stmt.where(_key_after(feed.model, list(last), strict=False))
        chunks = _chunks(session, stmt, len(feed.columns))
        if fmt == "csv":
            yield from _csv(feed, chunks, evidence)
        else:
            names = feed.columns
            for chunk in chunks:
                yield b"".join(
                    orjson.dumps(dict(zip(names, row, strict=False)), option=orjson.OPT_UTC_Z)
                    + b"\n"
                    for row in chunk
                )


BATCH = 5000


def _chunks(session: Session, stmt: Select[Any], width: int) -> Iterator[list[Any]]:
    """The rows of ``stmt`` as tuples of its first ``width`` columns, a batch at a time."""
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        result = session.execute(stmt.execution_options(yield_per=BATCH))
        for partition in result.partitions():
            yield [tuple(row)[:width] for row in partition]
        return
    # The driver's server-side cursor, fed the compiled statement: SQLAlchemy's row objects
    # and result processing cost more than the rest of the stream together (measured).
    compiled = stmt.compile(dialect=connection.dialect)
    driver = connection.connection.driver_connection
    assert isinstance(driver, psycopg.Connection)
    with driver.cursor(name="feed_stream") as cursor:
        cursor.execute(str(compiled), compiled.params)
        while rows := cursor.fetchmany(BATCH):
            yield [row[:width] for row in rows]


def _ndjson_by_copy(
    session: Session, feed: Feed, system_id: int, query: FeedQuery, last: Any
) -> Iterator[bytes]:
    """NDJSON written by PostgreSQL itself (``row_to_json``) and sent by COPY.

    Building each row in Python (fetch, dict, dump) cost three times PostgreSQL's own COPY
    of the same rows (docs/BENCHMARKS.md); here the server builds the JSON text and the
    process only passes it on. ``row_to_json`` of a row of the feed's columns (the page's
    columns less its sort key) costs about two thirds of ``json_build_object`` over the same
    values (measured on a million rows).
    """
    stmt = _statement(feed, system_id, query, stamps_as_text=True)
    if last is not None:
        stmt = stmt.where(_key_after(feed.model, list(last), strict=False))
    connection = session.connection()
    # One COPY sends the whole page: the per-statement bound is for each statement of a
    # request, which a cursor's fetches each were; the page's own size bounds this one.
    session.execute(text("SET LOCAL statement_timeout = 0"))
    compiled = stmt.compile(dialect=connection.dialect)
    driver = connection.connection.driver_connection
    assert isinstance(driver, psycopg.Connection)
    names = ", ".join(f"page.{name}" for name in feed.columns)
    sql = (
        f"COPY (SELECT row_to_json(fields) FROM ({compiled}) AS page "
        f"CROSS JOIN LATERAL (SELECT {names}) AS fields ORDER BY page._at, page._key) TO STDOUT"
    )
    buffer: list[bytes] = []
    size = 0
    with driver.cursor() as cursor, cursor.copy(sql, compiled.params) as copy:
        for block in copy:
            buffer.append(bytes(block))
            size += len(block)
            if size >= 1 << 16:
                yield _unescape(b"".join(buffer))
                buffer, size = [], 0
    if buffer:
        yield _unescape(b"".join(buffer))


def _stamp_text(column: ColumnElement[Any]) -> ColumnElement[Any]:
    """A timestamp as the other formats write it: UTC, ``Z``, microseconds only if any."""
    # One to_char a value (it is most of the cost of a stamp); null when ``column`` is.
    full = func.to_char(func.timezone("UTC", column), 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
    return func.replace(full, ".000000Z", "Z")


def _unescape(data: bytes) -> bytes:
    # COPY's text format doubles every backslash; JSON text holds no raw control
    # characters, so that is the only escape it can contain.
    return data.replace(b"\\\\", b"\\")


def _csv(feed: Feed, chunks: Iterator[list[Any]], evidence: list[str]) -> Iterator[bytes]:
    """Rows as CSV for spreadsheets: a date column beside each timestamp, evidence flat."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    header: list[str] = []
    for name in feed.columns:
        if name == "evidence":
            header += evidence
        else:
            header.append(name)
        if name in STAMP_COLUMNS:
            header.append(name.removesuffix("_at") + "_on")
    writer.writerow(header)
    spread = "evidence" in feed.columns
    for chunk in chunks:
        writer.writerows(_csv_row(feed.columns, row, evidence if spread else None) for row in chunk)
        yield buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode()


def csv_table(columns: tuple[str, ...], rows: list[dict[str, Any]]) -> bytes:
    """Plain rows as CSV, a date column beside each timestamp (for lookup tables)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    stamps = {name for name in columns if name.endswith("_at")}
    header: list[str] = []
    for name in columns:
        header += [name, name.removesuffix("_at") + "_on"] if name in stamps else [name]
    writer.writerow(header)
    for row in rows:
        writer.writerow(_csv_row(columns, [row[name] for name in columns], None, stamps))
    return buffer.getvalue().encode()


def _csv_row(
    names: tuple[str, ...],
    row: Any,
    evidence: list[str] | None,
    stamps: frozenset[str] | set[str] = frozenset(STAMP_COLUMNS),
) -> list[Any]:
    out: list[Any] = []
    for name, value in zip(names, row, strict=False):
        if name == "evidence" and evidence is not None:
            flat = flatten(value or {})
            out += [_csv_cell(flat.get(column)) for column in evidence]
        else:
            out.append(_csv_cell(value))
        if name in stamps:
            out.append(value.date().isoformat() if value is not None else "")
    return out


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict | list):
        value = orjson.dumps(value).decode()
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value  # neutralised: shown as text, never run
    return value
