"""Every problem of an imported file said in the file's terms: what was there, what was expected."""

import math
import re
from typing import get_args

from annotated_types import MaxLen
from pydantic_core import ErrorDetails

from app.schemas.responses import ExternalId
from app.vocab import CODE_MAX_LENGTH, CODE_PATTERN, DIMENSIONS, Profession, Role

SCALE = "the 1–5 scale"  # noqa: RUF001 (the dash of a range, as printed)
A_TIME = "2026-10-15T09:00:00Z"
NO_SCORE = f"every score is blank: a line needs at least one of {', '.join(DIMENSIONS)}"
_CODE = re.compile(CODE_PATTERN)
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_STARTS_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}")
_NOUNS = {"pulse": "pulse key", "team": "team code", "organisation": "organisation code"}
_CHOICES = {"role": [r.value for r in Role], "profession": [p.value for p in Profession]}
# The limit as the schema states it, so that the message cannot drift from the check.
_EXTERNAL_ID_MAX = next(
    m.max_length for m in get_args(ExternalId)[1].metadata if isinstance(m, MaxLen)
)


def explain(column: str, value: str, error: ErrorDetails) -> str:
    """What is wrong with ``value`` in ``column``, from a validation error of its item."""
    kind = error["type"]
    if column in DIMENSIONS:
        return score(value, kind)
    if column == "submitted_at":
        return submitted_at(value, kind)
    if column in _NOUNS:
        return code(column, value, kind)
    if column in _CHOICES:
        return choice(column, value)
    if column == "external_id":
        return external_id(value, kind)
    if column == "":
        return NO_SCORE
    return f"{value} is not accepted in {column}"


def score(value: str, kind: str) -> str:
    """A score that is not a number of the scale, in hundredths."""
    number = _number(value)
    if number is None or not math.isfinite(number):
        decimal_comma = "," in value and _number(value.replace(",", ".", 1)) is not None
        hint = " (use a dot for decimals)" if decimal_comma else ""
        return f"{value} is not a number on {SCALE}{hint}"
    if kind == "multiple_of":
        return f"{value} has more than two decimal places (scores go in steps of 0.01)"
    hint = " (leave the cell blank for a question not answered)" if number == 0 else ""
    return f"{value} is outside {SCALE}{hint}"


def submitted_at(value: str, kind: str) -> str:
    """A time that is not an ISO 8601 date-time with an offset, or cannot be moved to UTC."""
    if kind == "timezone_aware":
        if _ISO_DAY.match(value):
            return f"{value} is a date without a time; write a date-time like {A_TIME}"
        return (
            f"{value} has no UTC offset; end it with Z or an offset such as +01:00, like {A_TIME}"
        )
    if kind == "value_error" and _STARTS_ISO.match(value):
        return f"{value} falls outside the calendar once moved to UTC"
    return f"{value} is not an ISO date-time like {A_TIME}"


def in_the_future(value: str) -> str:
    """A submission time after the import's own."""
    return f"{value} is in the future"


def code(column: str, value: str, kind: str) -> str:
    """A pulse key, team code or organisation code that cannot be one."""
    noun = _NOUNS[column]
    if not value:
        return f"the {noun} is missing; every line needs one"
    if kind == "string_too_long":
        return f"{value} is longer than {CODE_MAX_LENGTH} characters, the most a {noun} may have"
    lower = value.lower()
    hint = f"; codes are lower case: {lower}?" if _CODE.match(lower) else ""
    return f"{value} is not a {noun} (lower-case letters, digits, '.', '_' and '-'){hint}"


def unknown(column: str, value: str) -> str:
    """A well-formed code that names nothing in the system."""
    return (
        f"{value} is not the {'key' if column == 'pulse' else 'code'} of a {column} in this system"
    )


def not_open(value: str) -> str:
    """A pulse that takes no responses yet."""
    return f"{value} is a pulse that has not opened yet"


def choice(column: str, value: str) -> str:
    """A role or profession outside its list."""
    options = _CHOICES[column]
    near = re.sub(r"[\s-]+", "_", value.strip().lower())
    hint = f"; {near}?" if near in options else ""
    return f"{value} is not a {column}: use one of {', '.join(options)}, or leave it blank{hint}"


def external_id(value: str, kind: str) -> str:
    """An external_id that cannot be one."""
    if kind == "string_too_long":
        most = _EXTERNAL_ID_MAX
        return f"{value} is longer than {most} characters, the most an external_id may have"
    return f"{value} is not an external_id: printable ASCII characters without spaces"


def repeated_id(value: str) -> str:
    """An external_id given to an earlier line of the file with other answers."""
    return f"{value} is the external_id of an earlier line too, with other answers"


def stored_id(value: str) -> str:
    """An external_id stored with other answers (by a portal, an import, or this file)."""
    return (
        f"{value} is the external_id of a response already stored with other answers "
        "(by a portal, an earlier import or an earlier line of this file)"
    )


def cell_count(cells: int, columns: int, delimiter: str) -> str:
    """A line whose cells do not match the header."""
    return (
        f"has {cells} cells where the header has {columns} columns "
        f"(a value containing {delimiter} must be in double quotes)"
    )


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None
