"""Exact integer linear algebra for the audit, and a quick screen for small row-space sets.

A combination of the rows of a 0/1 matrix equals the indicator of a set of columns only if
every vector of the null space sums to zero over that set. One integer null vector, drawn
at random from the whole null space, therefore rules out every set over which it does not
sum to zero; sets of 1..k-1 people are few enough to search for zero sums by meeting in
the middle. Everything here is integer arithmetic, so nothing hangs on a rounding
tolerance, and none of it calls BLAS, whose threads contend badly on a shared machine.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

IntArray = NDArray[np.int64]

SAFE_ENTRY = 1 << 30  # entries up to this cannot overflow int64 in one elimination step
MAX_HALVES = 400_000  # beyond these the search costs more than the integer programme
MAX_MATCHES = 400_000
_SEED = 20240917  # fixed: the same input always gets the same answer


class Echelon:
    """The rows of an integer matrix reduced by fraction-free Gauss-Jordan elimination."""

    def __init__(self, matrix: IntArray, track: bool = False) -> None:
        rows, columns = matrix.shape
        self.columns = columns
        work = matrix.astype(np.int64)
        if track:
            # The identity on the right records which original rows make up each reduced row.
            work = np.hstack([work, np.eye(rows, dtype=np.int64)])
        pivots = np.full(rows, -1, dtype=np.int64)
        self.exact = True
        bound = int(np.abs(work).max(initial=0))  # no entry exceeds it
        for i in range(rows):
            row = work[i]
            nonzero = np.flatnonzero(row[:columns] if track else row)
            if nonzero.size == 0:
                continue
            # A pivot of 1 keeps every entry an integer without growth.
            j = int(nonzero[0])
            if abs(row[j]) != 1:
                values = np.abs(row[nonzero])
                j = int(nonzero[np.argmin(values)])
            if row[j] < 0:
                row *= -1
            pivot = int(row[j])
            others = np.flatnonzero(work[:, j])
            others = others[others != i]
            pivots[i] = j
            if not others.size:
                continue
            if bound > SAFE_ENTRY:
                # Measure only when the running bound says a step could overflow.
                bound = int(np.abs(work).max())
                if bound > SAFE_ENTRY:
                    self.exact = False
                    break
            if pivot == 1:
                block = work[others] - work[others, j, None] * row
            else:
                block = work[others] * pivot - work[others, j, None] * row
                divisor = np.gcd.reduce(block, axis=1)
                block //= np.maximum(divisor, 1)[:, None]
            bound += pivot * bound + bound * bound
            work[others] = block
        used = np.flatnonzero(pivots >= 0)
        self.pivot_columns = pivots[used]
        self.reduced = work[used, :columns]
        self.transform = work[used, columns:]
        self.scale = self.reduced[np.arange(len(used)), self.pivot_columns]
        self.rank = len(used)
        self.common = int(np.lcm.reduce(np.abs(self.scale))) if self.rank else 1
        largest = int(np.abs(work).max(initial=0))
        if self.common * largest * max(rows, 1) ** 2 >= 1 << 62:
            self.exact = False  # combinations of the rows, and their products, could overflow

    def null_vector(self) -> IntArray | None:
        """A random integer vector of the null space, generic in it; None if it would overflow."""
        free = np.ones(self.columns, dtype=bool)
        free[self.pivot_columns] = False
        common = self.common
        largest = common * (int(np.abs(self.reduced).max(initial=0)) + 1)
        # Entries stay below 2**50, so sums over a row of the matrix cannot overflow.
        top = min(1 << 40, (1 << 50) // (largest * max(self.columns, 1)))
        if top < 2:
            return None
        weights = np.random.default_rng(_SEED).integers(1, top, size=int(free.sum()))
        vector = np.zeros(self.columns, dtype=np.int64)
        vector[free] = common * weights
        # Reduced row i reads scale_i * x[pivot_i] + (free entries) . x[free] = 0.
        vector[self.pivot_columns] = -(common // self.scale) * (self.reduced[:, free] @ weights)
        return vector

    def combination(self, columns: list[int]) -> IntArray | None:
        """Integer row weights giving a multiple of the columns' indicator, or None if none do."""
        # Only an echelon made with ``track`` knows the weights; without, non-None is a yes.
        target = np.zeros(self.columns, dtype=np.int64)
        target[columns] = 1
        coefficients = (self.common // self.scale) * target[self.pivot_columns]
        if not np.array_equal(coefficients @ self.reduced, self.common * target):
            return None
        return np.asarray(coefficients @ self.transform, dtype=np.int64)


def zero_sum_sets(vector: IntArray, people: IntArray, k: int) -> list[tuple[int, ...]] | None:
    """Every set of 1..k-1 people over which the vector sums to zero; None if too many to try."""
    small = np.flatnonzero(people < k)
    values, sizes = vector[small], people[small]
    if values.size and int(np.abs(values).max()) >= (1 << 62) // k:
        return None  # sums of up to k-1 entries must not overflow
    # A set of up to k-1 columns splits into two halves of at most k // 2 columns each.
    halves = _halves(values, sizes, k // 2, k - 1)
    if halves is None:
        return None
    members, sums, weights = halves
    # Only sums whose negation may be there can match; a table of low bits finds them cheaply.
    low_bits = (1 << 16) - 1
    here = (sums & low_bits).astype(np.intp)
    negated = (-sums & low_bits).astype(np.intp)
    maybe = np.flatnonzero(
        (np.bincount(here, minlength=low_bits + 1)[negated] > 0)
        | (np.bincount(negated, minlength=low_bits + 1)[here] > 0)
    )
    order = maybe[np.argsort(sums[maybe])]
    ranked = sums[order]
    # Look up the negated sums in ascending order too: sorted queries are much cheaper.
    low = np.searchsorted(ranked, -ranked[::-1], "left")
    counts = np.searchsorted(ranked, -ranked[::-1], "right") - low
    if counts.sum() > MAX_MATCHES:
        return None
    hit = np.flatnonzero(counts)
    counts, low = counts[hit], low[hit]
    first = np.repeat(order[::-1][hit], counts)
    second = order[np.arange(len(first)) + np.repeat(low - np.cumsum(counts) + counts, counts)]
    total = weights[first] + weights[second]
    keep = (total >= 1) & (total <= k - 1)
    a, b = members[first[keep]], members[second[keep]]
    overlap = ((a[:, :, None] == b[:, None, :]) & (a[:, :, None] >= 0)).any(axis=(1, 2))
    found = {
        tuple(sorted(int(small[c]) for c in (*x, *y) if c >= 0))
        for x, y in zip(a[~overlap].tolist(), b[~overlap].tolist(), strict=True)
    }
    return sorted(found, key=lambda s: (int(people[list(s)].sum()), s))


def _halves(
    values: IntArray, sizes: IntArray, most: int, limit: int
) -> tuple[IntArray, IntArray, IntArray] | None:
    """All sets of at most ``most`` columns and ``limit`` people: members, sums and people."""
    n = len(values)
    width = max(most, 1)
    if most <= 2:
        # The common case (k up to 5): the empty set, single columns and pairs.
        first, second = _pairs(n) if most == 2 else (np.zeros(0, np.intp),) * 2
        keep = sizes[first] + sizes[second] <= limit
        first, second = first[keep], second[keep]
        members = np.full((1 + n + len(first), width), -1, dtype=np.int64)
        members[1 : n + 1, 0] = np.arange(n)
        if most == 2:
            members[n + 1 :, 0], members[n + 1 :, 1] = first, second
        sums = np.concatenate([[0], values, values[first] + values[second]])
        weights = np.concatenate([[0], sizes, sizes[first] + sizes[second]])
        return members, sums.astype(np.int64), weights.astype(np.int64)
    levels = [np.full((1, width), -1, dtype=np.int64)]
    sums_by_level = [np.zeros(1, dtype=np.int64)]
    weights_by_level = [np.zeros(1, dtype=np.int64)]
    last = np.full(1, -1, dtype=np.int64)
    total = 1
    for depth in range(most):
        # Extending a set only by columns after its last lists each set once.
        counts = n - 1 - last
        parent = np.repeat(np.arange(len(last)), counts)
        column = np.arange(len(parent)) - np.repeat(np.cumsum(counts) - counts, counts)
        column += np.repeat(last + 1, counts)
        weight = weights_by_level[-1][parent] + sizes[column]
        keep = weight <= limit
        parent, column = parent[keep], column[keep]
        total += len(parent)
        if total > MAX_HALVES:
            return None
        level = levels[-1][parent]
        level[:, depth] = column
        levels.append(level)
        sums_by_level.append(sums_by_level[-1][parent] + values[column])
        weights_by_level.append(weight[keep])
        last = column
    return np.concatenate(levels), np.concatenate(sums_by_level), np.concatenate(weights_by_level)


def _pairs(n: int) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """The pairs i < j of n columns."""
    # Ordered by j, the pairs of n columns are the first n(n-1)/2 of those of any more.
    first, second = _pair_table(max(64, 1 << (n - 1).bit_length()))
    return first[: n * (n - 1) // 2], second[: n * (n - 1) // 2]


@lru_cache(maxsize=8)
def _pair_table(n: int) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """The pairs i < j of n columns, ordered by j and then i."""
    second = np.repeat(np.arange(n), np.arange(n))
    first = np.arange(len(second)) - np.repeat(np.cumsum(np.arange(n)) - np.arange(n), np.arange(n))
    first.flags.writeable = second.flags.writeable = False
    return first, second
