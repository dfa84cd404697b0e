from app.analysis.signs import Rulebook
from app.analysis.snapshot import Team
from tests.unit.worlds import World, flags_of, people, person


def test_falling_support_is_flagged_red_against_the_pooled_previous_pulses() -> None:
    before = people(4, 4, 4, 4, 4, 4, 4, 4, 4, 3)
    world = World(
        {"2026-05": before, "2026-06": before, "2026-07": before, "2026-08": people(*[3] * 8, 2, 2)}
    )

    [flag] = flags_of(world, rule="falling", scope="team")

    assert flag.severity == "red"
    assert flag.message == (
        "Support fell by 1.10, from 3.90 (2026-05 to 2026-07, n=30) to 2.80 "
        "(n=10, p<0.001 after adjusting for 10 comparisons)"
    )
    assert flag.evidence["baseline_pulses"] == ["2026-05", "2026-06", "2026-07"]
    assert (flag.evidence["baseline_n"], flag.evidence["fall"]) == (30, 1.1)
    # Both sides as published: baseline 27 fours and 3 threes, now 8 threes and 2 twos.
    assert (flag.evidence["baseline_mean"], flag.evidence["baseline_sd"]) == (3.9, 0.31)
    assert (flag.evidence["mean"], flag.evidence["sd"]) == (2.8, 0.42)
    # Five falling comparisons and five sustained_decline ones (the four pulses are all
    # published, though support did not fall in each): one family of ten.
    assert flag.evidence["comparisons"] == 10


def test_falling_pools_at_most_three_pulses() -> None:
    before = people(4, 4, 4, 4, 4, 4, 4, 4, 4, 3)
    world = World({key: before for key in ["2026-03", "2026-04", "2026-05", "2026-06"]})
    world.pulses["2026-07"] = people(*[3] * 8, 2, 2)

    [flag] = flags_of(world, rule="falling", scope="team")

    assert flag.evidence["baseline_pulses"] == ["2026-04", "2026-05", "2026-06"]


def test_falling_leaves_out_a_pulse_that_was_not_published() -> None:
    before = people(4, 4, 4, 4, 4, 4, 4, 4, 4, 3)
    world = World({"2026-05": before, "2026-06": people(1, 1, 1), "2026-07": before})
    world.pulses["2026-08"] = people(*[3] * 8, 2, 2)

    [flag] = flags_of(world, rule="falling", scope="team")

    assert flag.evidence["baseline_pulses"] == ["2026-05", "2026-07"]
    assert flag.message.startswith("Support fell by 1.10, from 3.90 (2026-05 to 2026-07, n=20)")


def test_a_fall_that_is_not_credible_is_not_flagged() -> None:
    world = World({"2026-07": people(5, 3, 5, 2, 4, 5), "2026-08": people(4, 2, 5, 1, 3, 5)})

    assert flags_of(world, rule="falling") == []


def test_a_fall_significant_alone_is_not_flagged_after_adjusting_for_five_dimensions() -> None:
    world = World(
        {"2026-07": people(5, 4, 4, 4, 5, 4, 3, 4), "2026-08": people(4, 3, 3, 4, 3, 4, 2, 4)}
    )

    [flag] = flags_of(world, Rulebook(alpha=0.25), rule="falling", scope="team")

    assert flag.evidence["comparisons"] == 5
    assert flag.evidence["p"] < 0.05 < flag.evidence["p_adjusted"]
    assert flags_of(world, rule="falling") == []


def test_a_sustained_decline_over_four_pulses_is_flagged_amber() -> None:
    world = World(
        {
            "2026-05": people(*[4] * 10),
            "2026-06": people(*[4] * 8, 3, 3),
            "2026-07": people(*[4] * 6, *[3] * 4),
            "2026-08": people(*[4] * 4, *[3] * 6),
        }
    )

    [flag] = flags_of(world, rule="sustained_decline", scope="team")

    assert flag.severity == "amber"
    assert flag.evidence["means"] == [4.0, 3.8, 3.6, 3.4]
    assert flag.evidence["n"] == [10, 10, 10, 10]
    assert flag.evidence["sds"] == [0.0, 0.42, 0.52, 0.52]
    assert flag.message.startswith(
        "Support fell in four pulses in a row, by 0.60 in all: 4.00 (2026-05, n=10), "
        "3.80 (2026-06, n=10), 3.60 (2026-07, n=10), 3.40 (2026-08, n=10) (p="
    )
    assert flags_of(world, rule="falling") == []  # 0.4 below its baseline: not enough


def test_a_decline_interrupted_by_a_rise_is_not_sustained() -> None:
    world = World(
        {
            "2026-05": people(*[4] * 10),
            "2026-06": people(*[4] * 6, *[3] * 4),
            "2026-07": people(*[4] * 8, 3, 3),
            "2026-08": people(*[4] * 4, *[3] * 6),
        }
    )

    assert flags_of(world, rule="sustained_decline") == []


def test_leaders_and_frontline_on_different_pages_is_a_red_hierarchy_gap() -> None:
    leaders = people(5, 4, 5, 4, 5, 4, role="leaders", dimension="purpose")
    frontline = people(3, 3, 3, 3, 3, 3, role="frontline", dimension="purpose")
    world = World({"2026-08": leaders + frontline})

    [flag] = flags_of(world, rule="hierarchy_gap", scope="team")

    assert (flag.severity, flag.dimension) == ("red", "purpose")
    assert flag.message == (
        "On purpose, leaders averaged 4.50 (n=6) and frontline staff 3.00 (n=6), 1.50 apart "
        "(p=0.006 after adjusting for 5 comparisons)"
    )
    assert flag.evidence["groups"] == ["leaders", "frontline"]
    # Leaders or frontline may be the lower: two-sided. t = 1.5 / sqrt(0.3 / 6), 5 df.
    assert (flag.evidence["alternative"], flag.evidence["statistic"]) == ("two-sided", 6.708)
    assert (flag.evidence["df"], flag.evidence["p"], flag.evidence["p_adjusted"]) == (
        5.0,
        0.00111,
        0.00557,
    )


def test_no_hierarchy_gap_is_computed_from_a_group_too_small_to_publish() -> None:
    leaders = people(1, 1, 1, 1, role="leaders")
    frontline = people(5, 5, 4, 5, 5, 5, 4, role="frontline")
    world = World({"2026-08": leaders + frontline})

    assert flags_of(world, rule="hierarchy_gap") == []


def test_staff_of_two_organisation_kinds_pulling_apart_is_a_partner_divide() -> None:
    trust = people(4, 4, 5, 4, 4, kind="nhs_trust", dimension="partner_relationships")
    council = people(3, 3, 4, 3, 3, kind="local_authority", dimension="partner_relationships")
    world = World({"2026-08": trust + council})

    [flag] = flags_of(world, rule="partner_divide")

    assert (flag.scope, flag.team, flag.severity) == ("place", None, "amber")
    assert flag.evidence["groups"] == ["local_authority", "nhs_trust"]
    assert "staff of local authorities averaged 3.20 (n=5)" in flag.message


def test_a_team_well_below_the_rest_of_its_place_is_flagged() -> None:
    teams = (Team("t1", "p1"), Team("t2", "p1"), Team("t3", "p1"))
    low = people(2, 3, 2, 3, 2, 3)
    rest = [person(4.0, team=t, support=s) for t in ("t2", "t3") for s in (4, 4, 5, 4, 4, 3)]
    world = World({"2026-08": low + rest}, teams=teams)

    [flag] = flags_of(world, rule="below_place")

    assert (flag.team, flag.severity, flag.evidence["rest_n"]) == ("t1", "amber", 12)
    assert flag.evidence["shortfall"] == 1.5
