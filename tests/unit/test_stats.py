import math
import statistics

import pytest
from scipy import stats as scipy_stats

from app.analysis.stats import Moments, adjust, benjamini_hochberg, holm, welch


@pytest.mark.parametrize(
    "scores",
    [
        [4.0, 3.0, 5.0, 2.0, 4.0],
        [1.0, 5.0],
        [3.25, 3.5, 4.75, 2.0, 1.5, 4.0, 3.0],
    ],
)
def test_moments_give_the_sample_mean_and_sd(scores: list[float]) -> None:
    moments = Moments.of(scores)

    assert moments.n == len(scores)
    assert moments.mean == pytest.approx(statistics.mean(scores))
    assert moments.sd == pytest.approx(statistics.stdev(scores))


def test_moments_of_identical_scores_have_zero_sd_not_a_negative_variance() -> None:
    assert Moments.of([3.07] * 11).sd == 0.0


@pytest.mark.parametrize("scores", [[], [4.0]])
def test_moments_below_two_scores_have_no_sd_or_interval(scores: list[float]) -> None:
    moments = Moments.of(scores)

    assert moments.sd is None
    assert moments.ci95() is None


def test_empty_moments_have_no_mean() -> None:
    assert Moments().mean is None


def test_moments_add_and_subtract_like_the_groups_they_summarise() -> None:
    a, b = Moments.of([1.0, 2.0, 3.0]), Moments.of([4.0, 5.0])

    assert a + b == Moments.of([1.0, 2.0, 3.0, 4.0, 5.0])
    assert (a + b) - b == a


def test_the_95_percent_interval_is_the_t_interval() -> None:
    scores = [4.0, 3.0, 5.0, 2.0, 4.0, 3.0]
    low, high = scipy_stats.t.interval(
        0.95, len(scores) - 1, loc=statistics.mean(scores), scale=scipy_stats.sem(scores)
    )

    assert Moments.of(scores).ci95() == pytest.approx((low, high))


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ([4.0, 4.0, 5.0, 3.0, 4.0, 5.0], [2.0, 3.0, 3.0, 2.0, 1.0]),
        ([3.0, 3.5, 4.0], [3.0, 2.0, 4.0, 5.0, 1.0, 3.0, 2.0]),
    ],
)
def test_welch_matches_scipy(a: list[float], b: list[float]) -> None:
    expected = scipy_stats.ttest_ind(a, b, equal_var=False)

    result = welch(Moments.of(a), Moments.of(b))

    assert result.t == pytest.approx(expected.statistic)
    assert result.p == pytest.approx(expected.pvalue)
    assert result.df == pytest.approx(expected.df)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ([4.0, 4.0, 5.0, 3.0, 4.0, 5.0], [2.0, 3.0, 3.0, 2.0, 1.0]),
        ([2.0, 3.0, 3.0, 2.0, 1.0], [4.0, 4.0, 5.0, 3.0, 4.0, 5.0]),  # the other way round
    ],
)
def test_one_sided_welch_matches_scipy_greater(a: list[float], b: list[float]) -> None:
    expected = scipy_stats.ttest_ind(a, b, equal_var=False, alternative="greater")

    result = welch(Moments.of(a), Moments.of(b), "greater")

    assert (result.t, result.df) == pytest.approx((expected.statistic, expected.df))
    assert result.p == pytest.approx(expected.pvalue)
    assert result.alternative == "greater"


def test_one_sided_welch_of_different_constant_groups_is_certain_only_in_its_direction() -> None:
    high, low = Moments.of([4.0, 4.0]), Moments.of([2.0, 2.0])

    assert welch(high, low, "greater").p == 0.0
    assert welch(low, high, "greater").p == 1.0


def test_welch_of_identical_constant_groups_is_no_evidence() -> None:
    result = welch(Moments.of([3.0] * 5), Moments.of([3.0] * 6))

    assert (result.t, result.p) == (0.0, 1.0)


def test_welch_of_different_constant_groups_is_certain_without_nan() -> None:
    result = welch(Moments.of([4.0] * 5), Moments.of([2.0] * 6))

    assert result.p == 0.0
    assert result.t == math.inf


def test_welch_with_one_constant_group_uses_the_other_groups_spread() -> None:
    result = welch(Moments.of([4.0] * 5), Moments.of([2.0, 3.0, 2.0, 1.0]))

    assert 0.0 < result.p < 0.05
    assert result.df == pytest.approx(3.0)


def test_welch_below_two_scores_in_a_group_is_no_evidence() -> None:
    assert welch(Moments.of([5.0]), Moments.of([1.0, 2.0, 1.0])).p == 1.0


@pytest.mark.parametrize(
    ("pvalues", "adjusted"),
    [
        ([0.01, 0.04, 0.03, 0.005], [0.03, 0.06, 0.06, 0.02]),
        ([0.5, 0.2], [0.5, 0.4]),
        ([0.3], [0.3]),
        ([], []),
    ],
)
def test_holm_adjusts_step_down_in_the_order_given(
    pvalues: list[float], adjusted: list[float]
) -> None:
    assert holm(pvalues) == pytest.approx(adjusted)


def test_holm_never_exceeds_one() -> None:
    assert holm([0.4, 0.6, 0.9]) == [1.0, 1.0, 1.0]


def test_benjamini_hochberg_adjusts_step_up() -> None:
    assert benjamini_hochberg([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.02, 0.04, 0.04, 0.02])


def test_a_family_is_adjusted_as_if_it_had_at_least_the_floor_of_comparisons() -> None:
    assert adjust([0.004, 0.3], at_least=5) == pytest.approx([0.02, 1.0])
    assert adjust([0.004, 0.3], at_least=1) == pytest.approx([0.008, 0.3])
