"""Warning signs (DESIGN sections 4, 5): the rules that read published cells and flag.

    rulebook     which rules run, and their thresholds; reads and checks a rules body
    rules        one small function per rule: the severity at which it fires, or None
    findings     what the dimension rules share: subject, finding, comparison
    comparisons  the rules about one dimension: levels, then one Holm family of tests
    trends       comparisons over time: falling, sustained_decline
    gaps         comparisons between groups: hierarchy_gap, partner_divide, below_place
    engine       warning_signs(snapshot, rulebook) -> flags, place by place; or in two
                 steps, assessment (the comparisons, whatever the thresholds) then grade

The rules read only published cells (``app.analysis.published``): decided from a
snapshot's scores, or a closed pulse's kept ledger cells. The plain data they read and
the flags they return are ``app.analysis.snapshot``; the statistics ``app.analysis.stats``.

Everything else imports these names from this package, not from its modules; the rule
functions themselves are reached through the ``rules`` module
(``from app.analysis.signs import rules``).
"""

from app.analysis.signs.engine import Assessment, assess, assessment, grade, warning_signs
from app.analysis.signs.gaps import BREAKDOWNS_READ
from app.analysis.signs.rulebook import (
    RULES,
    BelowPlace,
    Falling,
    Gap,
    LowParticipation,
    LowScore,
    Polarised,
    Rulebook,
    RulebookError,
    RuleProblem,
    Spreading,
    SustainedDecline,
    Switch,
)
from app.analysis.signs.rules import Severity

__all__ = [
    "BREAKDOWNS_READ",
    "RULES",
    "Assessment",
    "BelowPlace",
    "Falling",
    "Gap",
    "LowParticipation",
    "LowScore",
    "Polarised",
    "RuleProblem",
    "Rulebook",
    "RulebookError",
    "Severity",
    "Spreading",
    "SustainedDecline",
    "Switch",
    "assess",
    "assessment",
    "grade",
    "warning_signs",
]
