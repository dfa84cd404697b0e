"""Types and models shared by every area of the API."""

import re
from datetime import UTC, date, datetime
from typing import Annotated, Any, Generic, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
)

from app.errors import MAX_ERRORS
from app.vocab import CODE_MAX_LENGTH, CODE_PATTERN, NAME_MAX_LENGTH


def _in_utc(value: datetime) -> datetime:
    try:
        value.astimezone(UTC)
    except OverflowError:
        raise ValueError("is out of range once moved to UTC") from None
    return value  # as given: fingerprints of stored responses hash it with its offset


# Numbers and switches as JSON writes them: no "7" for 7, no true for 1, no 7.5 for 7, and
# no 7.0 for 7 either (a float from a client is more likely a bug; docs/API.md says so).
Whole = Annotated[int, Strict()]
Number = Annotated[float, Strict()]
Switch = Annotated[bool, Strict()]

_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}")
# The longest date or time text taken (the contract's maxLength): an offset time with
# nanoseconds is 35 characters.
MAX_TIME_TEXT = 64


def _written(value: Any) -> Any:
    """Dates and times as text (ISO 8601): not a number read as seconds since 1970."""
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not _ISO_DAY.match(value):
        raise ValueError("must be written as ISO 8601 text (YYYY-MM-DD...)")
    if len(value) > MAX_TIME_TEXT:
        raise ValueError(f"must be at most {MAX_TIME_TEXT} characters")
    return value


Day = Annotated[date, BeforeValidator(_written)]

# A timestamp with an offset that can be moved to UTC; one that cannot be
# (0001-01-01T00:00+01:00, 9999-12-31T23:59-01:00) is a validation error, not an overflow
# deeper in.
UtcDatetime = Annotated[AwareDatetime, BeforeValidator(_written), AfterValidator(_in_utc)]

Code = Annotated[
    str,
    Field(
        min_length=1,
        max_length=CODE_MAX_LENGTH,
        pattern=CODE_PATTERN,
        description=(
            "Identifier unique within the system: lower-case letters, digits, `.`, `_`, `-`."
        ),
        examples=["north-east"],
    ),
]
# One line of printable text with at least one visible character.
TEXT_PATTERN = r"^[^\x00-\x1f\x7f]*[^\x00-\x1f\x7f\s][^\x00-\x1f\x7f]*$"
Name = Annotated[
    str,
    Field(
        min_length=1,
        max_length=NAME_MAX_LENGTH,
        pattern=TEXT_PATTERN,
        description="Human-readable name: one line of text.",
    ),
]


def omittable(**kwargs: Any) -> Any:
    """A PATCH field that may be left out (then None) but, unless typed so, not set to null.

    Pydantic does not validate defaults, so an omitted field reads None while an explicit
    null is checked against the declared type and refused; the OpenAPI stays non-nullable.
    """
    return Field(default=None, **kwargs)


MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 100


class RequestModel(BaseModel):
    """A request body: unknown fields are rejected, so nothing unexpected slips in."""

    model_config = ConfigDict(extra="forbid")


class ResponseModel(BaseModel):
    """A response body."""

    model_config = ConfigDict(from_attributes=True)


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a list, with the link to the next."""

    data: list[T] = Field(max_length=MAX_PAGE_SIZE, description="The items of this page.")
    next: str | None = Field(
        max_length=4096, description="Absolute URL of the next page; null on the last page."
    )
    next_cursor: str | None = Field(
        max_length=1024,
        description="Opaque cursor for the next page (pass as `cursor`); null on the last page.",
    )


class FieldProblem(BaseModel):
    """One invalid field of a request body, or one invalid request parameter."""

    pointer: str | None = Field(
        default=None, max_length=1024, description="JSON pointer (RFC 6901) to the field."
    )
    parameter: str | None = Field(
        default=None, max_length=200, description="Name of the invalid request parameter."
    )
    detail: str = Field(max_length=2000, description="What is wrong with it.")


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    type: str = Field(max_length=200, description="URI reference identifying the problem type.")
    title: str = Field(max_length=200, description="Short summary of the problem type.")
    status: int = Field(ge=400, le=599, description="The HTTP status code.")
    detail: str = Field(max_length=2000, description="What went wrong with this request.")
    errors: list[FieldProblem] | None = Field(
        default=None,
        max_length=MAX_ERRORS,
        description=f"For validation problems: the bad fields, at most {MAX_ERRORS} of them.",
    )
    error_count: int | None = Field(
        default=None,
        ge=0,
        le=2**31 - 1,
        description="How many bad fields there are in all, listed in `errors` or not.",
    )
