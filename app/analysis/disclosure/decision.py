"""The decision: which cells of one place, pulse and dimension are published.

A cell over fewer than k respondents is never published (the threshold). The rest are
added one at a time, most valuable first (teams' wholes, largest first, since teams are
where people intervene; then the place's whole; then segments, largest first), each kept
only if the cells published with it still pass the test of ``audit``:

1. quickly, when every atom of the published cells weighs 0 or at least k (no combination
   can then involve fewer than k people: it is constant on atoms);
2. otherwise by the exact audit. The first pass adds every cell that the quick test
   accepts; the cells it turned down are then tried again, one by one, with the audit
   (typically a place's segments whose teams' own segments are too small to publish).

Adding cells only ever enlarges the row space, so a set that fails the test fails with any
cell added; the greedy order therefore ends on a set that passes, and that no single cell
can be added to. Cells already published (a revision's first publication) are fixed: they
are never withdrawn, only added to.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from app.analysis.disclosure.atoms import atoms, weights
from app.analysis.disclosure.audit import exposure


@dataclass(frozen=True)
class Problem:
    """Cells over groups of respondents: what a decision reads."""

    incidence: NDArray[np.bool_]  # groups x cells
    sizes: NDArray[np.int64]  # respondents per group
    value: NDArray[np.int64]  # a cell's rank in the order of adding (lowest goes first)
    fixed: NDArray[np.bool_]  # cells published already, kept whatever the decision
    eligible: NDArray[np.bool_]  # cells that may be published (not withheld for good)


def decide(problem: Problem, k: int) -> NDArray[np.bool_]:
    """Which cells are published: greedily, most valuable first, while the test passes."""
    p = problem
    n = np.asarray(p.sizes @ p.incidence, dtype=np.int64)
    published = p.fixed.copy()
    twins = _twins(p.incidence)
    candidates = [int(c) for c in np.argsort(p.value, kind="stable") if p.eligible[c] and n[c] >= k]
    deferred = []
    for cell in candidates:
        if published[cell]:
            continue
        trial = published | ((twins == twins[cell]) & p.eligible)
        if _heavy(p, trial, k):
            published = trial
        else:
            deferred.append(cell)
    for cell in deferred:
        if published[cell]:
            continue
        trial = published | ((twins == twins[cell]) & p.eligible)
        if _passes(p, trial, k):
            published = trial
    return published


def _heavy(p: Problem, published: NDArray[np.bool_], k: int) -> bool:
    """Whether every atom of these cells weighs at least k (a sufficient test)."""
    _, classes = atoms(p.incidence[:, np.flatnonzero(published)])
    seen = classes >= 0
    people = np.bincount(classes[seen], p.sizes[seen])
    return bool((people[people > 0] >= k).all())


def _passes(p: Problem, published: NDArray[np.bool_], k: int) -> bool:
    """The exact test: no combination of these cells involves 1..k-1 people."""
    matrix, classes = atoms(p.incidence[:, np.flatnonzero(published)])
    return exposure(matrix, weights(classes, p.sizes, matrix.shape[1]), k) is None


def _twins(incidence: NDArray[np.bool_]) -> NDArray[np.intp]:
    """For each cell, the first cell with the same members: the same equation, published
    together (in a place of one team, the place is that team)."""
    packed = np.ascontiguousarray(np.packbits(incidence.T, axis=1))
    keys = packed.view(np.dtype((np.void, packed.shape[1]))).ravel()
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    return np.asarray(first[inverse.ravel()], dtype=np.intp)
