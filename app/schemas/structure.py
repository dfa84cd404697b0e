"""Systems, places, organisations, teams and pulses."""

from datetime import date, datetime
from typing import Self

from pydantic import Field, field_validator, model_validator

from app.schemas.common import (
    TEXT_PATTERN,
    Code,
    Day,
    Name,
    RequestModel,
    ResponseModel,
    Whole,
    omittable,
)
from app.vocab import OrganisationKind, PulseStatus

MinGroupSize = Field(
    ge=3,
    le=1000,
    description="k: aggregates over fewer responses are suppressed. Never below 3.",
)
AdoptionMonths = Field(
    ge=0,
    le=120,
    description="Months a new team is given to adopt new ways of working.",
)
CreatedAt = Field(description="When the record was created (UTC).")
UpdatedAt = Field(description="When the record last changed (UTC).")
Headcount = Field(ge=1, le=100_000, description="Number of staff in the team, where known.")
FormedOn = Field(description="Date the team was formed, where known.")
PulseTitle = Field(
    min_length=1, max_length=200, pattern=TEXT_PATTERN, description="Title of the pulse."
)


class SystemRead(ResponseModel):
    """The caller's system (an Integrated Care System)."""

    slug: Code
    name: Name
    min_group_size: int = MinGroupSize
    adoption_months: int = AdoptionMonths
    created_at: datetime = CreatedAt
    updated_at: datetime = UpdatedAt


class SystemChanged(SystemRead):
    """The system after a change, and the pulses its settings apply to."""

    min_group_size_applies_to: list[Code] = Field(
        max_length=10_000,
        description="Keys of the pulses not yet published, which the k now set applies to; "
        "published pulses keep the k they were published with.",
    )


class SystemUpdate(RequestModel):
    """Changes to the system; omitted fields stay as they are."""

    name: Name = omittable()
    min_group_size: Whole = omittable(ge=3, le=1000, description=MinGroupSize.description)
    adoption_months: Whole = omittable(ge=0, le=120, description=AdoptionMonths.description)


class PlaceCreate(RequestModel):
    """A new place."""

    code: Code
    name: Name


class PlaceUpdate(RequestModel):
    """Changes to a place; omitted fields stay as they are."""

    name: Name = omittable()


class PlaceRead(ResponseModel):
    """A locality within the system."""

    code: Code
    name: Name
    created_at: datetime = CreatedAt
    updated_at: datetime = UpdatedAt


class OrganisationCreate(RequestModel):
    """A new partner organisation."""

    code: Code
    name: Name
    kind: OrganisationKind = Field(description="What kind of organisation it is.")


class OrganisationUpdate(RequestModel):
    """Changes to an organisation; omitted fields stay as they are."""

    name: Name = omittable()
    kind: OrganisationKind = omittable(description="What kind of organisation it is.")


class OrganisationRead(ResponseModel):
    """A partner organisation."""

    code: Code
    name: Name
    kind: OrganisationKind = Field(description="What kind of organisation it is.")
    created_at: datetime = CreatedAt
    updated_at: datetime = UpdatedAt


class TeamCreate(RequestModel):
    """A new team."""

    code: Code
    name: Name
    place: Code = Field(description="Code of the team's place.")
    host_organisation: Code = Field(description="Code of the organisation hosting the team.")
    formed_on: Day | None = omittable(description=FormedOn.description)
    headcount: Whole | None = omittable(ge=1, le=100_000, description=Headcount.description)


class TeamUpdate(RequestModel):
    """Changes to a team; omitted fields stay as they are, null clears an optional one."""

    name: Name = omittable()
    place: Code = omittable(description="Code of the team's place.")
    host_organisation: Code = omittable(description="Code of the organisation hosting the team.")
    formed_on: Day | None = omittable(description=FormedOn.description)
    headcount: Whole | None = omittable(ge=1, le=100_000, description=Headcount.description)


class TeamRead(ResponseModel):
    """A neighbourhood or integrated team."""

    code: Code
    name: Name
    place: Code = Field(description="Code of the team's place.")
    host_organisation: Code = Field(description="Code of the organisation hosting the team.")
    formed_on: date | None = Field(description=FormedOn.description)
    headcount: int | None = Field(ge=1, le=100_000, description=Headcount.description)
    created_at: datetime = CreatedAt
    updated_at: datetime = UpdatedAt


def _check_dates(opens_on: date | None, closes_on: date | None) -> None:
    if opens_on is not None and closes_on is not None and closes_on < opens_on:
        raise ValueError("closes_on must not be before opens_on")


class PulseCreate(RequestModel):
    """A new survey round."""

    key: Code = Field(
        description="Identifier of the pulse, e.g. `2026-11`; not `latest`, which reads take "
        "to mean the latest closed pulse.",
        examples=["2026-11"],
    )
    title: str = PulseTitle
    opens_on: Day = Field(description="First day responses are accepted (UTC).")
    closes_on: Day = Field(description="Last day responses are accepted (UTC), inclusive.")

    @field_validator("key")
    @classmethod
    def _not_reserved(cls, key: str) -> str:
        if key == "latest":
            raise ValueError("`latest` is reserved: `pulse=latest` means the latest closed pulse")
        return key

    @model_validator(mode="after")
    def _dates_in_order(self) -> Self:
        _check_dates(self.opens_on, self.closes_on)
        return self


class PulseUpdate(RequestModel):
    """Changes to a pulse; the dates of a closed pulse cannot change."""

    title: str = omittable(
        min_length=1,
        max_length=200,
        pattern=TEXT_PATTERN,
        description="Title of the pulse.",
    )
    opens_on: Day = omittable(description="First day responses are accepted (UTC).")
    closes_on: Day = omittable(description="Last day responses are accepted (UTC), inclusive.")

    @model_validator(mode="after")
    def _dates_in_order(self) -> Self:
        _check_dates(self.opens_on, self.closes_on)
        return self


class PulseRead(ResponseModel):
    """A survey round."""

    key: Code = Field(description="Identifier of the pulse.")
    title: str = Field(max_length=200, description="Title of the pulse.")
    opens_on: date = Field(description="First day responses are accepted (UTC).")
    closes_on: date = Field(description="Last day responses are accepted (UTC), inclusive.")
    status: PulseStatus = Field(
        description="`scheduled` before `opens_on`, `open` to the end of `closes_on`, then "
        "`closed`; closing early makes it `closed` at once, for good."
    )
    closed_at: datetime | None = Field(description="When an admin closed the pulse early.")
    created_at: datetime = CreatedAt
    updated_at: datetime = UpdatedAt


class SystemCreate(RequestModel):
    """A new system; created from the command line."""

    slug: Code
    name: Name
    min_group_size: int = MinGroupSize
