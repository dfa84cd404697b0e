"""Rows of the BI feeds (DESIGN section 5)."""

from datetime import date, datetime

from pydantic import BaseModel, Field

from app.schemas.common import Code
from app.schemas.insights import WarningSignRead
from app.vocab import Dimension, OrganisationKind, PulseStatus, ResultScope, SegmentType

MAX_N = 10_000_000


class FeedRowCommon(BaseModel):
    """What every feed row carries: its pulse, where it is, and when it changed."""

    pulse: Code = Field(description="Key of the pulse.")
    scope: ResultScope = Field(description="A team or a place.")
    pulse_title: str = Field(max_length=200, description="Title of the pulse.")
    pulse_opens_on: date = Field(description="The pulse's first day.")
    pulse_closes_on: date = Field(
        description="The pulse's last day; never changes for a row: partition on it."
    )
    place: Code = Field(description="Code of the place.")
    place_name: str = Field(max_length=200, description="Name of the place, as it is now.")
    team: Code | None = Field(description="Code of the team; null for place rows.")
    team_name: str | None = Field(
        max_length=200, description="Name of the team, as it is now; null for place rows."
    )
    updated_at: datetime = Field(
        description="When what this row shows last changed (UTC): for change detection."
    )
    withdrawn_at: datetime | None = Field(
        description="Set on a tombstone: when the row stopped being part of the results."
    )


class ScoreFeedRow(FeedRowCommon):
    """One published or suppressed cell of a closed pulse; numbers null where suppressed."""

    id: str = Field(max_length=36, description="Stable id of the cell (a UUID of what it is).")
    dimension: Dimension = Field(description="The dimension.")
    segment_type: SegmentType | None = Field(description="Null for the whole group.")
    segment: str | None = Field(max_length=32, description="The segment of the breakdown.")
    n: int | None = Field(ge=0, le=MAX_N, description="Responses in the cell.")
    mean: float | None = Field(ge=1, le=5, description="Mean score.")
    sd: float | None = Field(ge=0, le=4, description="Sample standard deviation.")
    ci_low: float | None = Field(ge=1, le=5, description="95% interval, lower end.")
    ci_high: float | None = Field(ge=1, le=5, description="95% interval, upper end.")
    suppressed: bool = Field(description="True when too few people to publish.")
    revision_withheld: bool = Field(
        description="True when later responses changed the cell but its first published "
        "numbers stand (a revision could not publish new ones safely)."
    )


class WarningSignFeedRow(WarningSignRead):
    """One warning sign of a closed pulse; a tombstone once the rules no longer raise it."""

    pulse_title: str = Field(max_length=200, description="Title of the pulse.")
    pulse_opens_on: date = Field(description="The pulse's first day.")
    pulse_closes_on: date = Field(
        description="The pulse's last day; never changes for a row: partition on it."
    )
    place_name: str = Field(max_length=200, description="Name of the place, as it is now.")
    team_name: str | None = Field(
        max_length=200, description="Name of the team, as it is now; null for place flags."
    )
    updated_at: datetime = Field(
        description="When what this row shows last changed (UTC): for change detection."
    )
    withdrawn_at: datetime | None = Field(
        description="Set on a tombstone: when the rules stopped raising the flag."
    )


class ParticipationFeedRow(FeedRowCommon):
    """Responses and headcount of a team or place in a closed pulse (counts only)."""

    id: str = Field(max_length=36, description="Stable id of the row (a UUID of what it is).")
    responses: int = Field(ge=0, le=MAX_N, description="Responses received.")
    headcount: int | None = Field(
        ge=0,
        le=MAX_N,
        description="Staff when the pulse was published; for a place, where every team's is known.",
    )
    response_rate: float | None = Field(ge=0, description="responses / headcount.")


class PlaceLookupRow(BaseModel):
    """A place, for a lookup table."""

    code: Code = Field(description="Code of the place.")
    name: str = Field(max_length=200, description="Name of the place.")
    updated_at: datetime = Field(description="When it last changed (UTC).")


class OrganisationLookupRow(BaseModel):
    """A partner organisation, for a lookup table."""

    code: Code = Field(description="Code of the organisation.")
    name: str = Field(max_length=200, description="Name of the organisation.")
    kind: OrganisationKind = Field(description="Kind of organisation.")
    updated_at: datetime = Field(description="When it last changed (UTC).")


class TeamLookupRow(BaseModel):
    """A team with its place and host organisation, for a lookup table."""

    code: Code = Field(description="Code of the team.")
    name: str = Field(max_length=200, description="Name of the team.")
    place: Code = Field(description="Code of its place.")
    place_name: str = Field(max_length=200, description="Name of its place.")
    host_organisation: Code = Field(description="Code of its host organisation.")
    host_organisation_name: str = Field(max_length=200, description="Name of its host.")
    host_organisation_kind: OrganisationKind = Field(description="Kind of its host.")
    formed_on: date | None = Field(description="When the team was formed, if known.")
    headcount: int | None = Field(ge=1, le=MAX_N, description="Staff, if known.")
    updated_at: datetime = Field(description="When it last changed (UTC).")


class PulseLookupRow(BaseModel):
    """A pulse with its dates and status, for a date table."""

    key: Code = Field(description="Key of the pulse.")
    title: str = Field(max_length=200, description="Title of the pulse.")
    opens_on: date = Field(description="First day.")
    closes_on: date = Field(description="Last day.")
    status: PulseStatus = Field(description="Status now.")
    closed_at: datetime | None = Field(description="When an admin closed it early, if so.")
    updated_at: datetime = Field(description="When it last changed (UTC).")
