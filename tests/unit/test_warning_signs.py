import re
from dataclasses import replace
from datetime import date

import pytest

from app.analysis.signs import Falling, LowScore, Rulebook
from app.analysis.snapshot import Team, flag_id
from tests.unit.worlds import STEADY, World, flags_of, people, person


def test_a_low_team_score_is_flagged_red_with_its_published_figures() -> None:
    world = World({"2026-08": people(2.0, 2.0, 3.0, 2.0, 2.0, 1.0)})

    [flag] = flags_of(world, rule="low_score", scope="team")

    assert (flag.severity, flag.dimension, flag.team, flag.place) == ("red", "support", "t1", "p1")
    assert flag.message == "Support averaged 2.00 (n=6), below 2.5"
    assert flag.evidence == {
        "n": 6,
        "mean": 2.0,
        "sd": 0.63,  # sqrt(2 / 5)
        "amber_below": 3.0,
        "red_below": 2.5,
        "related": [],
    }


def test_a_mean_that_two_decimals_would_round_onto_the_threshold_shows_three() -> None:
    # 2.996 is below 3, but "2.996" rounded to two decimals reads "3.00, below 3".
    scores = [3.0] * 249 + [2.0]
    world = World({"2026-08": people(*scores)})

    [flag] = flags_of(world, rule="low_score", scope="team")

    assert flag.message == "Support averaged 2.996 (n=250), below 3"


def test_a_place_flag_names_no_team() -> None:
    world = World({"2026-08": people(2.0, 2.0, 3.0, 2.0, 2.0, 1.0)})

    [flag] = flags_of(world, rule="low_score", scope="place")

    assert (flag.place, flag.team) == ("p1", None)


def test_a_polarised_team_is_flagged_amber() -> None:
    world = World({"2026-08": people(1, 1, 1, 5, 5, 5)})

    [flag] = flags_of(world, rule="polarised")

    assert (flag.severity, flag.scope, flag.evidence["sd"]) == ("amber", "team", 2.19)


def test_low_participation_needs_a_known_headcount() -> None:
    teams = (Team("t1", "p1", headcount=20), Team("t2", "p1"))
    world = World({"2026-08": [*STEADY[:6], *[person(team="t2")] * 6]}, teams=teams)

    [flag] = flags_of(world, rule="low_participation")

    assert (flag.team, flag.severity, flag.dimension) == ("t1", "amber", None)
    assert flag.evidence == {
        "responses": 6,
        "headcount": 20,
        "ratio": 0.3,
        "amber_ratio": 0.4,
        "red_ratio": None,
        "related": [],
    }
    assert flag.message == "6 responses from a headcount of 20 (30%, below 40%)"


def test_too_few_responses_to_report_is_info_and_nothing_else() -> None:
    world = World({"2026-08": people(1, 1, 1)})

    flags = flags_of(world)

    assert [(f.rule, f.severity) for f in flags] == [("insufficient_responses", "info")]
    assert flags[0].message == "3 responses, fewer than 5: nothing can be reported"


def test_a_team_that_stops_responding_has_gone_quiet() -> None:
    teams = (Team("t1", "p1"), Team("t2", "p1"))
    others = [person(team="t2")] * 6
    world = World({"2026-07": [*STEADY, *others], "2026-08": others}, teams=teams)

    [flag] = flags_of(world, rule="gone_quiet")

    assert (flag.team, flag.severity) == ("t1", "amber")
    assert flag.message == "No responses in 2026-08, after a reportable 2026-07"


def test_gone_quiet_replaces_low_participation_for_a_team_with_no_responses() -> None:
    teams = (Team("t1", "p1", headcount=20), Team("t2", "p1", headcount=6))
    others = [person(team="t2")] * 6
    world = World({"2026-07": [*STEADY, *others], "2026-08": others}, teams=teams)

    flags = flags_of(world, team="t1")

    assert [f.rule for f in flags] == ["gone_quiet"]


def test_a_silent_team_that_was_never_reportable_keeps_its_low_participation() -> None:
    teams = (Team("t1", "p1", headcount=20), Team("t2", "p1"))
    others = [person(team="t2")] * 6
    world = World({"2026-07": others, "2026-08": others}, teams=teams)

    [flag] = flags_of(world, team="t1")

    assert (flag.rule, flag.evidence["responses"]) == ("low_participation", 0)


def test_warning_signs_in_half_the_teams_of_a_place_are_spreading_red() -> None:
    teams = (Team("t1", "p1"), Team("t2", "p1"))
    world = World({"2026-08": [*people(2, 2, 2, 2, 2), *[person(team="t2")] * 6]}, teams=teams)

    [flag] = flags_of(world, rule="spreading")

    assert (flag.scope, flag.severity, flag.dimension) == ("place", "red", None)
    assert flag.evidence == {
        "flagged_teams": 1,
        "reportable_teams": 2,
        "share": 0.5,
        "teams": ["t1"],
        "amber_share": 0.3,
        "red_share": 0.5,
        "related": [],
    }


@pytest.mark.parametrize(
    ("formed_on", "severity"), [(date(2026, 3, 1), "info"), (date(2025, 8, 28), "red")]
)
def test_a_low_new_ways_of_working_score_is_info_in_the_adoption_window(
    formed_on: date, severity: str
) -> None:
    world = World(
        {"2026-08": people(2, 2, 2, 2, 2, dimension="new_ways_of_working")},
        teams=(Team("t1", "p1", formed_on=formed_on),),
    )

    [flag] = flags_of(world, rule="low_score", scope="team")

    assert flag.severity == severity
    assert ("6 to 12 months to adopt" in flag.message) is (severity == "info")


def test_a_new_teams_falling_new_ways_of_working_is_info_but_other_dimensions_are_not() -> None:
    before = [person(4.0, support=s, new_ways_of_working=s) for s in [4, 4, 4, 4, 4, 4, 4, 4, 4, 3]]
    after = [person(4.0, support=s, new_ways_of_working=s) for s in [3] * 8 + [2, 2]]
    world = World(
        {"2026-07": before, "2026-08": after},
        teams=(Team("t1", "p1", formed_on=date(2026, 1, 1)),),
    )

    flags = flags_of(world, rule="falling", scope="team")

    assert {(f.dimension, f.severity) for f in flags} == {
        ("support", "red"),
        ("new_ways_of_working", "info"),
    }


def test_a_team_formed_after_the_pulse_is_not_evaluated() -> None:
    world = World({"2026-08": []}, teams=(Team("t1", "p1", 40, formed_on=date(2026, 9, 1)),))

    assert flags_of(world) == []


def test_a_disabled_rule_never_fires() -> None:
    world = World({"2026-08": people(2.0, 2.0, 3.0, 2.0, 2.0, 1.0)})
    rulebook = Rulebook(low_score=LowScore(enabled=False))

    assert flags_of(world, rulebook, rule="low_score") == []


def test_an_overridden_threshold_is_used() -> None:
    world = World({"2026-08": people(4, 4, 4, 4, 4)})
    rulebook = replace(Rulebook(), low_score=LowScore(amber_below=4.5, red_below=None))

    assert {f.severity for f in flags_of(world, rulebook, rule="low_score")} == {"amber"}


def test_an_overridden_fall_threshold_is_used() -> None:
    before = people(4, 4, 4, 4, 4, 4, 4, 4, 4, 3)
    world = World({"2026-07": before, "2026-08": people(*[3] * 8, 2, 2)})
    rulebook = Rulebook(falling=Falling(amber_fall=0.5, red_fall=1.5))

    [flag] = flags_of(world, rulebook, rule="falling", scope="team")

    assert flag.severity == "amber"


def test_flags_are_the_same_every_time_with_stable_ids() -> None:
    world = World(
        {"2026-07": people(4, 4, 4, 4, 4, 4, 4, 4, 4, 3), "2026-08": people(*[3] * 8, 2, 2)}
    )

    first, second = flags_of(world), flags_of(world)

    assert first == second
    falling = next(f for f in first if f.rule == "falling" and f.scope == "team")
    assert falling.id == flag_id("ics", "2026-08", "team", "t1", "falling", "support")
    assert falling.id == "11588838-18f6-58b9-a077-e783e7e313db"


def test_flag_ids_differ_by_system_subject_rule_and_dimension() -> None:
    ids = {
        flag_id("ics", "2026-08", "team", "t1", "falling", "support"),
        flag_id("other", "2026-08", "team", "t1", "falling", "support"),
        flag_id("ics", "2026-08", "place", "t1", "falling", "support"),
        flag_id("ics", "2026-08", "team", "t1", "low_score", "support"),
        flag_id("ics", "2026-08", "team", "t1", "falling", "belief"),
        flag_id("ics", "2026-08", "team", "t1", "falling", None),
    }

    assert len(ids) == 6
    assert all(re.fullmatch(r"[0-9a-f-]{36}", i) for i in ids)


def test_flags_come_team_by_team_then_the_place() -> None:
    teams = (Team("t1", "p1"), Team("t2", "p1"))
    world = World({"2026-08": [*people(2, 2, 2, 2, 2), *[person(2.0, team="t2")] * 6]}, teams=teams)

    flags = flags_of(world)

    assert [f.team for f in flags] == sorted([f.team for f in flags], key=lambda t: t or "~")
    assert flags[-1].rule == "spreading"
