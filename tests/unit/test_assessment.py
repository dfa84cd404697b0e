"""An assessment is made whatever the thresholds: grading it by any rulebook gives that
rulebook's warning signs, as a rule change and a preview rely on (they grade one made
before, kept in memory)."""

import random
from dataclasses import replace

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from app.analysis.published import Published
from app.analysis.signs import RULES, Rulebook, assessment, grade, warning_signs
from app.analysis.snapshot import Team
from app.analysis.stats import adjust, holm_smallest
from app.vocab import DIMENSIONS
from tests.unit.worlds import Person, World

ROLES = ("frontline", "frontline", "leaders", None)
KINDS = ("nhs_trust", "local_authority", "primary_care")
PULSES = ("2026-01", "2026-02", "2026-03", "2026-04", "2026-05")


def world(seed: int) -> World:
    """Two places of three teams over five pulses, some teams falling, some split by role."""
    rng = random.Random(seed)
    teams = tuple(
        Team(f"t{p}{t}", f"p{p}", rng.choice([None, 12, 30])) for p in range(2) for t in range(3)
    )
    pulses: dict[str, list[Person]] = {}
    for age, key in enumerate(PULSES):
        persons = []
        for team in teams:
            fall = 0.4 * age if rng.random() < 0.4 else 0.0
            for _ in range(rng.randint(0, 14)):
                role = rng.choice(ROLES)
                level = 4.2 - fall - (0.8 if role == "leaders" and rng.random() < 0.5 else 0.0)
                scores = {
                    d: float(min(5, max(1, round(rng.gauss(level, 0.9))))) for d in DIMENSIONS
                }
                persons.append(Person(scores, role, rng.choice(KINDS), team.code))
        pulses[key] = persons
    return World(pulses, teams, k=rng.choice([3, 5]))


def thresholds(low: float, high: float) -> st.SearchStrategy[tuple[float, float | None]]:
    """An amber threshold and a red one at least as severe (or none)."""
    return st.tuples(st.floats(low, high), st.none() | st.floats(0.0, 1.0)).map(
        lambda pair: (round(pair[0], 2), None if pair[1] is None else round(pair[0] + pair[1], 2))
    )


@st.composite
def rulebooks(draw: st.DrawFn) -> Rulebook:
    """Any rulebook the API accepts: thresholds across their ranges, rules on and off."""
    rules: dict[str, dict[str, object]] = {}
    for name, measure, low, high in (
        ("falling", "fall", 0.05, 1.5),
        ("sustained_decline", "fall", 0.05, 1.0),
        ("hierarchy_gap", "gap", 0.05, 1.5),
        ("partner_divide", "gap", 0.05, 1.5),
        ("below_place", "gap", 0.05, 1.5),
        ("polarised", "sd", 0.5, 1.5),
    ):
        amber, red = draw(thresholds(low, high))
        rules[name] = {
            "enabled": draw(st.booleans()),
            f"amber_{measure}": amber,
            f"red_{measure}": red,
        }
    amber, drop = draw(st.floats(2.5, 4.5)), draw(st.none() | st.floats(0.0, 1.0))
    rules["low_score"] = {
        "enabled": draw(st.booleans()),
        "amber_below": round(amber, 2),
        "red_below": None if drop is None else round(max(1.0, amber - drop), 2),
    }
    for name in ("gone_quiet", "insufficient_responses", "low_participation", "spreading"):
        rules[name] = {"enabled": draw(st.booleans())}
    return Rulebook.from_dict({"rules": rules})


ALL_OFF = Rulebook.from_dict({"rules": {name: {"enabled": False} for name in RULES}})


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), before=rulebooks(), book=rulebooks())
@example(seed=3, before=ALL_OFF, book=Rulebook())
def test_an_assessment_graded_by_any_rulebook_gives_its_warning_signs(
    seed: int, before: Rulebook, book: Rulebook
) -> None:
    snapshot = world(seed).snapshot()
    # Made under the rulebook of its day, as the one kept in memory was, then graded by another.
    made = assessment(snapshot, before, Published(snapshot))
    assert grade(made, book) == warning_signs(snapshot, book)
    assert grade(made, Rulebook()) == warning_signs(snapshot, Rulebook())


def test_some_worlds_raise_comparison_flags_so_the_property_is_not_empty() -> None:
    found = {
        f.rule for seed in range(40) for f in warning_signs(world(seed).snapshot(), Rulebook())
    }
    assert {"falling", "low_score", "below_place"} <= found


def test_an_assessment_is_graded_only_under_the_statistical_settings_it_was_made_with() -> None:
    snapshot = world(1).snapshot()
    made = assessment(snapshot, Rulebook(), Published(snapshot))
    # A looser alpha would need comparisons that were not kept.
    with pytest.raises(ValueError, match="statistical settings"):
        grade(made, replace(Rulebook(), alpha=0.1))


@given(
    small=st.lists(st.floats(0.0, 0.0499), max_size=12),
    large=st.lists(st.floats(0.05, 1.0), max_size=12),
    floor=st.integers(1, 30),
)
def test_holm_over_the_smallest_p_values_is_holm_over_the_whole_family(
    small: list[float], large: list[float], floor: int
) -> None:
    family = small + large
    random.Random(len(family)).shuffle(family)
    whole = adjust(family, floor)
    kept = [p for p in family if p < 0.05]
    expected = [q for p, q in zip(family, whole, strict=True) if p < 0.05]
    assert holm_smallest(kept, max(len(family), floor)) == expected
