"""Rows written by COPY in its text format read back as the values they were made from."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Column, Float, Integer, MetaData, String, Table, select
from sqlalchemy.orm import Session

from app.db import UTCDateTime
from app.services.bulk import NULL, copy_text, text_field

STRINGS = ["plain", "tab\there", "new\nline", "back\\slash", "cr\r", "\\N", "", "é ☃ \x1f"]
FLOATS = [0.0, -1.5, 1 / 3, 4.123456789012345, 1e-12, 123456789.25]


def test_fields_are_escaped_and_null_is_backslash_n() -> None:
    assert text_field(None) == NULL == "\\N"
    assert text_field("a\tb\nc\\d\re") == "a\\tb\\nc\\\\d\\re"
    assert text_field("\\N") == "\\\\N"  # a string that looks like null is not null
    assert (text_field(True), text_field(False), text_field(0), text_field(12)) == (
        "t",
        "f",
        "0",
        "12",
    )
    assert all(float(text_field(f)) == f for f in FLOATS)
    moment = datetime(2026, 12, 3, 17, 0, 1, 250, tzinfo=UTC)
    assert datetime.fromisoformat(text_field(moment)) == moment
    with pytest.raises(ValueError, match="naive"):
        text_field(datetime(2026, 12, 3))
    with pytest.raises(TypeError):
        text_field(b"bytes")


def test_rows_read_back_as_written(db: Session) -> None:
    if db.get_bind().dialect.name != "postgresql":
        pytest.skip("COPY is PostgreSQL's")
    table = Table(
        "copy_text_check",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("s", String),
        Column("f", Float),
        Column("at", UTCDateTime),
        Column("flag", Integer),
    )
    table.create(db.connection())

    class Model:  # what copy_text reads of a model: its table
        __table__ = table

    east = timezone(timedelta(hours=5, minutes=30))
    rows = [
        (i, s, FLOATS[i % len(FLOATS)], datetime(2026, 1, 1, 9, i, tzinfo=east), None)
        for i, s in enumerate(STRINGS)
    ]
    with copy_text(db, Model, ["id", "s", "f", "at", "flag"]) as send:  # type: ignore[arg-type]
        send("".join("\t".join(map(text_field, row)) + "\n" for row in rows).encode())
    read = db.execute(select(table).order_by(table.c.id)).all()
    assert [tuple(r) for r in read] == rows
