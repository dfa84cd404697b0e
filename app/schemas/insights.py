"""Scores, warning signs and the rulebook."""

from dataclasses import fields
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model

from app.analysis.signs import RULES
from app.schemas.common import Code, Number, RequestModel, ResponseModel, Switch, Whole
from app.vocab import Dimension, PulseStatus, ResultScope, Rule, SegmentType, Severity

MAX_N = 10_000_000

RULE_TEXT = {
    "low_score": "Dimension mean below the threshold.",
    "falling": "Mean fell credibly from its baseline (up to three earlier reportable pulses).",
    "sustained_decline": "Four pulses in a row, each mean lower than the one before.",
    "polarised": "Standard deviation at or above the threshold: not on the same page.",
    "hierarchy_gap": "Leaders' and frontline means differ credibly.",
    "partner_divide": "Staff of two organisation kinds differ credibly.",
    "below_place": "Team mean credibly below the rest of its place.",
    "low_participation": "Responses / headcount below the threshold.",
    "insufficient_responses": "Between 1 and k-1 responses: nothing can be reported.",
    "gone_quiet": "Reportable in the previous pulse, no responses in this one.",
    "spreading": "A share of the place's reportable teams carry an amber or red flag.",
}


class Numbers(ResponseModel):
    """An aggregate; every number is null where it is suppressed (DESIGN section 3)."""

    n: int | None = Field(ge=0, le=MAX_N, description="Responses scoring this dimension.")
    mean: float | None = Field(ge=1, le=5, description="Mean score.")
    sd: float | None = Field(ge=0, le=4, description="Sample standard deviation.")
    ci_low: float | None = Field(ge=1, le=5, description="95% interval (t), lower end.")
    ci_high: float | None = Field(ge=1, le=5, description="95% interval (t), upper end.")
    suppressed: bool = Field(
        description="True when the numbers are withheld: the group is too small, or publishing "
        "them would let a combination of published numbers isolate fewer than k people."
    )
    published_at: datetime | None = Field(
        description="When these numbers were published (null when suppressed). A closed "
        "pulse is published once; a later revision replaces numbers only where that is safe."
    )
    revision_withheld: bool = Field(
        description="True when a later change (a late upload or an erasure) would have changed "
        "these numbers but could not be published safely: the numbers first published stand."
    )


class Segment(Numbers):
    """One segment of a breakdown."""

    segment_type: SegmentType = Field(description="What the group is broken down by.")
    segment: str = Field(max_length=32, description="The segment, e.g. `leaders`, `nursing`.")


class DimensionScores(Numbers):
    """One dimension: the whole group and its breakdowns."""

    dimension: Dimension = Field(description="The dimension.")
    breakdowns: list[Segment] = Field(
        max_length=100, description="By role group, profession, organisation kind."
    )


class Participation(BaseModel):
    """Who answered."""

    responses: int = Field(ge=0, le=MAX_N, description="Responses received.")
    headcount: int | None = Field(ge=0, le=MAX_N, description="Staff, where every team's is known.")
    response_rate: float | None = Field(
        ge=0,
        description="responses / headcount; above 1 when more answered than the headcount "
        "recorded for the team (which is then out of date).",
    )


class ScoresRead(ResponseModel):
    """A team's or place's scores in one pulse."""

    pulse: Code = Field(description="Key of the pulse.")
    status: PulseStatus = Field(description="Scores are published for closed pulses only.")
    scope: ResultScope = Field(description="A team or a place.")
    place: Code = Field(description="Code of the place.")
    team: Code | None = Field(description="Code of the team; null for a place.")
    participation: Participation = Field(description="Response counts (always published).")
    dimensions: list[DimensionScores] = Field(
        max_length=5, description="Per dimension; empty while the pulse is not closed."
    )


class WarningSignFields(ResponseModel):
    """What every warning sign holds but its rule and evidence (DESIGN section 4)."""

    id: str = Field(
        max_length=36, description="Stable id: the same flag keeps it across refreshes."
    )
    severity: Severity = Field(description="How serious.")
    scope: ResultScope = Field(description="A team or a place.")
    pulse: Code = Field(description="Key of the pulse.")
    place: Code = Field(description="Code of the place.")
    team: Code | None = Field(description="Code of the team; null for place flags.")
    dimension: Dimension | None = Field(description="The dimension, if the rule is about one.")
    message: str = Field(max_length=1000, description="The sign in plain English.")
    rules_version: int = Field(
        ge=1, le=2**31, description="Rulebook version it last changed under."
    )


class WarningSignRead(WarningSignFields):
    """A warning sign (DESIGN section 4), its evidence as an object."""

    rule: Rule = Field(description="The rule that fired.")
    evidence: dict[str, Any] = Field(description="The published numbers behind it.")


def _rule_model(name: str, *, request: bool) -> type[BaseModel]:
    """A Pydantic model of one rule's settings, bounds from the rulebook's ranges."""
    rule = RULES[name]
    defaults = rule()
    definitions: dict[str, Any] = {}
    for field in fields(rule):
        default = getattr(defaults, field.name)
        # In a request an omitted setting keeps its default; the stored value is read back.
        options: dict[str, Any] = {"default": None} if request else {}
        if field.name == "enabled":
            kind: Any = Switch if request else bool
            options["description"] = "Whether the rule runs."
        else:
            bounds = rule.ranges[field.name.split("_", 1)[1]]
            number: Any = Number if request else float
            kind = number | None if field.name.startswith("red_") else number
            options["gt" if bounds.low_open else "ge"] = bounds.low
            options["le"] = bounds.high
            level = field.name.split("_")[0].capitalize()
            shown = "none" if default is None else default
            options["description"] = (
                f"{level} threshold (default {shown}); null: no {level.lower()} level."
                if field.name.startswith("red_")
                else f"{level} threshold (default {shown})."
            )
        definitions[field.name] = (kind, Field(**options))
    camel = "".join(part.capitalize() for part in name.split("_"))
    config = ConfigDict(extra="forbid") if request else ConfigDict()
    return create_model(
        f"{camel}{'Change' if request else 'Settings'}",
        __config__=config,
        __doc__=RULE_TEXT[name],
        **definitions,
    )


def _rules_model(*, request: bool) -> type[BaseModel]:
    definitions: dict[str, Any] = {
        name: (
            _rule_model(name, request=request),
            Field(default=None, description=RULE_TEXT[name])
            if request
            else Field(description=RULE_TEXT[name]),
        )
        for name in RULES
    }
    config = ConfigDict(extra="forbid") if request else ConfigDict()
    return create_model(
        "RuleChanges" if request else "RuleSettings",
        __config__=config,
        __doc__="Settings per rule."
        if not request
        else "Settings per rule; omitted ones take the defaults.",
        **definitions,
    )


RuleSettings = _rules_model(request=False)
RuleChanges = _rules_model(request=True)


class RulesRead(ResponseModel):
    """The rulebook in force."""

    version: int = Field(ge=1, le=2**31, description="Bumped by every change.")
    rules: RuleSettings = Field(description="Every rule's settings.")  # type: ignore[valid-type]


class RulesUpdate(RequestModel):
    """A new rulebook: omitted rules and thresholds take their defaults."""

    version: Whole | None = Field(
        default=None,
        ge=1,
        le=2**31,
        description="The version this change is based on; a 409 if it is no longer current.",
    )
    rules: RuleChanges = Field(description="Settings per rule.")  # type: ignore[valid-type]
