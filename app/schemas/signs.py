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

    n: Count
    mean: Mean
    sd: Sd | None = None
    amber_below: float | None = None
    red_below: float | None = None


class PolarisedEvidence(Evidence):
    """Evidence of ``polarised``."""

    n: Count
    mean: Mean | None = None
    sd: Sd
    amber_sd: float | None = None
    red_sd: float | None = None


class FallingEvidence(AdoptionEvidence, Test):
    """Evidence of ``falling``: now against the pooled baseline."""

    n: Count
    mean: Mean
    sd: Sd | None = None
    baseline_pulses: Pulses = Field(max_length=3)
    baseline_n: Count
    baseline_mean: Mean
    baseline_sd: Sd | None = None
    fall: Difference
    amber_fall: float | None = None
    red_fall: float | None = None


class SustainedDeclineEvidence(AdoptionEvidence, Test):
    """Evidence of ``sustained_decline``: four pulses, oldest first."""

    pulses: Pulses = Field(max_length=4)
    n: list[Count] = Field(max_length=4, description="Each pulse's n.")
    means: list[Mean] = Field(max_length=4)
    sds: list[Sd | None] = Field(default_factory=list, max_length=4)
    fall: Difference | None = None
    amber_fall: float | None = None
    red_fall: float | None = None


class GapEvidence(Evidence, Test):
    """Evidence of ``hierarchy_gap`` and ``partner_divide``: two groups of one subject."""

    groups: list[Annotated[str, Field(max_length=32)]] = Field(
        max_length=2, description="The segments compared; `everyone_else` is the rest."
    )
    n: list[Count] = Field(max_length=2)
    means: list[Mean] = Field(max_length=2)
    sds: list[Sd | None] = Field(default_factory=list, max_length=2)
    gap: Difference
    amber_gap: float | None = None
    red_gap: float | None = None


class BelowPlaceEvidence(AdoptionEvidence, Test):
    """Evidence of ``below_place``: the team against the rest of its place."""

    n: Count
    mean: Mean
    sd: Sd | None = None
    rest_n: Count
    rest_mean: Mean
    rest_sd: Sd | None = None
    shortfall: Difference
    amber_gap: float | None = None
    red_gap: float | None = None


class LowParticipationEvidence(Evidence):
    """Evidence of ``low_participation``."""

    responses: Count
    headcount: Count
    ratio: float | None = Field(default=None, ge=0)
    amber_ratio: float | None = None
    red_ratio: float | None = None


class InsufficientResponsesEvidence(Evidence):
    """Evidence of ``insufficient_responses``."""

    responses: Count
    min_group_size: int = Field(ge=1, le=1000)


class GoneQuietEvidence(Evidence):
    """Evidence of ``gone_quiet``."""

    responses: Count
    previous_pulse: Code


class SpreadingEvidence(Evidence):
    """Evidence of ``spreading``."""

    flagged_teams: Count
    reportable_teams: Count
    share: float = Field(ge=0, le=1)
    teams: list[Annotated[str, Field(max_length=64)]] = Field(
        default_factory=list, max_length=10_000, description="The teams counted."
    )
    amber_share: float | None = None
    red_share: float | None = None


class LowScoreSign(WarningSignFields):
    """A ``low_score`` flag."""

    rule: Literal["low_score"]
    evidence: LowScoreEvidence


class FallingSign(WarningSignFields):
    """A ``falling`` flag."""

    rule: Literal["falling"]
    evidence: FallingEvidence


class SustainedDeclineSign(WarningSignFields):
    """A ``sustained_decline`` flag."""

    rule: Literal["sustained_decline"]
    evidence: SustainedDeclineEvidence


class PolarisedSign(WarningSignFields):
    """A ``polarised`` flag."""

    rule: Literal["polarised"]
    evidence: PolarisedEvidence


class HierarchyGapSign(WarningSignFields):
    """A ``hierarchy_gap`` flag."""

    rule: Literal["hierarchy_gap"]
    evidence: GapEvidence


class PartnerDivideSign(WarningSignFields):
    """A ``partner_divide`` flag."""

    rule: Literal["partner_divide"]
    evidence: GapEvidence


class BelowPlaceSign(WarningSignFields):
    """A ``below_place`` flag."""

    rule: Literal["below_place"]
    evidence: BelowPlaceEvidence


class LowParticipationSign(WarningSignFields):
    """A ``low_participation`` flag."""

    rule: Literal["low_participation"]
    evidence: LowParticipationEvidence


class InsufficientResponsesSign(WarningSignFields):
    """An ``insufficient_responses`` flag."""

    rule: Literal["insufficient_responses"]
    evidence: InsufficientResponsesEvidence


class GoneQuietSign(WarningSignFields):
    """A ``gone_quiet`` flag."""

    rule: Literal["gone_quiet"]
    evidence: GoneQuietEvidence


class SpreadingSign(WarningSignFields):
    """A ``spreading`` flag."""

    rule: Literal["spreading"]
    evidence: SpreadingEvidence


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
