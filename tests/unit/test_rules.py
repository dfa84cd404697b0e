from datetime import date

import pytest

from app.analysis.signs import Severity, rules


@pytest.mark.parametrize(
    ("mean", "severity"),
    [
        (3.01, None),
        (3.0, None),  # "< 3.0" is strict
        (2.9999999999999996, None),  # 3.0 after float sums is still 3.0
        (2.99, "amber"),
        (2.5, "amber"),
        (2.49, "red"),
        (1.0, "red"),
    ],
)
def test_low_score_is_amber_below_3_and_red_below_2_5(
    mean: float, severity: Severity | None
) -> None:
    assert rules.low_score(mean, amber_below=3.0, red_below=2.5) == severity


def test_low_score_without_a_red_level_stays_amber() -> None:
    assert rules.low_score(1.5, amber_below=3.0, red_below=None) == "amber"


@pytest.mark.parametrize(
    ("fall", "p_adjusted", "severity"),
    [
        (0.49, 0.001, None),
        (0.5, 0.001, "amber"),  # ">= 0.5" is inclusive
        (0.4999999999999998, 0.001, "amber"),
        (0.99, 0.001, "amber"),
        (1.0, 0.001, "red"),
        (1.6, 0.001, "red"),
        (1.6, 0.049, "red"),
        (1.6, 0.05, None),  # not credible
        (-0.8, 0.001, None),  # a rise
    ],
)
def test_falling_is_amber_from_0_5_and_red_from_1_0_when_credible(
    fall: float, p_adjusted: float, severity: Severity | None
) -> None:
    assert rules.falling(fall, p_adjusted, amber_fall=0.5, red_fall=1.0, alpha=0.05) == severity


@pytest.mark.parametrize(
    ("means", "p_adjusted", "severity"),
    [
        ([3.8, 3.7, 3.6, 3.5], 0.01, "amber"),
        ([3.8, 3.7, 3.6, 3.51], 0.01, None),  # down 0.29 in all
        ([3.8, 3.8, 3.6, 3.2], 0.01, None),  # one pulse did not fall
        ([3.8, 3.6, 3.7, 3.2], 0.01, None),
        ([3.8, 3.7, 3.6, 3.5], 0.06, None),  # not credible
        ([4.2, 3.7, 3.2, 2.7], 0.01, "amber"),  # no red level by default
    ],
)
def test_sustained_decline_needs_every_pulse_lower_and_0_3_in_all_credibly(
    means: list[float], p_adjusted: float, severity: Severity | None
) -> None:
    result = rules.sustained_decline(means, p_adjusted, amber_fall=0.3, red_fall=None, alpha=0.05)

    assert result == severity


def test_sustained_decline_can_be_given_a_red_level() -> None:
    means = [4.2, 3.7, 3.2, 2.7]

    assert rules.sustained_decline(means, 0.01, amber_fall=0.3, red_fall=1.5, alpha=0.05) == "red"


@pytest.mark.parametrize(
    ("sd", "severity"), [(1.24, None), (1.25, "amber"), (1.6, "amber"), (0.0, None)]
)
def test_polarised_is_amber_from_an_sd_of_1_25(sd: float, severity: Severity | None) -> None:
    assert rules.polarised(sd, amber_sd=1.25, red_sd=None) == severity


@pytest.mark.parametrize("rule", [rules.hierarchy_gap, rules.partner_divide])
@pytest.mark.parametrize(
    ("gap", "p_adjusted", "severity"),
    [
        (0.74, 0.001, None),
        (0.75, 0.001, "amber"),
        (-0.75, 0.001, "amber"),  # either group may be the lower one
        (1.24, 0.001, "amber"),
        (1.25, 0.001, "red"),
        (-1.3, 0.001, "red"),
        (1.3, 0.2, None),
    ],
)
def test_gaps_between_groups_are_amber_from_0_75_and_red_from_1_25_when_credible(
    rule: rules.GapRule, gap: float, p_adjusted: float, severity: Severity | None
) -> None:
    assert rule(gap, p_adjusted, amber_gap=0.75, red_gap=1.25, alpha=0.05) == severity


@pytest.mark.parametrize(
    ("shortfall", "p_adjusted", "severity"),
    [(0.74, 0.001, None), (0.75, 0.001, "amber"), (1.5, 0.001, "amber"), (1.5, 0.051, None)],
)
def test_below_place_is_amber_from_0_75_below_the_rest_of_the_place_when_credible(
    shortfall: float, p_adjusted: float, severity: Severity | None
) -> None:
    result = rules.below_place(shortfall, p_adjusted, amber_gap=0.75, red_gap=None, alpha=0.05)

    assert result == severity


@pytest.mark.parametrize(
    ("responses", "headcount", "severity"),
    [(7, 20, "amber"), (8, 20, None), (0, 20, "amber"), (3, None, None), (3, 0, None)],
)
def test_low_participation_is_amber_below_40_percent_of_a_known_headcount(
    responses: int, headcount: int | None, severity: Severity | None
) -> None:
    assert rules.low_participation(responses, headcount, amber_ratio=0.4, red_ratio=None) == (
        severity
    )


@pytest.mark.parametrize(
    ("responses", "severity"), [(0, None), (1, "info"), (4, "info"), (5, None), (12, None)]
)
def test_insufficient_responses_is_info_between_one_and_k_minus_one(
    responses: int, severity: Severity | None
) -> None:
    assert rules.insufficient_responses(responses, 5) == severity


@pytest.mark.parametrize(
    ("was_reportable", "responses", "severity"),
    [(True, 0, "amber"), (True, 1, None), (False, 0, None)],
)
def test_gone_quiet_is_amber_for_a_reportable_team_with_no_responses(
    was_reportable: bool, responses: int, severity: Severity | None
) -> None:
    assert rules.gone_quiet(was_reportable, responses) == severity


@pytest.mark.parametrize(
    ("flagged", "reportable", "severity"),
    [
        (2, 10, None),
        (3, 10, "amber"),
        (1, 3, "amber"),
        (4, 10, "amber"),
        (5, 10, "red"),
        (0, 0, None),
    ],
)
def test_spreading_is_amber_from_30_percent_and_red_from_50_percent(
    flagged: int, reportable: int, severity: Severity | None
) -> None:
    assert rules.spreading(flagged, reportable, amber_share=0.3, red_share=0.5) == severity


@pytest.mark.parametrize(
    ("formed_on", "closes_on", "months", "inside"),
    [
        (date(2025, 11, 30), date(2026, 11, 29), 12, True),
        (date(2025, 11, 30), date(2026, 11, 30), 12, False),  # twelve months exactly
        (date(2026, 1, 31), date(2026, 2, 27), 1, True),
        (date(2026, 1, 31), date(2026, 2, 28), 1, False),  # a month on from the 31st
        (None, date(2026, 11, 30), 12, False),
    ],
)
def test_the_adoption_window_is_the_months_after_a_team_formed(
    formed_on: date | None, closes_on: date, months: int, inside: bool
) -> None:
    assert rules.in_adoption_window(formed_on, closes_on, months) is inside
