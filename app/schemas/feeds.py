"""Rows of the BI feeds (DESIGN section 5)."""

from datetime import datetime

from pydantic import BaseModel, Field

from app.schemas.common import Code
from app.schemas.insights import WarningSignRead
from app.vocab import Dimension, ResultScope, SegmentType

MAX_N = 10_000_000


class ScoreFeedRow(BaseModel):
    """One published or suppressed cell of a closed pulse; numbers null where suppressed."""

    pulse: Code = Field(description="Key of the pulse.")
    scope: ResultScope = Field(description="A team or a place.")
    place: Code = Field(description="Code of the place.")
    team: Code | None = Field(description="Code of the team; null for place rows.")
    dimension: Dimension = Field(description="The dimension.")
    segment_type: SegmentType | None = Field(description="Null for the whole group.")
    segment: str | None = Field(max_length=32, description="The segment of the breakdown.")
    n: int | None = Field(ge=0, le=MAX_N, description="Responses in the cell.")
    mean: float | None = Field(ge=1, le=5, description="Mean score.")
    sd: float | None = Field(ge=0, le=4, description="Sample standard deviation.")
    ci_low: float | None = Field(ge=1, le=5, description="95% interval, lower end.")
    ci_high: float | None = Field(ge=1, le=5, description="95% interval, upper end.")
    suppressed: bool = Field(description="True when too few people to publish.")
    updated_at: datetime = Field(description="When this row last changed (UTC).")


class WarningSignFeedRow(WarningSignRead):
    """One warning sign of a closed pulse."""

    updated_at: datetime = Field(description="When this row last changed (UTC).")
