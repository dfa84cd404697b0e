"""Pulse responses: write-only scores, readable metadata."""

import uuid
from datetime import datetime
from typing import Annotated, Any, Self

from pydantic import ConfigDict, Field, ValidationError, model_validator

from app.errors import ErrorList, PayloadTooLarge, field_error
from app.schemas.common import Code, RequestModel, ResponseModel, UtcDatetime
from app.vocab import Profession, Role

MAX_BATCH = 5000


Score = Annotated[
    float,
    Field(
        strict=True,
        ge=1,
        le=5,
        # Checked by pydantic-core with a tolerance for binary floating point: every value
        # from 1.00 to 5.00 in steps of 0.01 passes, 3.333 does not (see the unit tests).
        multiple_of=0.01,
        description="1 to 5, at most 2 decimal places; omit the dimension to skip it.",
    ),
]
ExternalId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=128,
        pattern=r"^[\x21-\x7e]+$",
        description=(
            "The portal's own identifier for this response (printable ASCII, no spaces), unique "
            "in the system. Posting it again from a key of the same client is safe: the stored "
            "response is returned, never a second copy."
        ),
    ),
]


class Scores(RequestModel):
    """One person's scores on the five dimensions; at least one is required."""

    # The contract says "at least one dimension" by minProperties only: an anyOf of the five
    # (one present and not null) made generated clients a union of five Scores types. A
    # body of nulls alone passes the schema and is refused with a 422 naming the field.
    model_config = ConfigDict(json_schema_extra={"minProperties": 1})

    purpose: Score | None = Field(default=None, description="Understanding of the purpose.")
    belief: Score | None = Field(default=None, description="Desire, and belief they can deliver.")
    support: Score | None = Field(default=None, description="The support they receive.")
    new_ways_of_working: Score | None = Field(
        default=None, description="Understanding of the new ways of working."
    )
    partner_relationships: Score | None = Field(
        default=None, description="Relationships with the other partners at place."
    )

    @model_validator(mode="after")
    def _at_least_one(self) -> Self:
        if (
            self.purpose is None
            and self.belief is None
            and self.support is None
            and self.new_ways_of_working is None
            and self.partner_relationships is None
        ):
            raise ValueError("at least one dimension must be scored")
        return self


class ResponseCreate(RequestModel):
    """One person's answers for one team in one pulse. Nothing that identifies them."""

    pulse: Code = Field(description="Key of the pulse.")
    team: Code = Field(description="Code of the team the answers are about.")
    scores: Scores = Field(description="The scores; a skipped dimension is left out.")
    role: Role | None = Field(default=None, description="The respondent's role, if given.")
    profession: Profession | None = Field(
        default=None, description="The respondent's profession, if given."
    )
    organisation: Code | None = Field(
        default=None, description="Code of the partner organisation employing the respondent."
    )
    submitted_at: UtcDatetime | None = Field(
        default=None, description="When the respondent submitted, with a UTC offset."
    )
    external_id: ExternalId | None = Field(
        default=None,
        description="The portal's own identifier for this response; makes a re-post safe.",
    )


class ResponseBatch(RequestModel):
    """Up to 5,000 responses, stored all together or not at all."""

    responses: list[ResponseCreate] = Field(
        min_length=1, max_length=MAX_BATCH, description="The responses."
    )


def parse_batch(body: Any) -> tuple[list[tuple[int, ResponseCreate]], ErrorList]:
    """The valid items of a batch body with their indices, and the errors of its bad fields.

    Items are validated one by one, so that a 422 can list every bad item at once, those
    with bad fields here and those naming unknown codes later.
    """
    errors = ErrorList()
    if not isinstance(body, dict) or not isinstance(body.get("responses"), list):
        errors.add(field_error("/responses", "a list of responses is required"))
        return [], errors
    unknown = [name for name in body if name != "responses"]
    if unknown:
        for name in unknown:
            errors.add(field_error(f"/{name}", "Extra inputs are not permitted"))
        return [], errors
    raw = body["responses"]
    if len(raw) > MAX_BATCH:
        raise PayloadTooLarge(
            f"A batch holds at most {MAX_BATCH} responses; this one has {len(raw)}."
        )
    if not raw:
        errors.add(field_error("/responses", "at least one response is required"))
        return [], errors
    items: list[tuple[int, ResponseCreate]] = []
    for index, item in enumerate(raw):
        try:
            items.append((index, ResponseCreate.model_validate(item)))
        except ValidationError as exc:
            errors.add_validation(exc, prefix=f"/responses/{index}")
    return items, errors


class ResponseRead(ResponseModel):
    """What is kept of a response that anyone may read back: never its scores."""

    id: uuid.UUID = Field(description="Identifier of the stored response.")
    external_id: str | None = Field(max_length=128, description="The portal's identifier.")
    pulse: Code = Field(description="Key of the pulse.")
    team: Code = Field(description="Code of the team.")
    submitted_at: datetime | None = Field(description="When the respondent submitted (UTC).")
    received_at: datetime = Field(description="When the service stored it (UTC).")


class BatchResult(ResponseModel):
    """What a batch did."""

    created: int = Field(ge=0, le=MAX_BATCH, description="Responses stored by this batch.")
    already_stored: int = Field(
        ge=0,
        le=MAX_BATCH,
        description=(
            "Responses whose external_id this client had already stored with the same answers."
        ),
    )
