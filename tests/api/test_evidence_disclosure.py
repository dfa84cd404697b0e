"""How the attack tests read the evidence of warning signs: worlds built by hand, no API.

A number of evidence that matches a published cell (or a combination of them) adds
nothing; one that matches none is found among the respondents the test can name and weighed
by the checker with the cells, so evidence over a small group fails the attack tests; a
number the test cannot place, a p-value of other groups, an evidence field or a message
number it does not know, fail them too.
"""

import random
from fractions import Fraction
from math import sqrt
from typing import Any

import pytest

from tests.api.test_anonymity_attacks import (
    EVIDENCE,
    PULSE,
    Answer,
    Cell,
    CellKey,
    Known,
    Reading,
    Structure,
    assert_nothing_isolated,
    check_flag,
    cite,
    welch,
    welch_p,
)

DIMENSION = "support"
PLACE = "riverside"


def world(teams: dict[str, int], erased: tuple[str, ...] = (), k: int = 5) -> Reading:
    """Teams of one place (code -> respondents), answering one dimension; then some erased."""
    known = Known()
    known.add_structure(Structure(dict.fromkeys(teams, PLACE), {}))
    rng = random.Random(5)
    for team, count in teams.items():
        for i in range(count):
            scores = {DIMENSION: rng.choice([1, 1.5, 2, 2.5, 3, 4, 5])}
            answer = Answer(f"{team}{i}", PULSE, team, scores)
            known.answers[answer.external_id] = answer
    known.add_stored(frozenset(known.answers))
    if erased:
        known.add_stored(frozenset(known.answers) - set(erased))
    known.k_at_close[PULSE] = k
    reading = Reading(known, closed=[PULSE], enabled=dict.fromkeys(EVIDENCE, True))
    reading.rules = RULES
    return reading


# The default thresholds, as GET /v1/rules shows them.
RULES: dict[str, dict[str, Any]] = {
    "low_score": {"amber_below": 3.0, "red_below": 2.5},
    "below_place": {"amber_gap": 0.75, "red_gap": None},
}


def key(scope: str, subject: str) -> CellKey:
    return (PULSE, DIMENSION, scope, subject, None, None)


def numbers(reading: Reading, people: dict[str, int]) -> tuple[int, Fraction, float | None]:
    """n, mean and sd of respondents with weights (the rest of a place: place - team)."""
    scores = {p: Fraction(reading.known.answers[p].scores[DIMENSION]) for p in people}
    n = sum(people.values())
    mean = sum((w * scores[p] for p, w in people.items()), Fraction(0)) / n
    square = sum((w * scores[p] ** 2 for p, w in people.items()), Fraction(0))
    sd = sqrt((square - n * mean * mean) / (n - 1)) if n > 1 else None
    return n, mean, sd


def publish(reading: Reading, scope: str, subject: str, stored: int = 0) -> Cell:
    """Publish a cell over the respondents stored then, as the API rounds it."""
    structure = reading.known.structures[0]
    inside = reading.known.index(structure, reading.known.stored[stored])[key(scope, subject)]
    n, mean, sd = numbers(reading, {a.external_id: 1 for a in inside})
    shown = None if sd is None else round(sd, 4)
    cell = Cell(PULSE, DIMENSION, scope, subject, None, None, n, round(float(mean), 4), shown)
    reading.known.read.add(cell)
    reading.add(cell)
    return cell


def low_score(team: str | None, n: int, mean: float, sd: float | None) -> dict[str, Any]:
    return {
        "id": "flag",
        "rule": "low_score",
        "severity": "amber",
        "scope": "place" if team is None else "team",
        "pulse": PULSE,
        "place": PLACE,
        "team": team,
        "dimension": DIMENSION,
        "message": f"Support averaged {mean:.2f} (n={n}), below 3",
        "evidence": {
            "n": n,
            "mean": round(mean, 2),
            "sd": None if sd is None else round(sd, 2),
            "amber_below": 3.0,
            "red_below": 2.5,
            "related": [],
        },
    }


def test_evidence_matching_a_published_cell_adds_nothing() -> None:
    reading = world({"big": 8, "small": 3})
    place = publish(reading, "place", PLACE)

    check_flag(reading, low_score(None, place.n, place.mean, place.sd))

    assert reading.known.evidence == {}
    assert_nothing_isolated(reading.known)


def test_evidence_over_a_withheld_team_is_new_equations_and_gives_it_away() -> None:
    reading = world({"big": 8, "small": 3})
    publish(reading, "place", PLACE)  # the teams are not published
    small = {f"small{i}": 1 for i in range(3)}
    n, mean, sd = numbers(reading, small)

    check_flag(reading, low_score("small", n, float(mean), sd))

    [evidence] = reading.known.evidence.values()
    assert dict(evidence.weights) == small
    with pytest.raises(AssertionError, match="isolate 3 respondents"):
        assert_nothing_isolated(reading.known)


def test_the_rest_of_a_place_less_a_published_team_adds_nothing() -> None:
    reading = world({"a": 6, "b": 6})
    publish(reading, "place", PLACE)
    publish(reading, "team", "a")
    n, mean, _ = numbers(reading, {f"b{i}": 1 for i in range(6)})

    rest = cite(
        reading,
        FLAG,
        "the rest",
        [(1, key("place", PLACE)), (-1, key("team", "a"))],
        n,
        float(mean),
    )

    assert rest.n == 6
    assert reading.known.evidence == {}
    assert_nothing_isolated(reading.known)


def test_the_rest_of_a_revised_place_less_a_team_as_first_published_gives_the_erased_away() -> None:
    # a0 is erased; place and team a are published as first. A rest of the place taken from
    # the revised place (a1..a5, b0..b5) less team a as first published (a0..a5) is
    # b0..b5 - a0: with the place and the team, a0's score follows.
    reading = world({"a": 6, "b": 6}, erased=("a0",))
    publish(reading, "place", PLACE)
    publish(reading, "team", "a")
    rest = {f"b{i}": 1 for i in range(6)} | {"a0": -1}
    n, mean, _ = numbers(reading, rest)

    cite(
        reading,
        FLAG,
        "the rest",
        [(1, key("place", PLACE)), (-1, key("team", "a"))],
        n,
        float(mean),
    )

    [evidence] = reading.known.evidence.values()
    assert dict(evidence.weights) == rest
    with pytest.raises(AssertionError, match=r"isolate 1 respondents \['2026-10 a "):
        assert_nothing_isolated(reading.known)


def test_evidence_no_set_of_respondents_gives_fails() -> None:
    reading = world({"big": 8, "small": 3})
    publish(reading, "place", PLACE)

    with pytest.raises(AssertionError, match="cannot tell which respondents"):
        check_flag(reading, low_score("small", 4, 2.0, 0.5))


def below_place(reading: Reading, p: float, p_adjusted: float) -> dict[str, Any]:
    team = numbers(reading, {f"a{i}": 1 for i in range(6)})
    rest = numbers(reading, {f"b{i}": 1 for i in range(6)})
    shortfall = float(rest[1] - team[1])
    a = reading.group([(1, key("place", PLACE)), (-1, key("team", "a"))])
    b = reading.group([(1, key("team", "a"))])
    assert a is not None and b is not None
    _, t, df = welch(a, b, True)
    assert t is not None and team[2] is not None and rest[2] is not None
    return {
        "id": "flag",
        "rule": "below_place",
        "severity": "amber",
        "scope": "team",
        "pulse": PULSE,
        "place": PLACE,
        "team": "a",
        "dimension": DIMENSION,
        "message": f"Support averaged {float(team[1]):.2f} (n=6), {shortfall:.2f} below",
        "evidence": {
            "n": 6,
            "mean": round(float(team[1]), 2),
            "sd": round(team[2], 2),
            "rest_n": 6,
            "rest_mean": round(float(rest[1]), 2),
            "rest_sd": round(rest[2], 2),
            "shortfall": round(shortfall, 2),
            "test": "welch_t",
            "alternative": "one-sided",
            "statistic": round(t, 3),
            "df": round(df, 1),
            "p": p,
            "p_adjusted": p_adjusted,
            "method": "holm",
            "comparisons": 5,
            "alpha": 0.05,
            "amber_gap": 0.75,
            "red_gap": None,
            "related": [],
        },
    }


def test_p_values_are_matched_to_the_groups_and_the_comparisons_published() -> None:
    reading = world({"a": 6, "b": 6})
    publish(reading, "place", PLACE)
    publish(reading, "team", "a")
    team = reading.group([(1, key("team", "a"))])
    rest = reading.group([(1, key("place", PLACE)), (-1, key("team", "a"))])
    assert team is not None and rest is not None
    p = welch_p(rest, team, True)  # below_place is one-sided
    shown = float(f"{p:.3g}"), float(f"{min(1.0, 5 * p):.3g}")

    check_flag(reading, below_place(reading, *shown))  # the one comparison of five at least

    with pytest.raises(AssertionError, match="not that of the groups its evidence cites"):
        check_flag(reading, below_place(reading, shown[0] * 2, shown[1]))
    with pytest.raises(AssertionError, match=r"adjusted p-value .* is not reproduced"):
        check_flag(reading, below_place(reading, shown[0], min(1.0, shown[1] / 2)))


def test_an_evidence_field_or_message_number_the_test_does_not_know_fails() -> None:
    reading = world({"big": 8, "small": 3})
    place = publish(reading, "place", PLACE)
    flag = low_score(None, place.n, place.mean, place.sd)

    with pytest.raises(AssertionError, match=r"evidence fields \['spread'\]"):
        check_flag(reading, {**flag, "evidence": {**flag["evidence"], "spread": 1.2}})
    with pytest.raises(AssertionError, match=r"the message cites 4\.7"):
        check_flag(reading, {**flag, "message": f"{flag['message']}; leaders 4.7"})


FLAG: dict[str, Any] = {
    "rule": "below_place",
    "scope": "team",
    "team": "a",
    "place": PLACE,
    "pulse": PULSE,
    "dimension": DIMENSION,
}
