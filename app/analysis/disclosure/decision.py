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
whichever publishes the most cells, the order of policy winning ties; an order that
publishes every candidate ends the search, as none can publish more. (Finding the largest
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
    twins = _twins(p.incidence)
    most = int((candidates | p.fixed).sum())  # what any order publishes at most
    best = None
    for order in orders:
        published = _greedy(p, k, [int(c) for c in order if candidates[c]], test, twins)
        if best is None or published.sum() > best.sum():
            best = published
        if best.sum() == most:
            break  # no other order can publish more
    assert best is not None
    return best


def _greedy(
    p: Problem, k: int, candidates: list[int], test: SplitTest, twins: NDArray[np.intp]
) -> NDArray[np.bool_]:
    """The cells published by adding candidates in this order while the test passes."""
    published = p.fixed.copy()
    classes = _Classes.of(p, published)
    deferred = []
    for cell in candidates:
        if published[cell]:
            continue
        if classes.heavy_with(cell, k):
            # The cell's twins have its members: they refine the atoms no further.
            added = np.flatnonzero((twins == twins[cell]) & p.eligible & ~published)
            published[added] = True
            classes = classes.refined(cell)
        else:
            deferred.append(cell)
    for cell in deferred:
        if published[cell]:
            continue
        trial = published | ((twins == twins[cell]) & p.eligible)
        if test.passes(trial):
            published = trial
    return published


class _Classes:
    """The atoms of a set of cells: each group's class (-1: in no cell of the set), and
    each class's respondents."""

    def __init__(self, p: Problem, classes: NDArray[np.intp]) -> None:
        self.p = p
        self.classes = classes
        seen = classes >= 0
        self.count = int(classes.max(initial=-1)) + 1
        self.people = np.bincount(classes[seen], p.sizes[seen], self.count).astype(np.int64)

    @classmethod
    def of(cls, p: Problem, published: NDArray[np.bool_]) -> _Classes:
        return cls(p, atoms(p.incidence[:, np.flatnonzero(published)])[1])

    def heavy_with(self, cell: int, k: int) -> bool:
        """Whether every atom weighs 0 or at least k once this cell is added (a sufficient
        test of the exact one): each atom splits into its part in the cell and the rest,
        and the groups the cell is the first to cover make one atom more."""
        members = self.p.incidence[:, cell]
        classes = self.classes[members]
        sizes = self.p.sizes[members]
        new = classes < 0
        fresh = int(sizes[new].sum())
        if 0 < fresh < k:
            return False
        inside = np.bincount(classes[~new], sizes[~new], self.count)
        parts = np.concatenate([inside, self.people - inside])
        return bool(((parts == 0) | (parts >= k)).all())

    def refined(self, cell: int) -> _Classes:
        """The atoms once this cell is added (groups in the same cells stay together)."""
        members = self.p.incidence[:, cell]
        labels = (self.classes.astype(np.int64) + 1) * 2 + members  # 0: in no cell, still
        used = np.zeros(2 * self.count + 2, dtype=bool)
        used[labels] = True
        renumber = np.cumsum(used) - 1
        covered = (self.classes >= 0) | members
        return _Classes(self.p, np.where(covered, renumber[labels], -1).astype(np.intp))


def _twins(incidence: NDArray[np.bool_]) -> NDArray[np.intp]:
    """For each cell, the first cell with the same members: the same equation, published
    together (in a place of one team, the place is that team)."""
    packed = np.ascontiguousarray(np.packbits(incidence.T, axis=1))
    keys = packed.view(np.dtype((np.void, packed.shape[1]))).ravel()
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    return np.asarray(first[inverse.ravel()], dtype=np.intp)
