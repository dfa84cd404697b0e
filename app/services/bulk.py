"""Writing many rows at once."""

from typing import Any, cast

import psycopg
from psycopg.types.json import Jsonb
from sqlalchemy import JSON, Table, insert
from sqlalchemy.orm import DeclarativeBase, Session


def insert_rows(session: Session, model: type[DeclarativeBase], rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` (dicts holding every column) into ``model``'s table.

    On PostgreSQL by COPY: a multi-row INSERT of thousands of rows spends most of its time
    in the driver parsing the statement's placeholders.
    """
    if not rows:
        return
    table = cast(Table, model.__table__)
    if session.get_bind().dialect.name != "postgresql":
        session.execute(insert(table), rows)
        return
    names = list(rows[0])
    wrap = [isinstance(table.c[name].type, JSON) for name in names]
    driver = session.connection().connection.driver_connection
    assert isinstance(driver, psycopg.Connection)
    with (
        driver.cursor() as cursor,
        cursor.copy(f"COPY {table.name} ({', '.join(names)}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(
                [Jsonb(row[n]) if w else row[n] for n, w in zip(names, wrap, strict=True)]
            )
