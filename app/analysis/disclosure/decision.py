"""The decision: which cells of one place, pulse and dimension are published.

A cell over fewer than k respondents is never published (the threshold). The rest are
added one at a time in an order, each kept only if the cells published with it still pass
the exact test (``split``, the test of ``audit`` split by team):

1. quickly, when every atom of the published cells weighs 0 or at least k (no combination
   can then involve fewer than k people: it is constant on atoms);
2. otherwise by the exact test. The first pass adds every cell that the quick test
   accepts; the cells it turned down are then tried again, one by one, with the test
   (typically a place's segments whose teams' own segments are too small to publish).

The order of policy: teams' wholes, largest first (teams are where people intervene), then
the place's whole, then segments, largest first. A greedy order is not always the best,
so a place with at most ``TRY_ORDERS_UP_TO`` candidate cells also tries three other orders
(teams' cells before the place's; the place's before the teams'; smallest first) and keeps
whichever publishes the most cells, the order of policy winning ties. (Finding the largest
safe set exactly is an integer programme; ``bench/disclosure.py`` measures how close this
comes to it.)

Adding cells only ever enlarges the row space, so a set that fails the test fails with any
cell added; each order therefore ends on a set that passes, and that no single cell can be
added to. Cells already published (a revision's first publication) are fixed: they are
never withdrawn, only added to.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from app.analysis.disclosure.atoms import atoms
from app.analysis.disclosure.split import SplitTest

TEAM_WHOLE, PLACE_WHOLE, SEGMENT = 0, 1, 2  # added first to last in the order of policy
# Places with at most this many candidate cells try several orders (see above).
TRY_ORDERS_UP_TO = 40


@dataclass(frozen=True)
class Problem:
    """Cells over groups of respondents: what a decision reads."""

    incidence: NDArray[np.bool_]  # groups x cells
    sizes: NDArray[np.int64]  # respondents per group
    value: NDArray[np.int64]  # a cell's rank in the order of policy (lowest goes first)
    kind: NDArray[np.int64]  # TEAM_WHOLE, PLACE_WHOLE or SEGMENT
    fixed: NDArray[np.bool_]  # cells published already, kept whatever the decision
    eligible: NDArray[np.bool_]  # cells that may be published (not withheld for good)
    team: NDArray[np.intp]  # each group's team (0, 1, ...)
    owner: NDArray[np.intp]  # each cell's team, or -1 for a cell of the place


def decide(problem: Problem, k: int) -> NDArray[np.bool_]:
    """Which cells are published: greedily, in the order that publishes the most."""
    p = problem
    n = np.asarray(p.sizes @ p.incidence, dtype=np.int64)
    candidates = p.eligible & (n >= k) & ~p.fixed
    test = SplitTest(p.incidence, p.sizes, p.team, p.owner, k)
    orders = [np.argsort(p.value, kind="stable")]
    if candidates.sum() <= TRY_ORDERS_UP_TO:
        segment, place = p.kind == SEGMENT, p.owner < 0
        orders += [
            np.lexsort((p.value, -n, segment, place)),  # the teams' cells first
            np.lexsort((p.value, -n, segment, ~place)),  # the place's cells first
            np.lexsort((p.value, n, p.kind)),  # smallest first
        ]
    best = None
    for order in orders:
        published = _greedy(p, k, [int(c) for c in order if candidates[c]], test)
        if best is None or published.sum() > best.sum():
            best = published
    assert best is not None
    return best


def _greedy(p: Problem, k: int, candidates: list[int], test: SplitTest) -> NDArray[np.bool_]:
    """The cells published by adding candidates in this order while the test passes."""
    published = p.fixed.copy()
    twins = _twins(p.incidence)
    classes = _Classes.of(p, published)
    deferred = []
    for cell in candidates:
        if published[cell]:
            continue
        added = np.flatnonzero((twins == twins[cell]) & p.eligible & ~published)
        refined = classes.refined(added)
        if refined.heavy(k):
            published[added] = True
            classes = refined
        else:
            deferred.append(cell)
    for cell in deferred:
        if published[cell]:
            continue
        trial = published | ((twins == twins[cell]) & p.eligible)
        if test.passes(trial):
            published = trial
    return published


@dataclass(frozen=True)
class _Classes:
    """The atoms of a set of cells as each group's class (-1: in no cell of the set)."""

    p: Problem
    classes: NDArray[np.intp]

    @classmethod
    def of(cls, p: Problem, published: NDArray[np.bool_]) -> _Classes:
        return cls(p, atoms(p.incidence[:, np.flatnonzero(published)])[1])

    def refined(self, cells: NDArray[np.intp]) -> _Classes:
        """The atoms once these cells are added (groups in the same cells stay together)."""
        labels = self.classes.astype(np.int64) + 1  # 0: in no cell, throughout
        for cell in cells.tolist():
            labels = labels * 2 + self.p.incidence[:, cell]
            _, labels = np.unique(labels, return_inverse=True)
        covered = (self.classes >= 0) | self.p.incidence[:, cells].any(axis=1)
        return _Classes(self.p, np.where(covered, labels, -1).astype(np.intp))

    def heavy(self, k: int) -> bool:
        """Whether every atom weighs at least k (a sufficient test of the exact one)."""
        seen = self.classes >= 0
        people = np.bincount(self.classes[seen], self.p.sizes[seen])
        return bool((people[people > 0] >= k).all())


def _twins(incidence: NDArray[np.bool_]) -> NDArray[np.intp]:
    """For each cell, the first cell with the same members: the same equation, published
    together (in a place of one team, the place is that team)."""
    packed = np.ascontiguousarray(np.packbits(incidence.T, axis=1))
    keys = packed.view(np.dtype((np.void, packed.shape[1]))).ravel()
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    return np.asarray(first[inverse.ravel()], dtype=np.intp)
