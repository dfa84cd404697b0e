"""Warning signs with typed evidence: one evidence model per rule, a union on ``rule``.

Fields that flags computed before the evidence was widened do not carry are optional, so
kept flags read back unchanged until they are next computed.
"""

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.schemas.common import Code, Page
from app.schemas.insights import WarningSignFields

Ids = list[Annotated[str, Field(max_length=36)]]
Count = Annotated[int, Field(ge=0, le=10_000_000)]
Mean = Annotated[float, Field(ge=1, le=5)]
Sd = Annotated[float, Field(ge=0, le=4)]
Difference = Annotated[float, Field(ge=-4, le=4)]
Pulses = list[Annotated[str, Field(max_length=64)]]


class Evidence(BaseModel):
    """What every flag's evidence holds."""

    model_config = ConfigDict(extra="ignore")

    related: Ids = Field(
        default_factory=list,
        max_length=20,
        description="Ids of the other flags of the same subject, pulse and dimension.",
    )


class AdoptionEvidence(Evidence):
    """Evidence of a rule the adoption window softens."""

    adoption_window: bool = Field(
        default=False,
        description="True when softened to info: the team is young and new ways of working "
        "take 6 to 12 months to adopt.",
    )
    formed_on: date | None = Field(default=None, description="When the team was formed.")


class Test(BaseModel):
    """The credibility test of a comparison (docs/API.md, How warning signs are decided)."""

    test: Literal["welch_t"] | None = Field(default=None, description="Welch's t-test.")
    alternative: Literal["one-sided", "two-sided"] | None = Field(
        default=None, description="One-sided for falls and shortfalls, else two-sided."
    )
    statistic: float | None = Field(default=None, description="t; null when neither group varies.")
    df: float | None = Field(
        default=None, ge=0, description="Welch-Satterthwaite degrees of freedom."
    )
    p: float = Field(ge=0, le=1, description="Raw p-value (three significant figures).")
    p_adjusted: float = Field(ge=0, le=1, description="p-value adjusted over the family.")
    method: Literal["holm"] | None = Field(default=None, description="The adjustment.")
    comparisons: int = Field(ge=1, le=10_000, description="The family's size.")
    alpha: float | None = Field(default=None, gt=0, lt=1, description="Significance level.")


class LowScoreEvidence(AdoptionEvidence):
    """Evidence of ``low_score``."""

    n: Count = Field(
        description="Responses in the subject's cell (or each group's, or each pulse's)."
    )
    mean: Mean = Field(description="The subject's published mean.")
    sd: Sd | None = Field(default=None, description="The subject's published standard deviation.")
    amber_below: float | None = Field(default=None, description="The rule's amber threshold.")
    red_below: float | None = Field(
        default=None, description="The rule's red threshold (null: none)."
    )


class PolarisedEvidence(Evidence):
    """Evidence of ``polarised``."""

    n: Count = Field(
        description="Responses in the subject's cell (or each group's, or each pulse's)."
    )
    mean: Mean | None = Field(default=None, description="The subject's published mean.")
    sd: Sd = Field(description="The subject's published standard deviation.")
    amber_sd: float | None = Field(default=None, description="The rule's amber threshold.")
    red_sd: float | None = Field(default=None, description="The rule's red threshold (null: none).")


class FallingEvidence(AdoptionEvidence, Test):
    """Evidence of ``falling``: now against the pooled baseline."""

    n: Count = Field(
        description="Responses in the subject's cell (or each group's, or each pulse's)."
    )
    mean: Mean = Field(description="The subject's published mean.")
    sd: Sd | None = Field(default=None, description="The subject's published standard deviation.")
    baseline_pulses: Pulses = Field(max_length=3, description="The pulses pooled, oldest first.")
    baseline_n: Count = Field(description="Responses in the pooled baseline.")
    baseline_mean: Mean = Field(description="Mean of the pooled baseline.")
    baseline_sd: Sd | None = Field(
        default=None, description="Standard deviation of the pooled baseline."
    )
    fall: Difference = Field(
        description="How far the mean fell (baseline or first pulse less now)."
    )
    amber_fall: float | None = Field(default=None, description="The rule's amber threshold.")
    red_fall: float | None = Field(
        default=None, description="The rule's red threshold (null: none)."
    )


class SustainedDeclineEvidence(AdoptionEvidence, Test):
    """Evidence of ``sustained_decline``: four pulses, oldest first."""

    pulses: Pulses = Field(max_length=4, description="The four pulses, oldest first.")
    n: list[Count] = Field(max_length=4, description="Each pulse's n.")
    means: list[Mean] = Field(max_length=4, description="Each pulse's mean.")
    sds: list[Sd | None] = Field(
        default_factory=list, max_length=4, description="Each pulse's standard deviation."
    )
    fall: Difference | None = Field(
        default=None, description="How far the mean fell (baseline or first pulse less now)."
    )
    amber_fall: float | None = Field(default=None, description="The rule's amber threshold.")
    red_fall: float | None = Field(
        default=None, description="The rule's red threshold (null: none)."
    )


class GapEvidence(Evidence, Test):
    """Evidence of ``hierarchy_gap`` and ``partner_divide``: two groups of one subject."""

    groups: list[Annotated[str, Field(max_length=32)]] = Field(
        max_length=2, description="The segments compared; `everyone_else` is the rest."
    )
    n: list[Count] = Field(max_length=2, description="Each group's n.")
    means: list[Mean] = Field(max_length=2, description="Each group's mean.")
    sds: list[Sd | None] = Field(
        default_factory=list, max_length=2, description="Each group's standard deviation."
    )
    gap: Difference = Field(description="How far apart the two means are.")
    amber_gap: float | None = Field(default=None, description="The rule's amber threshold.")
    red_gap: float | None = Field(
        default=None, description="The rule's red threshold (null: none)."
    )


class BelowPlaceEvidence(AdoptionEvidence, Test):
    """Evidence of ``below_place``: the team against the rest of its place."""

    n: Count = Field(
        description="Responses in the subject's cell (or each group's, or each pulse's)."
    )
    mean: Mean = Field(description="The subject's published mean.")
    sd: Sd | None = Field(default=None, description="The subject's published standard deviation.")
    rest_n: Count = Field(description="Responses in the rest of the place (place less team).")
    rest_mean: Mean = Field(description="Mean of the rest of the place.")
    rest_sd: Sd | None = Field(
        default=None, description="Standard deviation of the rest of the place."
    )
    shortfall: Difference = Field(description="How far the team is below the rest of its place.")
    amber_gap: float | None = Field(default=None, description="The rule's amber threshold.")
    red_gap: float | None = Field(
        default=None, description="The rule's red threshold (null: none)."
    )


class LowParticipationEvidence(Evidence):
    """Evidence of ``low_participation``."""

    responses: Count = Field(description="Responses received (participation).")
    headcount: Count = Field(description="The team's headcount.")
    ratio: float | None = Field(default=None, ge=0, description="responses / headcount.")
    amber_ratio: float | None = Field(default=None, description="The rule's amber threshold.")
    red_ratio: float | None = Field(
        default=None, description="The rule's red threshold (null: none)."
    )


class InsufficientResponsesEvidence(Evidence):
    """Evidence of ``insufficient_responses``."""

    responses: Count = Field(description="Responses received (participation).")
    min_group_size: int = Field(ge=1, le=1000, description="k: the smallest group published.")


class GoneQuietEvidence(Evidence):
    """Evidence of ``gone_quiet``."""

    responses: Count = Field(description="Responses received (participation).")
    previous_pulse: Code = Field(description="The pulse in which the team was last reportable.")


class SpreadingEvidence(Evidence):
    """Evidence of ``spreading``."""

    flagged_teams: Count = Field(description="Reportable teams with an amber or red flag.")
    reportable_teams: Count = Field(description="Teams of the place published in the pulse.")
    share: float = Field(ge=0, le=1, description="flagged_teams / reportable_teams.")
    teams: list[Annotated[str, Field(max_length=64)]] = Field(
        default_factory=list, max_length=10_000, description="The teams counted."
    )
    amber_share: float | None = Field(default=None, description="The rule's amber threshold.")
    red_share: float | None = Field(
        default=None, description="The rule's red threshold (null: none)."
    )


class LowScoreSign(WarningSignFields):
    """A ``low_score`` flag."""

    rule: Literal["low_score"] = Field(description="The rule that fired.")
    evidence: LowScoreEvidence = Field(description="The published numbers behind it.")


class FallingSign(WarningSignFields):
    """A ``falling`` flag."""

    rule: Literal["falling"] = Field(description="The rule that fired.")
    evidence: FallingEvidence = Field(description="The published numbers behind it.")


class SustainedDeclineSign(WarningSignFields):
    """A ``sustained_decline`` flag."""

    rule: Literal["sustained_decline"] = Field(description="The rule that fired.")
    evidence: SustainedDeclineEvidence = Field(description="The published numbers behind it.")


class PolarisedSign(WarningSignFields):
    """A ``polarised`` flag."""

    rule: Literal["polarised"] = Field(description="The rule that fired.")
    evidence: PolarisedEvidence = Field(description="The published numbers behind it.")


class HierarchyGapSign(WarningSignFields):
    """A ``hierarchy_gap`` flag."""

    rule: Literal["hierarchy_gap"] = Field(description="The rule that fired.")
    evidence: GapEvidence = Field(description="The published numbers behind it.")


class PartnerDivideSign(WarningSignFields):
    """A ``partner_divide`` flag."""

    rule: Literal["partner_divide"] = Field(description="The rule that fired.")
    evidence: GapEvidence = Field(description="The published numbers behind it.")


class BelowPlaceSign(WarningSignFields):
    """A ``below_place`` flag."""

    rule: Literal["below_place"] = Field(description="The rule that fired.")
    evidence: BelowPlaceEvidence = Field(description="The published numbers behind it.")


class LowParticipationSign(WarningSignFields):
    """A ``low_participation`` flag."""

    rule: Literal["low_participation"] = Field(description="The rule that fired.")
    evidence: LowParticipationEvidence = Field(description="The published numbers behind it.")


class InsufficientResponsesSign(WarningSignFields):
    """An ``insufficient_responses`` flag."""

    rule: Literal["insufficient_responses"] = Field(description="The rule that fired.")
    evidence: InsufficientResponsesEvidence = Field(description="The published numbers behind it.")


class GoneQuietSign(WarningSignFields):
    """A ``gone_quiet`` flag."""

    rule: Literal["gone_quiet"] = Field(description="The rule that fired.")
    evidence: GoneQuietEvidence = Field(description="The published numbers behind it.")


class SpreadingSign(WarningSignFields):
    """A ``spreading`` flag."""

    rule: Literal["spreading"] = Field(description="The rule that fired.")
    evidence: SpreadingEvidence = Field(description="The published numbers behind it.")


WarningSign = Annotated[
    LowScoreSign
    | FallingSign
    | SustainedDeclineSign
    | PolarisedSign
    | HierarchyGapSign
    | PartnerDivideSign
    | BelowPlaceSign
    | LowParticipationSign
    | InsufficientResponsesSign
    | GoneQuietSign
    | SpreadingSign,
    Field(discriminator="rule"),
]


class WarningSignPage(Page[WarningSign]):
    """One page of warning signs, with the link to the next."""


class RulesPreviewRead(BaseModel):
    """The warning signs a rules body would raise for a closed pulse, nothing saved."""

    pulse: Code | None = Field(description="The pulse previewed; null when none is closed.")
    based_on_version: int = Field(
        ge=1, le=2**31, description="The rulebook version in force, which the body would replace."
    )
    data: list[WarningSign] = Field(
        max_length=1_000_000,
        description="The flags, in the order GET /v1/warning-signs keeps them; each "
        "`rules_version` is the version these rules would have if saved now.",
    )
