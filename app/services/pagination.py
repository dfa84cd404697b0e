"""Keyset pagination with opaque cursors."""

import base64
import binascii
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Select, literal, tuple_
from sqlalchemy.orm import InstrumentedAttribute, Session

from app.errors import BadRequest

T = TypeVar("T")


def encode_cursor(values: Sequence[Any]) -> str:
    """An opaque, URL-safe cursor holding the sort key of the last row of a page."""
    plain = [
        v.isoformat() if isinstance(v, date) else str(v) if isinstance(v, uuid.UUID) else v
        for v in values
    ]
    return base64.urlsafe_b64encode(json.dumps(plain).encode()).decode().rstrip("=")


# Integers in a cursor are row ids: a database integer holds no more.
INT_RANGE = range(-(2**63), 2**63)


def cursor_datetime(text: str) -> datetime:
    """A timestamp from a cursor: with an offset, in range once in UTC (else ValueError)."""
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError("no offset")
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("out of range") from None


def cursor_int(value: Any) -> int:
    """A row id from a cursor (else TypeError or ValueError)."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError("not an integer")
    if value not in INT_RANGE:
        raise ValueError("out of range")
    return value


def decode_cursor(cursor: str, arity: int) -> list[Any]:
    """The sort key in ``cursor``; 400 when it is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        values = None
    if not isinstance(values, list) or len(values) != arity:
        raise BadRequest(
            "The cursor is not valid; use the `next_cursor` of a previous page.",
            errors=[{"parameter": "cursor", "detail": "not a cursor issued by this API"}],
        )
    return values


@dataclass(frozen=True, slots=True)
class Slice(Generic[T]):
    """One page of rows and the cursor of the next, if any."""

    rows: list[T]
    next_cursor: str | None


def keyset_page(
    session: Session,
    stmt: Select[T],
    order: Sequence[InstrumentedAttribute[Any] | ColumnElement[Any]],
    cursor: str | None,
    limit: int,
    *,
    parse: Sequence[Any] | None = None,
    descending: bool = False,
    key: Callable[[T], Sequence[Any]] | None = None,
) -> Slice[T]:
    """Rows of ``stmt`` after ``cursor`` in ``order`` (which must be unique), ``limit`` at most.

    ``parse`` turns each cursor value back into the column's type (e.g. ``date.fromisoformat``);
    ``descending`` reverses the order; ``key`` gives a row's values of ``order`` where they
    are expressions rather than its columns.
    """
    if cursor is not None:
        raw = decode_cursor(cursor, len(order))
        try:
            if not all(isinstance(v, str | int) and not isinstance(v, bool) for v in raw):
                raise TypeError
            for v in raw:
                if isinstance(v, int):
                    cursor_int(v)
            values = [
                p(v) if p else v for p, v in zip(parse or [None] * len(raw), raw, strict=True)
            ]
        except (TypeError, ValueError, OverflowError):
            raise BadRequest(
                "The cursor is not valid; use the `next_cursor` of a previous page.",
                errors=[{"parameter": "cursor", "detail": "not a cursor issued by this API"}],
            ) from None
        bound = [literal(v, type_=col.type) for v, col in zip(values, order, strict=True)]
        after = tuple_(*order) < tuple_(*bound) if descending else tuple_(*order) > tuple_(*bound)
        stmt = stmt.where(after)
    sort = [col.desc() for col in order] if descending else list(order)
    rows = list(session.scalars(stmt.order_by(*sort).limit(limit + 1)))
    if len(rows) <= limit:
        return Slice(rows, None)
    rows = rows[:limit]
    last = rows[-1]
    if key is not None:
        return Slice(rows, encode_cursor(key(last)))
    return Slice(rows, encode_cursor([getattr(last, str(col.key)) for col in order]))
