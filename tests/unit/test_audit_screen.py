"""The audit's quick screen against the integer programme it stands in for, on random places.

The screen may say "no leak" only where the integer programme finds none; where it names a
leak, the leak must be real and as small as the smallest the integer programme finds.
"""

import random
from collections import Counter

import numpy as np
import pytest

from app.analysis.audit import (
    UNDECIDED,
    find_leak,
    find_leak_by_milp,
    in_row_space,
    joint_classes,
    milp_combination,
    screen,
)
from app.analysis.cells import CellKey, Profile, cells_of
from app.analysis.disclosure import publishable
from app.analysis.sieve import Echelon
from tests.unit.test_disclosure_principle import (
    generate_system,
    profile_counts,
    smallest_derivable_groups,
)

KINDS = ["nhs_trust", "local_authority", "primary_care", "voluntary_sector"]
PROFESSIONS = ["nursing", "social_work", "therapy", "medical", "admin"]


def random_place(seed: int, teams: int, largest: int) -> Counter[Profile]:
    """Respondents per profile of one place: small teams, sparse and nested attributes."""
    rng = random.Random(seed)
    kinds = rng.sample(KINDS, rng.randint(1, 3))
    professions = rng.sample(PROFESSIONS, rng.randint(1, 5))
    counts: Counter[Profile] = Counter()
    for t in range(teams):
        for _ in range(rng.randint(1, largest)):
            role = rng.choice(["frontline", "frontline", "leaders", None])
            profession = rng.choice([*professions, None])
            kind = rng.choice([*kinds, kinds[0]])
            counts[Profile(f"t{t}", role, profession, kind)] += 1
    return counts


def publications(seed: int, counts: Counter[Profile], k: int) -> list[set[CellKey]]:
    """Cell sets to audit: every cell over threshold, random subsets, and the safe set plus one."""
    rng = random.Random(seed)
    sizes: Counter[CellKey] = Counter()
    for profile, count in counts.items():
        for cell in cells_of(profile, "p"):
            sizes[cell] += count
    large = sorted(cell for cell, n in sizes.items() if n >= k)
    safe = set(publishable(counts, {p.team: "p" for p in counts}, k))
    found = [set(large), safe]
    found += [{cell for cell in large if rng.random() < share} for share in (0.5, 0.8)]
    found += [safe | {cell} for cell in rng.sample(large, min(3, len(large))) if cell not in safe]
    return found


def published_matrix(
    counts: Counter[Profile], shown: set[CellKey]
) -> tuple[np.ndarray, np.ndarray, list[list[Profile]]]:
    """The published matrix over joint classes, the people in each, and their profiles."""
    profiles = sorted(counts)
    cells = sorted(shown)
    incidence = np.array(
        [[cell in set(cells_of(p, "p")) for cell in cells] for p in profiles], dtype=bool
    ).reshape(len(profiles), len(cells))
    matrix, classes = joint_classes(incidence)
    people = np.zeros(matrix.shape[1], dtype=np.int64)
    members: list[list[Profile]] = [[] for _ in range(matrix.shape[1])]
    for profile, column in zip(profiles, classes.tolist(), strict=True):
        if column >= 0:
            people[column] += counts[profile]
            members[column].append(profile)
    return matrix, people, members


CASES = [
    (seed, k, teams, largest)
    for k, teams, largest in [(3, 3, 6), (4, 3, 9), (5, 3, 12), (5, 5, 9), (6, 2, 10)]
    for seed in range(20)
]


@pytest.mark.parametrize(("seed", "k", "teams", "largest"), CASES)
def test_the_screen_finds_a_leak_exactly_where_the_integer_programme_does(
    seed: int, k: int, teams: int, largest: int
) -> None:
    counts = random_place(seed, teams, largest)

    for shown in publications(seed, counts, k):
        matrix, people, _ = published_matrix(counts, shown)
        fast = screen(matrix, people, k)
        slow = milp_combination(matrix, people, k)

        if fast is None:
            assert slow is None
        elif fast is not UNDECIDED:
            assert slow is not None
            columns = list(fast.columns)
            assert 1 <= people[columns].sum() < k
            assert people[columns].sum() == people[list(slow.columns)].sum()
            assert in_row_space(matrix[list(fast.rows)], columns)


def test_the_screen_decides_almost_every_case_itself() -> None:
    decided = undecided = 0
    for seed, k, teams, largest in CASES:
        counts = random_place(seed, teams, largest)
        for shown in publications(seed, counts, k):
            matrix, people, _ = published_matrix(counts, shown)
            if screen(matrix, people, k) is UNDECIDED:
                undecided += 1
            else:
                decided += 1

    assert undecided <= decided // 50


@pytest.mark.parametrize("seed", range(4))
def test_on_a_realistic_place_the_screen_agrees_with_the_integer_programme(seed: int) -> None:
    counts = random_place(100 + seed, teams=20, largest=17)

    for shown in publications(seed, counts, 5):
        matrix, people, _ = published_matrix(counts, shown)
        fast = screen(matrix, people, 5)
        slow = milp_combination(matrix, people, 5)

        assert fast is not UNDECIDED
        assert (fast is None) == (slow is None)


@pytest.mark.parametrize("seed", range(12))
def test_find_leak_agrees_with_the_integer_programme_alone(seed: int) -> None:
    counts = random_place(seed, teams=4, largest=10)
    members = {p: list(cells_of(p, "p")) for p in counts}

    for shown in publications(seed, counts, 5):
        fast = find_leak(shown, members, counts, 5)
        slow = find_leak_by_milp(shown, members, counts, 5)

        assert (fast is None) == (slow is None)
        if fast is not None and slow is not None:
            assert sum(counts[p] for p in fast.group) == sum(counts[p] for p in slow.group)
            assert set(fast.cells) <= shown


@pytest.mark.parametrize("seed", range(12))
def test_the_null_vector_is_exact_and_touches_every_column_outside_the_row_space(
    seed: int,
) -> None:
    counts = random_place(seed, teams=4, largest=12)
    matrix, _, _ = published_matrix(counts, publications(seed, counts, 5)[0])

    echelon = Echelon(matrix)
    vector = echelon.null_vector()

    assert echelon.exact and vector is not None
    assert not (matrix @ vector).any()
    for column in range(matrix.shape[1]):
        assert (vector[column] == 0) == in_row_space(matrix, [column])


def test_a_nested_segment_leak_is_found_by_the_screen() -> None:
    # Every nurse is a trust employee: trust - nursing is the other 2 trust staff.
    counts = Counter(
        {
            Profile("t", profession="nursing", organisation_kind="nhs_trust"): 8,
            Profile("t", profession="social_work", organisation_kind="local_authority"): 5,
            Profile("t", organisation_kind="nhs_trust"): 2,
        }
    )
    shown = {
        CellKey("team", "t"),
        CellKey("team", "t", "organisation_kind", "nhs_trust"),
        CellKey("team", "t", "profession", "nursing"),
    }
    matrix, people, members = published_matrix(counts, shown)

    found = screen(matrix, people, 5)

    assert found is not None and found is not UNDECIDED
    assert [members[c] for c in found.columns] == [[Profile("t", organisation_kind="nhs_trust")]]


@pytest.mark.parametrize("k", [3, 4, 6])
@pytest.mark.parametrize("seed", range(6))
def test_no_combination_reveals_a_small_group_for_other_thresholds(seed: int, k: int) -> None:
    respondents = generate_system(seed)
    counts, team_place = profile_counts(respondents)

    published = publishable(counts, team_place, k)

    assert smallest_derivable_groups(respondents, published, k) == []
