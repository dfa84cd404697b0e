"""How warning signs are decided: one-sided falls, the family, related flags, adoption."""

from datetime import date

import pytest
from scipy import stats

from app.analysis.snapshot import Team
from tests.unit.worlds import World, flags_of, people, person

BEFORE = [5, 5, 5, 4, 4, 4, 4, 4, 4, 3]
AFTER = [4, 4, 4, 4, 4, 3, 3, 3, 2, 2]  # 0.9 lower; credible one-sided, not two-sided


def test_a_fall_is_tested_one_sided_and_caught_where_a_two_sided_test_would_miss_it() -> None:
    world = World({"2026-07": people(*BEFORE), "2026-08": people(*AFTER)})
    one = stats.ttest_ind(BEFORE, AFTER, equal_var=False, alternative="greater")
    two = stats.ttest_ind(BEFORE, AFTER, equal_var=False)
    assert 5 * one.pvalue < 0.05 < 5 * two.pvalue  # the family: five dimensions

    [flag] = flags_of(world, rule="falling", scope="team")

    assert flag.evidence["alternative"] == "one-sided"
    assert flag.evidence["test"] == "welch_t" and flag.evidence["method"] == "holm"
    assert flag.evidence["p"] == pytest.approx(one.pvalue, rel=5e-3)
    assert flag.evidence["p_adjusted"] == pytest.approx(5 * one.pvalue, rel=5e-3)
    assert flag.evidence["statistic"] == pytest.approx(one.statistic, abs=1e-3)
    assert flag.evidence["df"] == pytest.approx(one.df, abs=0.05)
    assert flag.message.endswith(
        f"(n=10, p={5 * one.pvalue:.3f} after adjusting for 5 comparisons)"
    )


def test_a_rise_as_large_is_no_evidence_of_a_fall() -> None:
    world = World({"2026-07": people(*AFTER), "2026-08": people(*BEFORE)})

    assert flags_of(world, rule="falling") == []


def test_a_team_below_the_rest_of_its_place_is_tested_one_sided() -> None:
    teams = (Team("t1", "p1"), Team("t2", "p1"))
    low = [person(4.0, support=s) for s in AFTER]
    rest = [person(4.0, team="t2", support=s) for s in BEFORE]
    world = World({"2026-08": low + rest}, teams=teams)

    [below] = flags_of(world, rule="below_place")
    one = stats.ttest_ind(BEFORE, AFTER, equal_var=False, alternative="greater")

    assert below.evidence["alternative"] == "one-sided"
    assert below.evidence["p"] == pytest.approx(one.pvalue, rel=5e-3)
    assert below.evidence["p_adjusted"] == pytest.approx(5 * one.pvalue, rel=5e-3)
    assert (below.evidence["rest_n"], below.evidence["rest_mean"]) == (10, 4.2)
    assert (below.evidence["n"], below.evidence["mean"], below.evidence["sd"]) == (10, 3.3, 0.82)


def test_a_young_teams_new_ways_of_working_is_info_on_all_four_rules() -> None:
    young = (Team("t1", "p1", formed_on=date(2026, 1, 1)), Team("t2", "p1"))
    steady = [person(4.0, team="t2", new_ways_of_working=s) for s in [4, 4, 5, 4, 4, 4, 5, 4]]
    run = {
        "2026-05": [person(4.0, new_ways_of_working=4) for _ in range(10)],
        "2026-06": [person(4.0, new_ways_of_working=s) for s in [4] * 8 + [3, 3]],
        "2026-07": [person(4.0, new_ways_of_working=s) for s in [4] * 6 + [3] * 4],
        "2026-08": [person(4.0, new_ways_of_working=s) for s in [2] * 6 + [1] * 4],
    }
    world = World({key: [*answers, *steady] for key, answers in run.items()}, teams=young)

    flags = flags_of(world, team="t1", dimension="new_ways_of_working")

    assert {f.rule for f in flags} == {"low_score", "falling", "sustained_decline", "below_place"}
    for flag in flags:
        assert flag.severity == "info", flag.rule
        assert flag.message.endswith(
            "; the team formed on 2026-01-01, and new ways of working take 6 to 12 months to adopt"
        )
        assert (flag.evidence["adoption_window"], flag.evidence["formed_on"]) == (
            True,
            "2026-01-01",
        )


def test_the_same_rules_on_an_established_team_keep_their_severity() -> None:
    established = (Team("t1", "p1", formed_on=date(2024, 1, 1)), Team("t2", "p1"))
    steady = [person(4.0, team="t2", new_ways_of_working=s) for s in [4, 4, 5, 4, 4, 4, 5, 4]]
    run = {
        "2026-05": [person(4.0, new_ways_of_working=4) for _ in range(10)],
        "2026-06": [person(4.0, new_ways_of_working=s) for s in [4] * 8 + [3, 3]],
        "2026-07": [person(4.0, new_ways_of_working=s) for s in [4] * 6 + [3] * 4],
        "2026-08": [person(4.0, new_ways_of_working=s) for s in [2] * 6 + [1] * 4],
    }
    world = World({key: [*answers, *steady] for key, answers in run.items()}, teams=established)

    flags = flags_of(world, team="t1", dimension="new_ways_of_working")

    assert {(f.rule, f.severity) for f in flags} == {
        ("low_score", "red"),
        ("falling", "red"),
        ("sustained_decline", "amber"),
        ("below_place", "amber"),
    }


def test_flags_on_one_team_pulse_and_dimension_name_each_other() -> None:
    teams = (Team("t1", "p1"), Team("t2", "p1"))
    steady = [person(4.0, team="t2", support=s) for s in [4, 4, 5, 4, 4, 4, 5, 4]]
    before = [person(4.0, support=s) for s in [4, 4, 4, 4, 4, 4, 4, 4, 4, 3]]
    after = [person(4.0, support=s, belief=1) for s in [2] * 8 + [1, 1]]
    world = World({"2026-07": before + steady, "2026-08": after + steady}, teams=teams)

    support = flags_of(world, team="t1", dimension="support")
    belief = flags_of(world, team="t1", dimension="belief")

    assert {f.rule for f in support} == {"low_score", "falling", "below_place"}
    for flag in support:
        assert flag.evidence["related"] == sorted(f.id for f in support if f is not flag)
    assert belief and all(
        set(f.evidence["related"]).isdisjoint({g.id for g in support}) for f in belief
    )


def test_with_frontline_withheld_leaders_are_compared_with_everyone_else() -> None:
    # Three frontline staff (fewer than k) and three who gave no role: frontline is
    # withheld, but leaders and the team are published, so everyone else is their difference.
    leaders = people(5, 5, 4, 5, 5, 4, role="leaders")
    frontline = people(2, 3, 2, role="frontline")
    unnamed = people(3, 2, 3)
    world = World({"2026-08": leaders + frontline + unnamed})

    [flag] = flags_of(world, rule="hierarchy_gap", scope="team")

    assert flag.evidence["groups"] == ["leaders", "everyone_else"]
    assert (flag.evidence["n"], flag.evidence["means"]) == ([6, 6], [4.67, 2.5])
    assert "leaders averaged 4.67 (n=6) and everyone else 2.50 (n=6)" in flag.message
