"""The exact test of DESIGN section 3 on literal matrices, and against deletion by brute force."""

import itertools
import random

import numpy as np
import pytest

from app.analysis.disclosure import exposure


def matrix(*rows: str) -> np.ndarray:
    """Cells as rows of 0/1 over atoms, written as strings: "1100"."""
    return np.array([[int(c) for c in row] for row in rows], dtype=np.int64)


def test_the_crossed_breakdowns_of_the_worked_example_expose_the_two_people_apart() -> None:
    # Atoms: frontline nurses (5), frontline social worker B (1), nurse lead C (1),
    # social-work managers (5). Team, frontline, leaders, nursing, social work.
    cells = matrix("1111", "1100", "0011", "1010", "0101")

    found = exposure(cells, np.array([5, 1, 1, 5]), 5)

    assert found is not None
    assert found.atoms == (1, 2)
    assert found.people == 2


def test_a_small_complement_is_exposed() -> None:
    # A team of 7 and a segment of 5 of them: the other 2 are the difference.
    found = exposure(matrix("11", "10"), np.array([5, 2]), 5)

    assert found is not None
    assert (found.atoms, found.people) == ((1,), 2)


def test_a_place_against_its_teams_exposes_a_small_team() -> None:
    # Place and team a published; team b (3) is place - a.
    found = exposure(matrix("11", "10"), np.array([9, 3]), 5)

    assert found is not None
    assert found.atoms == (1,)


def test_a_place_segment_spread_over_two_teams_is_safe() -> None:
    # Teams x (3 frontline, 3 other) and y (2 frontline, 4 other), the place and the place's
    # frontline (5): every nonzero combination involves at least 5 people.
    cells = matrix("1100", "0011", "1111", "1010")

    assert exposure(cells, np.array([3, 3, 2, 4]), 5) is None


def test_a_combination_with_fractional_weights_isolates_one_atom() -> None:
    # a = x + y, b = x + z, c = y + z + w, d = w: a combination with
    # weights 1/2 isolates atom x: (a + b - c + d) / 2 is the total of x.
    cells = matrix("1100", "1010", "0111", "0001")
    weights = np.array([2, 6, 6, 6])

    found = exposure(cells, weights, 5)

    assert found is not None
    assert found.atoms == (0,)


def test_heavy_atoms_alone_are_never_exposed() -> None:
    assert exposure(matrix("110", "011"), np.array([5, 6, 7]), 5) is None


def test_no_cells_expose_nobody() -> None:
    assert exposure(np.zeros((0, 3), dtype=np.int64), np.array([1, 1, 1]), 5) is None


def _rank(m: np.ndarray) -> int:
    return int(np.linalg.matrix_rank(m)) if m.size else 0


def _brute_force(cells: np.ndarray, weights: np.ndarray, k: int) -> int | None:
    """The fewest people some deletion of light atoms lowers the rank by, or None."""
    full = _rank(cells)
    light = [j for j in range(cells.shape[1]) if weights[j] < k]
    best = None
    for size in range(1, k):
        for chosen in itertools.combinations(light, size):
            people = int(weights[list(chosen)].sum())
            if people >= k or (best is not None and people >= best):
                continue
            rest = [j for j in range(cells.shape[1]) if j not in chosen]
            if _rank(cells[:, rest]) < full:
                best = people
    return best


@pytest.mark.parametrize("seed", range(60))
def test_the_audit_agrees_with_deleting_atoms_by_brute_force(seed: int) -> None:
    rng = random.Random(seed)
    k = rng.randint(3, 6)
    atoms = rng.randint(2, 9)
    cells = np.array(
        [[int(rng.random() < 0.45) for _ in range(atoms)] for _ in range(rng.randint(1, 7))],
        dtype=np.int64,
    )
    weights = np.array([rng.choice([1, 1, 2, 3, 5, 8]) for _ in range(atoms)], dtype=np.int64)
    cells = cells[:, cells.any(axis=0)] if cells.any() else cells[:, :1]
    weights = weights[: cells.shape[1]]

    found = exposure(cells, weights, k)
    expected = _brute_force(cells, weights, k)

    assert (found is None) == (expected is None)
    if found is not None:
        assert found.people == expected
        rest = np.ones(cells.shape[1], dtype=bool)
        rest[list(found.atoms)] = False
        assert _rank(cells[:, rest]) < _rank(cells)
