"""The warning-sign rules of DESIGN section 4, one small function each.

Each returns the severity at which its rule fires, or None. Thresholds are arguments
(defaults live in the rulebook); "credibly" means the Holm-adjusted p-value of the
comparison is below ``alpha``.
"""

import calendar
from collections.abc import Callable, Sequence
from datetime import date
from itertools import pairwise
from typing import Literal

Severity = Literal["info", "amber", "red"]
GapRule = Callable[..., Severity | None]  # hierarchy_gap and partner_divide

# Means come from sums of floats: 3.0 may arrive as 2.9999999999999996. Values within
# this distance of a threshold count as equal to it, so the boundaries of the rulebook
# ("< 3.0" strict, ">= 0.5" inclusive) hold exactly for the scores people gave.
TOLERANCE = 1e-9


def below(value: float, threshold: float) -> bool:
    """``value < threshold``, treating values within rounding error as equal."""
    return value < threshold - TOLERANCE


def at_least(value: float, threshold: float) -> bool:
    """``value >= threshold``, treating values within rounding error as equal."""
    return value >= threshold - TOLERANCE


def credible(p_adjusted: float, alpha: float) -> bool:
    """Whether an adjusted p-value is significant at level alpha."""
    return p_adjusted < alpha


def _grade(amber: bool, red: bool) -> Severity | None:
    return "red" if red else "amber" if amber else None


def low_score(mean: float, *, amber_below: float, red_below: float | None) -> Severity | None:
    """A dimension mean below amber_below (3.0) is amber; below red_below (2.5) red."""
    return _grade(below(mean, amber_below), red_below is not None and below(mean, red_below))


def falling(
    fall: float, p_adjusted: float, *, amber_fall: float, red_fall: float | None, alpha: float
) -> Severity | None:
    """A mean amber_fall (0.5) below its baseline or more, credibly, is amber; red_fall (1) red."""
    if not credible(p_adjusted, alpha):
        return None
    return _grade(at_least(fall, amber_fall), red_fall is not None and at_least(fall, red_fall))


def sustained_decline(
    means: Sequence[float],
    p_adjusted: float,
    *,
    amber_fall: float,
    red_fall: float | None,
    alpha: float,
) -> Severity | None:
    """Means each lower than the one before, amber_fall (0.3) down in all, credibly, is amber."""
    if len(means) < 2 or not all(below(later, earlier) for earlier, later in pairwise(means)):
        return None
    if not credible(p_adjusted, alpha):
        return None
    fall = means[0] - means[-1]
    return _grade(at_least(fall, amber_fall), red_fall is not None and at_least(fall, red_fall))


def polarised(sd: float, *, amber_sd: float, red_sd: float | None) -> Severity | None:
    """A standard deviation of amber_sd (1.25) or more is amber: not on the same page."""
    return _grade(at_least(sd, amber_sd), red_sd is not None and at_least(sd, red_sd))


def hierarchy_gap(
    gap: float, p_adjusted: float, *, amber_gap: float, red_gap: float | None, alpha: float
) -> Severity | None:
    """Leaders and frontline amber_gap (0.75) apart or more, credibly, is amber; red_gap red."""
    return _credible_gap(abs(gap), p_adjusted, amber_gap, red_gap, alpha)


def partner_divide(
    gap: float, p_adjusted: float, *, amber_gap: float, red_gap: float | None, alpha: float
) -> Severity | None:
    """Two organisation kinds amber_gap (0.75) apart or more, credibly, is amber; red_gap red."""
    return _credible_gap(abs(gap), p_adjusted, amber_gap, red_gap, alpha)


def below_place(
    shortfall: float,
    p_adjusted: float,
    *,
    amber_gap: float,
    red_gap: float | None,
    alpha: float,
) -> Severity | None:
    """A team mean amber_gap (0.75) or more below the rest of its place, credibly, is amber."""
    return _credible_gap(shortfall, p_adjusted, amber_gap, red_gap, alpha)


def _credible_gap(
    gap: float, p_adjusted: float, amber_gap: float, red_gap: float | None, alpha: float
) -> Severity | None:
    """Amber at amber_gap or more, red at red_gap or more, once the gap is credible."""
    if not credible(p_adjusted, alpha):
        return None
    return _grade(at_least(gap, amber_gap), red_gap is not None and at_least(gap, red_gap))


def low_participation(
    responses: int, headcount: int | None, *, amber_ratio: float, red_ratio: float | None
) -> Severity | None:
    """Responses below amber_ratio (0.4) of a known headcount is amber."""
    if headcount is None or headcount <= 0:
        return None
    ratio = responses / headcount
    return _grade(below(ratio, amber_ratio), red_ratio is not None and below(ratio, red_ratio))


def insufficient_responses(responses: int, k: int) -> Severity | None:
    """Between 1 and k-1 responses is info: nothing can be reported."""
    return "info" if 1 <= responses < k else None


def gone_quiet(was_reportable: bool, responses: int) -> Severity | None:
    """A team reportable in the previous pulse with no responses in this one is amber."""
    return "amber" if was_reportable and responses == 0 else None


def spreading(
    flagged: int, reportable: int, *, amber_share: float, red_share: float | None
) -> Severity | None:
    """amber_share (30%) of reportable teams with amber or red flags is amber; red_share red."""
    if reportable <= 0:
        return None
    share = flagged / reportable
    return _grade(
        at_least(share, amber_share), red_share is not None and at_least(share, red_share)
    )


def in_adoption_window(formed_on: date | None, closes_on: date, months: int) -> bool:
    """Whether a team was formed fewer than ``months`` months before the pulse closed."""
    if formed_on is None:
        return False
    return closes_on < _add_months(formed_on, months)


def _add_months(day: date, months: int) -> date:
    year, month = divmod(day.year * 12 + day.month - 1 + months, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))
