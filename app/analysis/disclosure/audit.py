"""The exact test of DESIGN section 3: may any weighted combination of cells isolate few people?

Published cells are the rows of a 0/1 matrix over atoms (respondents whom every published
cell treats alike); an atom weighs its respondents. A combination of cells, with any
weights, is a vector of the row space, constant on each atom; it *involves* the atoms where
it is not zero. A set S of atoms is exposed when some nonzero vector of the row space lies
inside S, which is so exactly when deleting S's columns lowers the rank. The test: no set
of 1..k-1 people is exposed.

Only atoms lighter than k can be in such a set, and heavy atoms are never deleted, so the
search works in the quotient by the span of the heavy atoms' columns: a light column in
that span is never exposed. In the quotient, S is exposed exactly when the columns of a
null-space basis ``N`` on S are linearly dependent (the supports of row-space vectors are
the complements of the flats, their minimal ones the circuits of the dual matroid), so the
search is for a dependent set of columns of ``N`` weighing less than k: a zero column is a
single exposed atom, and larger sets are searched depth first within each connected part
of the matroid (a circuit never spans two parts).

Ranks are computed in floating point with a tolerance far above rounding (0/1 matrices of
a few hundred rows round at around 1e-13) and far below any real singular value of such a
matrix, and every doubtful case errs towards finding an exposure (suppressing more).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

TOLERANCE = 1e-9
# Past this many sets tried, the search stops and reports the part it was in as exposed:
# suppressing more is the safe way to be in doubt.
MAX_SETS = 2_000

Matrix = NDArray[np.float64]


@dataclass(frozen=True)
class Exposure:
    """Atoms that some weighted combination of the cells isolates, and how many people."""

    atoms: tuple[int, ...]
    people: int
    certain: bool = True  # False: the search gave up and assumed the worst


def exposure(matrix: NDArray[np.integer], weights: NDArray[np.integer], k: int) -> Exposure | None:
    """The lightest exposed set of atoms found, weighing 1..k-1, or None if there is none.

    ``matrix`` is cells x atoms (0/1), ``weights`` the respondents of each atom (all > 0).
    """
    weights = np.asarray(weights, dtype=np.int64)
    light = np.flatnonzero(weights < k)
    if light.size == 0 or matrix.shape[0] == 0:
        return None
    a = np.asarray(matrix, dtype=np.float64)
    heavy = np.flatnonzero(weights >= k)
    columns = a[:, light]
    if heavy.size:
        basis = column_basis(a[:, heavy])
        columns = columns - basis @ (basis.T @ columns)
    keep = np.linalg.norm(columns, axis=0) > TOLERANCE
    light, columns = light[keep], columns[:, keep]
    if light.size == 0:
        return None
    null = _null_space(columns)  # rows span the null space of the quotient columns
    return _dependent_set(null, weights[light], light, k)


def rank(matrix: NDArray[np.integer] | Matrix) -> int:
    """The rank of a matrix, with the module's tolerance."""
    if matrix.size == 0:
        return 0
    values = np.linalg.svd(np.asarray(matrix, dtype=np.float64), compute_uv=False)
    return int((values > TOLERANCE * max(1.0, float(values[0]))).sum())


def exposes(matrix: NDArray[np.integer], atoms: list[int]) -> bool:
    """Whether some nonzero combination of the rows lies inside these atoms (columns)."""
    rest = np.ones(matrix.shape[1], dtype=bool)
    rest[atoms] = False
    return rank(matrix[:, rest]) < rank(matrix)


def column_basis(matrix: Matrix) -> Matrix:
    """An orthonormal basis of the column space, with the module's tolerance."""
    if matrix.size == 0:
        return np.zeros((matrix.shape[0], 0))
    u, values, _ = np.linalg.svd(matrix, full_matrices=False)
    return u[:, values > TOLERANCE * max(1.0, float(values[0]))]


def _null_space(matrix: Matrix) -> Matrix:
    """Rows spanning the null space of the matrix (as an orthonormal basis)."""
    _, values, vt = np.linalg.svd(matrix, full_matrices=True)
    top = float(values[0]) if values.size else 0.0
    r = int((values > TOLERANCE * max(1.0, top)).sum())
    return vt[r:]


def _dependent_set(
    null: Matrix, weights: NDArray[np.int64], atoms: NDArray[np.intp], k: int
) -> Exposure | None:
    """The lightest set of columns of ``null`` found linearly dependent, weighing < k."""
    norms = np.linalg.norm(null, axis=0) if null.shape[0] else np.zeros(null.shape[1])
    zero = np.flatnonzero(norms <= TOLERANCE)
    if zero.size:
        # A zero column: that atom alone is a combination of the cells.
        lightest = int(zero[np.argmin(weights[zero])])
        return Exposure((int(atoms[lightest]),), int(weights[lightest]))
    unit = null / norms
    best: Exposure | None = None
    for part in _parts(unit):
        found = _search(unit[:, part], weights[part], k - 1 if best is None else best.people - 1)
        if found is not None:
            chosen, certain = found
            members = tuple(sorted(int(atoms[part[i]]) for i in chosen))
            people = int(weights[part][list(chosen)].sum()) if certain else 1
            if best is None or people < best.people:
                best = Exposure(members, people, certain)
    return best


def _parts(unit: Matrix) -> list[NDArray[np.intp]]:
    """The connected parts of the matroid of these columns (by fundamental circuits)."""
    count = unit.shape[1]
    parent = list(range(count))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    # A basis of the columns and, for every other column, the basis columns it needs.
    basis: list[int] = []
    q = np.zeros((unit.shape[0], 0))
    for j in range(count):
        v = unit[:, j]
        residual = v - q @ (q.T @ v)
        norm = float(np.linalg.norm(residual))
        if norm > TOLERANCE:
            basis.append(j)
            q = np.column_stack([q, residual / norm])
    if len(basis) < count:
        b = unit[:, basis]
        others = [j for j in range(count) if j not in set(basis)]
        coefficients = np.linalg.lstsq(b, unit[:, others], rcond=None)[0]
        for column, j in enumerate(others):
            for i in np.flatnonzero(np.abs(coefficients[:, column]) > TOLERANCE).tolist():
                parent[root(basis[i])] = root(j)
    groups: dict[int, list[int]] = {}
    for j in range(count):
        groups.setdefault(root(j), []).append(j)
    return [np.array(g, dtype=np.intp) for g in groups.values()]


def _search(
    unit: Matrix, weights: NDArray[np.int64], budget: int
) -> tuple[tuple[int, ...], bool] | None:
    """The lightest set of these unit columns weighing at most ``budget`` that is dependent.

    Returns the set and True, or every column and False when there are too many sets to try.
    Sets are tried size by size, all of one size at once: a set is dependent exactly when
    the determinant of its Gram matrix (the squared volume its columns span) is zero.
    """
    count = unit.shape[1]
    if count < 2 or budget < 2:
        return None
    gram = unit.T @ unit
    sets = np.arange(count, dtype=np.intp)[:, None]
    weight = weights.copy()
    best: tuple[tuple[int, ...], int] | None = None
    for _ in range(2, budget + 1):
        sets, weight = _extend(sets, weight, weights, budget if best is None else best[1] - 1)
        if len(sets) == 0:
            break
        if len(sets) > MAX_SETS:
            return tuple(range(count)), False
        volume = np.linalg.det(gram[sets[:, :, None], sets[:, None, :]])
        dependent = np.flatnonzero(volume <= TOLERANCE)
        if dependent.size:
            lightest = int(dependent[np.argmin(weight[dependent])])
            if best is None or int(weight[lightest]) < best[1]:
                best = (tuple(int(i) for i in sets[lightest]), int(weight[lightest]))
            # Sets holding a dependent set need no extending: keep the independent ones.
            keep = volume > TOLERANCE
            sets, weight = sets[keep], weight[keep]
    return None if best is None else (best[0], True)


def _extend(
    sets: NDArray[np.intp], weight: NDArray[np.int64], weights: NDArray[np.int64], limit: int
) -> tuple[NDArray[np.intp], NDArray[np.int64]]:
    """Every set one column larger (by a column after its last) weighing at most ``limit``."""
    count = len(weights)
    last = sets[:, -1]
    extra = count - 1 - last
    parent = np.repeat(np.arange(len(sets)), extra)
    column = np.arange(len(parent)) - np.repeat(np.cumsum(extra) - extra, extra)
    column = column + np.repeat(last + 1, extra)
    total = weight[parent] + weights[column]
    keep = total <= limit
    grown = np.hstack([sets[parent[keep]], column[keep, None]])
    return grown, total[keep]
