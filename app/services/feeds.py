"""Flat feeds of closed pulses for BI tools: keyset pages by (updated_at, id), three formats.

Rows come from the kept results of closed pulses (``results.publish``), so the feeds and
the insights endpoints share one publication decision and never disagree.
"""

import csv
import hashlib
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import psycopg
from sqlalchemy import Select, literal, select, tuple_
from sqlalchemy.orm import Session, sessionmaker

from app.db import READ_ONLY
from app.errors import BadRequest
from app.models import Publication, Pulse, ScoreCell, System, WarningSign
from app.services.pagination import cursor_datetime, cursor_int, decode_cursor, encode_cursor
from app.services.results.publish import closed_pulses, publish_all

SCORE_COLUMNS = (
    "pulse",
    "scope",
    "place",
    "team",
    "dimension",
    "segment_type",
    "segment",
    "n",
    "mean",
    "sd",
    "ci_low",
    "ci_high",
    "suppressed",
    "updated_at",
)
FLAG_COLUMNS = (
    "id",
    "rule",
    "severity",
    "scope",
    "pulse",
    "place",
    "team",
    "dimension",
    "message",
    "evidence",
    "rules_version",
    "updated_at",
)
# Spreadsheets run a cell that starts with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@")


@dataclass(frozen=True)
class Feed:
    """One feed: its table and its columns, in order."""

    name: str
    model: type[ScoreCell] | type[WarningSign]
    columns: tuple[str, ...]


SCORES = Feed("scores", ScoreCell, SCORE_COLUMNS)
WARNING_SIGNS = Feed("warning-signs", WarningSign, FLAG_COLUMNS)


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
    cursor: str | None = None
    limit: int = 100


def publish_closed(session: Session, system: System, now: datetime) -> list[Publication]:
    """Make sure every closed pulse's results are current; their publication records."""
    closed = closed_pulses(session, system.id, now)
    return publish_all(session, system, closed, now, closed, wait=False)


def etag(feed: Feed, query: FeedQuery, fmt: str, publications: list[Publication]) -> str:
    """A validator that changes whenever the rows of this request could."""
    state = [feed.name, fmt, repr(query)] + [f"{p.pulse_id}:{p.inputs}" for p in publications]
    return '"' + hashlib.sha256("|".join(state).encode()).hexdigest()[:32] + '"'


def _statement(feed: Feed, system_id: int, query: FeedQuery) -> Select[Any]:
    model = feed.model
    columns = [
        Pulse.key.label("pulse") if name == "pulse" else getattr(model, name)
        for name in feed.columns
    ]
    stmt = (
        select(*columns, model.id.label("_key"))
        .join(Pulse, Pulse.id == model.pulse_id)
        .where(model.system_id == system_id)
    )
    if query.pulse is not None:
        stmt = stmt.where(Pulse.key == query.pulse)
    for name in ("place", "team", "dimension", "rule", "severity"):
        value = getattr(query, name)
        if value is not None and hasattr(model, name):
            stmt = stmt.where(getattr(model, name) == value)
    if query.updated_from is not None:
        stmt = stmt.where(model.updated_at >= query.updated_from)
    if query.updated_to is not None:
        stmt = stmt.where(model.updated_at < query.updated_to)
    if query.cursor is not None:
        after = _after(feed, query.cursor)
        stmt = stmt.where(
            tuple_(model.updated_at, model.id)
            > tuple_(
                *(
                    literal(v, type_=c.type)
                    for v, c in zip(after, (model.updated_at, model.id), strict=True)
                )
            )
        )
    return stmt.order_by(model.updated_at, model.id)


def _after(feed: Feed, cursor: str) -> list[Any]:
    updated_at, key = decode_cursor(cursor, 2)
    try:
        if not isinstance(updated_at, str):
            raise TypeError
        when = cursor_datetime(updated_at)
        if feed is SCORES:
            key = cursor_int(key)
        if feed is WARNING_SIGNS and not isinstance(key, str):
            raise TypeError
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
    data = [_row(feed, row) for row in rows]
    cursor = _cursor_of(rows[-1]) if more and rows else None
    return data, cursor


def _row(feed: Feed, row: Any) -> dict[str, Any]:
    return {name: getattr(row, name) for name in feed.columns}


def _cursor_of(row: Any) -> str:
    return encode_cursor([row.updated_at.isoformat(), row._key])


def stream_bounds(
    session: Session, feed: Feed, system_id: int, query: FeedQuery
) -> tuple[Any, str | None]:
    """The key of the last row of this page, and the next page's cursor (None at the end)."""
    stmt = _statement(feed, system_id, query).offset(query.limit - 1).limit(2)
    rows = session.execute(stmt).all()
    if not rows:
        return None, None
    if len(rows) == 1:
        return None, None  # the page holds every remaining row
    last = rows[0]
    return (last.updated_at, last._key), _cursor_of(last)


def stream(
    factory: sessionmaker[Session],
    feed: Feed,
    system_id: int,
    query: FeedQuery,
    last: Any,
    fmt: str,
) -> Iterator[bytes]:
    """The page's rows as NDJSON or CSV, read from the database in batches."""
    model = feed.model
    stmt = _statement(feed, system_id, query)
    if last is not None:
        stmt = stmt.where(
            tuple_(model.updated_at, model.id)
            <= tuple_(
                *(
                    literal(v, type_=c.type)
                    for v, c in zip(last, (model.updated_at, model.id), strict=True)
                )
            )
        )
    with factory() as session:
        session.connection(execution_options={READ_ONLY: True})
        chunks = _chunks(session, stmt, len(feed.columns))
        if fmt == "csv":
            yield from _csv(feed, chunks)
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


def _csv(feed: Feed, chunks: Iterator[list[Any]]) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(feed.columns)
    for chunk in chunks:
        writer.writerows([_csv_cell(value) for value in row] for row in chunk)
        yield buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode()


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, dict):
        value = orjson.dumps(value).decode()
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value  # neutralised: shown as text, never run
    return value
