"""The independent checker of DESIGN section 3.3, on literal cells and against brute force."""

import itertools
import random
from collections.abc import Hashable

import pytest

from tests.disclosure_checker import exposes, find_exposure, rank

Cell = frozenset[Hashable]


def people(prefix: str, n: int) -> list[str]:
    return [f"{prefix}{i}" for i in range(1, n + 1)]


def cell(*groups: list[str] | str) -> Cell:
    members: set[str] = set()
    for group in groups:
        members |= {group} if isinstance(group, str) else set(group)
    return frozenset(members)


def total_is_derivable(cells: list[Cell], group: set[str]) -> bool:
    """Whether the plain total of ``group`` (its 0/1 indicator) is a combination of cells."""
    everyone = sorted({p for c in cells for p in c} | group)
    rows = [{everyone.index(p): 1 for p in c} for c in cells]
    target = {everyone.index(p): 1 for p in group}
    return rank([*rows, target]) == rank(rows)


# The worked example of DESIGN section 3.3: a team of 12 with crossed role and profession.
NURSES, MANAGERS = people("nurse", 5), people("manager", 5)
B, C = "frontline-social-worker", "nurse-team-lead"
WORKED = [
    cell(NURSES, B, C, MANAGERS),  # the team
    cell(NURSES, B),  # frontline
    cell(C, MANAGERS),  # leaders
    cell(NURSES, C),  # nursing
    cell(B, MANAGERS),  # social work
]


def test_the_worked_example_exposes_the_social_worker_and_the_team_lead() -> None:
    assert find_exposure(WORKED, 5) == {B, C}


def test_in_the_worked_example_no_small_group_total_is_derivable_only_a_difference() -> None:
    small = [NURSES[0], B, C, MANAGERS[0]]
    for size in range(1, 5):
        for group in itertools.combinations(small, size):
            assert not total_is_derivable(WORKED, set(group))
    assert exposes(WORKED, {B, C})


def test_the_worked_example_is_safe_without_the_profession_breakdown() -> None:
    assert find_exposure(WORKED[:3], 5) is None


def test_a_published_part_exposes_its_complement() -> None:
    team = people("t", 7)

    assert find_exposure([cell(team), cell(team[:5])], 5) == set(team[5:])


def test_a_place_and_one_of_its_two_teams_expose_the_other_team() -> None:
    x, y = people("x", 8), people("y", 3)

    assert find_exposure([cell(x, y), cell(x)], 5) == set(y)


def test_a_place_of_two_teams_with_only_the_place_published_is_safe() -> None:
    x, y = people("x", 8), people("y", 3)

    assert find_exposure([cell(x, y)], 5) is None


def test_crossed_place_segment_over_two_whole_teams_is_safe() -> None:
    # Place 12 = team X 6 + team Y 6; place x frontline 5 = 3 from X + 2 from Y.
    x_front, x_rest = people("xf", 3), people("xr", 3)
    y_front, y_rest = people("yf", 2), people("yr", 4)
    cells = [
        cell(x_front, x_rest, y_front, y_rest),
        cell(x_front, x_rest),
        cell(y_front, y_rest),
        cell(x_front, y_front),
    ]

    assert find_exposure(cells, 5) is None
    # With k = 6 the frontline cell itself is small, and so is X - frontline (X's rest - Y's).
    assert find_exposure(cells, 6) in (set(x_front + y_front), set(x_rest + y_front))


def test_a_combination_that_is_no_plain_total_still_exposes() -> None:
    # {P, C} - {P, Q} + {B, C, Q} is B + 2C: never a 0/1 total, yet it involves two people.
    p, q = people("p", 5), people("q", 5)
    cells = [cell(p, "C"), cell(p, q), cell("B", "C", q)]

    assert find_exposure(cells, 5) == {"B", "C"}
    for group in ({"B"}, {"C"}, {"B", "C"}):
        assert not total_is_derivable(cells, group)


def test_halves_of_a_triangle_isolate_one_person() -> None:
    # (AB + AC - BC) / 2 is A's total: weights of one half.
    b, c = people("b", 5), people("c", 5)
    cells = [cell("A", b), cell(b, c), cell("A", c)]

    assert find_exposure(cells, 5) == {"A"}


def test_respondents_in_no_published_cell_are_not_exposed() -> None:
    team = people("t", 9)

    assert find_exposure([cell(team[:6])], 5) is None


def test_separate_places_are_checked_each_and_the_lightest_exposure_wins() -> None:
    north, south = people("n", 8), people("s", 9)
    cells = [cell(north), cell(north[:5]), cell(south), cell(south[:8])]

    assert find_exposure(cells, 5) == {south[8]}


def test_with_k_one_nothing_is_small_and_with_k_two_one_person_is() -> None:
    cells = [cell("a", "b"), cell("a")]

    assert find_exposure(cells, 1) is None
    assert find_exposure(cells, 2) in ({"a"}, {"b"})


def brute_force(cells: list[Cell], k: int) -> int | None:
    """The fewest respondents (1..k-1) whose columns lower the rank, by trying every set."""
    everyone = sorted({p for c in cells for p in c}, key=str)
    for size in range(1, k):
        for group in itertools.combinations(everyone, size):
            if exposes(cells, group):
                return size
    return None


def random_cells(seed: int) -> tuple[list[Cell], int]:
    rng = random.Random(seed)
    everyone = [f"r{i}" for i in range(rng.randint(3, 10))]
    cells = [
        frozenset(p for p in everyone if rng.random() < rng.choice([0.3, 0.6, 0.9]))
        for _ in range(rng.randint(1, 6))
    ]
    return cells, rng.randint(2, 5)


@pytest.mark.parametrize("seed", range(120))
def test_the_search_finds_the_lightest_exposure_that_brute_force_finds(seed: int) -> None:
    cells, k = random_cells(seed)

    found = find_exposure(cells, k)

    expected = brute_force(cells, k)
    assert (None if found is None else len(found)) == expected
    if found is not None:
        assert exposes(cells, found)


def random_breakdowns(seed: int) -> tuple[list[Cell], int]:
    """A place of two small teams broken down by two attributes: its cells of k or more."""
    rng = random.Random(seed)
    members: dict[tuple[str, ...], set[str]] = {}
    for team in ("x", "y"):
        for i in range(rng.randint(1, 7)):
            person = f"{team}{i}"
            role, profession = rng.choice(["f", "l", None]), rng.choice(["n", "s", None])
            for scope in (("team", team), ("place",)):
                members.setdefault(scope, set()).add(person)
                for segment in (("role", role), ("profession", profession)):
                    if segment[1] is not None:
                        members.setdefault(scope + segment, set()).add(person)
    k = rng.randint(2, 5)
    cells = [frozenset(m) for m in members.values() if len(m) >= k]
    rng.shuffle(cells)
    return cells, k


@pytest.mark.parametrize("seed", range(40))
def test_on_crossed_breakdowns_the_search_agrees_with_brute_force(seed: int) -> None:
    cells, k = random_breakdowns(seed)
    # Withdraw cells one at a time until brute force finds nothing: leaky and safe cases.
    while cells:
        expected = brute_force(cells, k)
        found = find_exposure(cells, k)
        assert (None if found is None else len(found)) == expected
        if expected is None:
            break
        cells.pop()


# -- numbers that are no plain cell: the evidence of warning signs --------------------------
# Evidence can give the mean of a group no cell is over: a team's baseline pooled over earlier
# pulses, or the rest of its place (the place less the team). Such a row is a mapping of
# respondents to weights, and the checker weighs it with the cells.


def test_evidence_pooling_a_withheld_pulse_with_a_published_one_exposes_the_withheld() -> None:
    # A team's baseline pools pulse 1 (3 respondents, withheld) with pulse 2 (6, published).
    first, second = people("first-pulse-", 3), people("second-pulse-", 6)
    baseline = dict.fromkeys(first + second, 1)

    assert find_exposure([cell(second)], 5) is None
    assert find_exposure([cell(second), baseline], 5) == set(first)


def test_evidence_over_a_place_less_a_team_is_nothing_new_when_both_are_published() -> None:
    team, others = people("team-", 6), people("others-", 6)
    place = cell(team, others)
    rest = {person: 1 for person in place} | dict.fromkeys(team, -1)  # place - team

    assert find_exposure([place, cell(team), rest], 5) is None


def test_evidence_from_a_revised_place_less_a_team_as_first_published_exposes_the_erased() -> None:
    # Team A (6) and the rest of the place B (6) published; then a1 of A is erased. If the
    # rest of the place were taken from the revised place (A - a1 + B) less the team as first
    # published (A), it would weigh a1 by -1: with the place and the team, a1 follows.
    a, b = people("a", 6), people("b", 6)
    rest = dict.fromkeys(b, 1) | {a[0]: -1}

    assert find_exposure([cell(a, b), cell(a)], 5) is None
    assert find_exposure([cell(a, b), cell(a), rest], 5) == {a[0]}
    assert exposes([cell(a, b), cell(a), rest], {a[0]})
    assert not exposes([cell(a, b), cell(a)], {a[0]})


def test_a_mapping_with_every_weight_one_is_the_cell_itself() -> None:
    assert find_exposure([dict.fromkeys(WORKED[0], 1), *WORKED[1:]], 5) == {B, C}
    assert find_exposure([{**dict.fromkeys(WORKED[0], 1), "nobody": 0}, *WORKED[1:3]], 5) is None


def random_weighted(seed: int) -> tuple[list[dict[str, int]], int]:
    rng = random.Random(seed)
    everyone = [f"r{i}" for i in range(rng.randint(3, 9))]
    rows = [
        {p: rng.choice([-2, -1, 1, 1, 1, 2]) for p in everyone if rng.random() < 0.6}
        for _ in range(rng.randint(1, 5))
    ]
    return rows, rng.randint(2, 5)


@pytest.mark.parametrize("seed", range(80))
def test_on_weighted_rows_the_search_agrees_with_brute_force(seed: int) -> None:
    rows, k = random_weighted(seed)

    found = find_exposure(rows, k)

    everyone = sorted({p for row in rows for p in row})
    expected = next(
        (
            size
            for size in range(1, k)
            for group in itertools.combinations(everyone, size)
            if exposes(rows, group)
        ),
        None,
    )
    assert (None if found is None else len(found)) == expected
    if found is not None:
        assert exposes(rows, found)
