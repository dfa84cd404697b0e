"""Writing many rows at once."""

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, cast

import psycopg
from psycopg.types.json import Jsonb
from sqlalchemy import JSON, Table, insert
from sqlalchemy.orm import DeclarativeBase, Session

Writer = Callable[[Iterable[Sequence[Any]]], None]


def insert_rows(session: Session, model: type[DeclarativeBase], rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` (dicts holding every column) into ``model``'s table."""
    if rows:
        names = list(rows[0])
        insert_values(session, model, names, [[row[n] for n in names] for row in rows])


def insert_values(
    session: Session,
    model: type[DeclarativeBase],
    names: Sequence[str],
    rows: Sequence[Sequence[Any]],
) -> None:
    """Insert ``rows``, each the values of the columns ``names`` in that order.

    On PostgreSQL by COPY: a multi-row INSERT of thousands of rows spends most of its time
    in the driver parsing the statement's placeholders.
    """
    if not rows:
        return
    if session.get_bind().dialect.name != "postgresql":
        table = cast(Table, model.__table__)
        session.execute(insert(table), [dict(zip(names, row, strict=True)) for row in rows])
        return
    with copy_values(session, model, names) as write:
        write(rows)


@contextmanager
def copy_values(
    session: Session, model: type[DeclarativeBase], names: Sequence[str]
) -> Iterator[Writer]:
    """A COPY into ``model``'s table open for the block (PostgreSQL): rows of values of
    ``names`` given to the writer it yields are sent as they come, and the server inserts
    them while the caller goes on. The session's connection is the COPY's until the block
    ends: nothing else may be read or written through it meanwhile."""
    table = cast(Table, model.__table__)
    wrap = [i for i, name in enumerate(names) if isinstance(table.c[name].type, JSON)]
    driver = session.connection().connection.driver_connection
    assert isinstance(driver, psycopg.Connection)
    with (
        driver.cursor() as cursor,
        cursor.copy(f"COPY {table.name} ({', '.join(names)}) FROM STDIN") as copy,
    ):

        def write(rows: Iterable[Sequence[Any]]) -> None:
            for row in rows:
                if wrap:
                    row = list(row)
                    for i in wrap:
                        row[i] = Jsonb(row[i])
                copy.write_row(row)

        yield write


@contextmanager
def copy_text(
    session: Session, model: type[DeclarativeBase], names: Sequence[str]
) -> Iterator[Callable[[bytes], None]]:
    """As ``copy_values``, but the writer it yields takes rows already in COPY's text
    format (a line each, fields by ``text_field``): rows can then be made anywhere, even
    in another process, and sent as they are."""
    table = cast(Table, model.__table__)
    driver = session.connection().connection.driver_connection
    assert isinstance(driver, psycopg.Connection)
    with (
        driver.cursor() as cursor,
        cursor.copy(f"COPY {table.name} ({', '.join(names)}) FROM STDIN") as copy,
    ):
        yield copy.write


# COPY's text format: a backslash, and the tab, newline and carriage return that end fields
# and rows, are escaped; \N is null.
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
NULL = "\\N"


def text_field(value: Any) -> str:
    """A value as a field of COPY's text format (None, bool, int, float, str, datetime).

    psycopg formats fields in C, but only rows it sends itself, through the connection.
    """
    if value is None:
        return NULL
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, int | float):
        return repr(value)  # a float's shortest repr reads back as the same float
    if isinstance(value, str):
        return value.translate(_ESCAPES)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.isoformat()
    raise TypeError(f"no COPY text for {type(value).__name__}")
