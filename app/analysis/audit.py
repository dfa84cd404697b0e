"""The exact test of DESIGN section 3: do published cells combine to a small group's total?

Each cell is a sum over profiles (groups of respondents no cell tells apart), so a
combination of published cells is a vector over profiles. A leak is a combination that
equals the indicator of 1..k-1 people. Profiles in the same published cells form a joint
class; the published matrix has a row per published cell and a column per joint class.

``small_combination`` first screens the matrix exactly with one integer null vector
(``sieve``), which settles almost every case in a few milliseconds, and falls back to the
integer programme when it cannot (numbers too large, sets too many, or an unlucky draw).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from enum import Enum

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import Bounds, LinearConstraint, milp

from app.analysis.cells import CellKey, Profile
from app.analysis.sieve import Echelon, zero_sum_sets

Members = Mapping[Profile, Collection[CellKey]]  # the cells each profile counts in
Matrix = NDArray[np.int64]  # 0/1: published cells x joint classes
Counts = NDArray[np.int64]


@dataclass(frozen=True)
class Leak:
    """Published cells that combine to the total of a small group, and that group."""

    cells: tuple[CellKey, ...]
    group: frozenset[Profile]


@dataclass(frozen=True)
class Combination:
    """Rows of the published matrix whose weighted sum is the indicator of these columns."""

    rows: tuple[int, ...]
    columns: tuple[int, ...]


class Undecided(Enum):
    """The screen could not settle the question."""

    UNDECIDED = "undecided"


UNDECIDED = Undecided.UNDECIDED


def joint_classes(incidence: NDArray[np.bool_]) -> tuple[Matrix, NDArray[np.intp]]:
    """The published matrix of profiles x published cells, and each profile's class (-1: none)."""
    if incidence.shape[1] == 0:
        return np.zeros((0, 0), np.int64), np.full(incidence.shape[0], -1, dtype=np.intp)
    packed = np.ascontiguousarray(np.packbits(incidence, axis=1))
    keys = packed.view(np.dtype((np.void, packed.shape[1]))).ravel()
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    signatures = incidence[first]
    seen: NDArray[np.bool_] = np.asarray(signatures.any(axis=1), dtype=bool)
    renumber = np.cumsum(seen) - 1
    classes = np.where(seen[inverse], renumber[inverse], -1).astype(np.intp)
    return signatures[seen].T.astype(np.int64), classes


def small_combination(matrix: Matrix, people: Counts, k: int) -> Combination | None:
    """Published rows combining to 1..k-1 people (the fewest), or None if there are none."""
    found = screen(matrix, people, k)
    return milp_combination(matrix, people, k) if found is UNDECIDED else found


def screen(matrix: Matrix, people: Counts, k: int) -> Combination | Undecided | None:
    """The quick exact test: no leak, the smallest leak, or undecided."""
    if not (people < k).any() or matrix.shape[0] == 0:
        return None
    echelon = Echelon(matrix)
    vector = echelon.null_vector() if echelon.exact else None
    # The screen relies on nothing but this exact check of the null vector.
    if vector is None or np.any(matrix @ vector):
        return UNDECIDED
    candidates = zero_sum_sets(vector, people, k)
    if candidates is None:
        return UNDECIDED
    if not candidates:
        return None
    # A zero sum is a leak unless the random null vector was unlucky; verify the smallest,
    # and leave anything unexpected to the integer programme.
    columns = list(candidates[0])
    tracked = Echelon(matrix, track=True)
    weights = tracked.combination(columns) if tracked.exact else None
    if weights is None:
        return UNDECIDED
    product = weights @ matrix
    outside = np.ones(matrix.shape[1], dtype=bool)
    outside[columns] = False
    if product[outside].any() or (product[columns] != product[columns[0]]).any():
        return UNDECIDED
    return Combination(tuple(int(r) for r in np.flatnonzero(weights)), candidates[0])


def milp_combination(matrix: Matrix, people: Counts, k: int) -> Combination | None:
    """The reference test: an integer programme for the fewest people some rows combine to."""
    small = np.flatnonzero(people < k)
    if small.size == 0:
        return None
    # Weights y of published cells (free) and a 0/1 choice x of small joint classes with
    # sum(y * cells) equal to the indicator of the chosen ones and 1..k-1 people chosen.
    ys, xs = matrix.shape[0], small.size
    equality = np.zeros((matrix.shape[1], ys + xs))
    equality[:, :ys] = matrix.T
    equality[small, ys + np.arange(xs)] = -1.0
    weight = np.r_[np.zeros(ys), people[small].astype(np.float64)]
    result = milp(
        c=weight,
        constraints=[
            LinearConstraint(equality, 0.0, 0.0),
            LinearConstraint(weight[np.newaxis, :], 1.0, k - 1.0),
        ],
        integrality=np.r_[np.zeros(ys), np.ones(xs)],
        bounds=Bounds(
            np.r_[np.full(ys, -np.inf), np.zeros(xs)], np.r_[np.full(ys, np.inf), np.ones(xs)]
        ),
    )
    if result.x is None:
        return None
    rows = tuple(int(r) for r in np.flatnonzero(np.abs(result.x[:ys]) > 1e-6))
    return Combination(rows, tuple(int(c) for c in small[result.x[ys:] > 0.5]))


def in_row_space(matrix: Matrix, columns: Collection[int]) -> bool:
    """Whether the indicator of these columns is a combination of the rows."""
    if not columns or matrix.shape[0] == 0:
        return False
    echelon = Echelon(matrix)
    if echelon.exact:
        return echelon.combination(list(columns)) is not None
    target = np.zeros(matrix.shape[1])
    target[list(columns)] = 1.0
    weights = np.linalg.lstsq(matrix.T, target, rcond=None)[0]
    return bool(np.allclose(matrix.T @ weights, target, atol=1e-8))


def find_leak(
    published: Collection[CellKey], members: Members, sizes: Mapping[Profile, int], k: int
) -> Leak | None:
    """A combination of published cells totalling 1..k-1 people, or None if there is none."""
    return _leak(published, members, sizes, k, small_combination)


def find_leak_by_milp(
    published: Collection[CellKey], members: Members, sizes: Mapping[Profile, int], k: int
) -> Leak | None:
    """``find_leak`` by the integer programme alone, without the screen."""
    return _leak(published, members, sizes, k, milp_combination)


def derivable(published: Collection[CellKey], members: Members, group: Collection[Profile]) -> bool:
    """Whether the total over a group of profiles is a combination of published cells."""
    _, profiles, incidence = _incidence(published, members)
    matrix, classes = joint_classes(incidence)
    inside = np.array([p in group for p in profiles], dtype=bool)
    # A combination takes one value on profiles in the same published cells, so the group
    # must be a union of such classes, and outside every published cell it must be empty.
    if (inside & (classes < 0)).any():
        return False
    chosen = set(classes[inside].tolist())
    if chosen & set(classes[~inside].tolist()):
        return False
    return in_row_space(matrix, chosen)


def _incidence(
    published: Collection[CellKey], members: Members
) -> tuple[list[CellKey], list[Profile], NDArray[np.bool_]]:
    shown = sorted(published)
    column = {cell: i for i, cell in enumerate(shown)}
    profiles = list(members)
    incidence = np.zeros((len(profiles), len(shown)), dtype=bool)
    for row, profile in enumerate(profiles):
        incidence[row, [column[c] for c in members[profile] if c in column]] = True
    return shown, profiles, incidence


def _leak(
    published: Collection[CellKey],
    members: Members,
    sizes: Mapping[Profile, int],
    k: int,
    search: Callable[[Matrix, Counts, int], Combination | None],
) -> Leak | None:
    shown, profiles, incidence = _incidence(published, members)
    matrix, classes = joint_classes(incidence)
    people = np.bincount(
        classes[classes >= 0],
        weights=[sizes[p] for p, c in zip(profiles, classes, strict=True) if c >= 0],
        minlength=matrix.shape[1],
    ).astype(np.int64)
    found = search(matrix, people, k)
    if found is None:
        return None
    chosen = set(found.columns)
    group = frozenset(p for p, c in zip(profiles, classes, strict=True) if c in chosen)
    return Leak(tuple(shown[r] for r in found.rows), group)
