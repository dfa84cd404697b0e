"""The decision: which cells of one place, pulse and dimension are published.

A cell over fewer than k respondents is never published (the threshold). Of the rest, the
decision keeps as many as the test of ``audit`` allows: the quick rules below settle the
common cases (a group against its shown parts), then the exact audit suppresses one more
cell for each exposure it finds, until it finds none. The cell suppressed is the cheapest
that breaks the exposure: segments before wholes, smaller before larger, and the place's
whole before a team's (teams are where people intervene). Cells already published (a
revision's first publication) are fixed: they are never withdrawn, only added to.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from app.analysis.disclosure.atoms import atoms, weights
from app.analysis.disclosure.audit import exposes, exposure

Relation = tuple[int, tuple[int, ...], bool]  # a group, its parts, whether a breakdown


@dataclass(frozen=True)
class Problem:
    """Cells over groups of respondents: what a decision reads."""

    incidence: NDArray[np.bool_]  # groups x cells
    sizes: NDArray[np.int64]  # respondents per group
    cost: NDArray[np.int64]  # a cell's rank in the order of suppression (lowest goes first)
    fixed: NDArray[np.bool_]  # cells published already, kept whatever the decision
    eligible: NDArray[np.bool_]  # cells that may be published (not withheld for good)
    teams: NDArray[np.intp]  # each group's team: a victim is sought among its teams' cells
    relations: Sequence[Relation] = ()


def decide(problem: Problem, k: int) -> NDArray[np.bool_]:
    """Which cells are published: the threshold, the quick rules, then the exact audit."""
    p = problem
    n = np.asarray(p.sizes @ p.incidence, dtype=np.int64)
    published = p.fixed | (p.eligible & (n >= k))
    twins = _twins(p.incidence)
    # A cell costs as many cells as it has twins (suppressing it suppresses them), then
    # its place in the order of suppression.
    copies = np.bincount(twins, minlength=len(twins))[twins]
    order = np.lexsort((p.cost, copies))
    cost = np.empty(len(order), dtype=np.int64)
    cost[order] = np.arange(len(order))
    p = replace(p, cost=cost)
    while True:
        _complements(p, n, k, published)
        _together(published, twins, p.fixed)
        shown = np.flatnonzero(published)
        matrix, classes = atoms(p.incidence[:, shown])
        found = exposure(matrix, weights(classes, p.sizes, matrix.shape[1]), k)
        if found is None:
            return published
        victim = _victim(p, published, np.isin(classes, found.atoms), twins)
        published[(twins == twins[victim]) & ~p.fixed] = False


def _together(
    published: NDArray[np.bool_], twins: NDArray[np.intp], fixed: NDArray[np.bool_]
) -> None:
    """Twins go together: suppressed where one of them is (fixed cells stay)."""
    suppressed = np.zeros(len(published), dtype=bool)
    np.logical_or.at(suppressed, twins, ~published)
    published &= ~suppressed[twins]
    published |= fixed


def _twins(incidence: NDArray[np.bool_]) -> NDArray[np.intp]:
    """For each cell, the first cell with the same members (the same equation, published
    or suppressed together: in a place of one team, the place is that team)."""
    packed = np.ascontiguousarray(np.packbits(incidence.T, axis=1))
    keys = packed.view(np.dtype((np.void, packed.shape[1]))).ravel()
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    return np.asarray(first[inverse.ravel()], dtype=np.intp)


def _complements(p: Problem, n: NDArray[np.int64], k: int, published: NDArray[np.bool_]) -> None:
    """A published group whose shown parts leave 1..k-1 people: suppress until they do not.

    For a sum of teams the group goes (one cell, and the teams stay); for a breakdown of a
    group by one attribute the smallest parts go until the rest is empty or large enough.
    """
    changed = True
    while changed:
        changed = False
        for group, parts, breakdown in p.relations:
            if not published[group]:
                continue
            shown = [c for c in parts if published[c]]
            hidden = int(n[group]) - sum(int(n[c]) for c in shown)
            if not 0 < hidden < k:
                continue
            if not breakdown and not p.fixed[group]:
                published[group] = False
                changed = True
                continue
            for cell in sorted((c for c in shown if not p.fixed[c]), key=p.cost.__getitem__):
                published[cell] = False
                changed = True
                hidden += int(n[cell])
                if hidden >= k:
                    break
            else:
                if hidden < k and not p.fixed[group]:
                    published[group] = False
                    changed = True


def _victim(
    p: Problem, published: NDArray[np.bool_], exposed: NDArray[np.bool_], twins: NDArray[np.intp]
) -> int:
    """The cheapest published cell whose suppression breaks the exposure of these groups.

    The cells tried are those over the exposed groups' teams: a combination isolating some
    people of a team can use cells that do not hold them (trust - nursing), but not cells
    of other teams alone.
    """
    shown = np.flatnonzero(published & ~p.fixed)
    near = np.isin(p.teams, p.teams[exposed])
    touching = shown[p.incidence[np.ix_(near, shown)].any(axis=0)]
    ordered: list[int] = sorted(touching.tolist(), key=p.cost.__getitem__)
    for cell in ordered:
        trial = published.copy()
        trial[(twins == twins[cell]) & ~p.fixed] = False
        if not _still_exposed(p, trial, exposed):
            return cell
    if ordered:
        return ordered[0]
    if shown.size == 0:
        raise ValueError("the fixed cells alone expose fewer than k people")
    return int(min(shown.tolist(), key=p.cost.__getitem__))


def _still_exposed(p: Problem, published: NDArray[np.bool_], exposed: NDArray[np.bool_]) -> bool:
    """Whether some combination of the published cells lies inside the exposed groups."""
    matrix, classes = atoms(p.incidence[:, np.flatnonzero(published)])
    outside = np.unique(classes[~exposed & (classes >= 0)])
    inside = np.setdiff1d(np.unique(classes[exposed & (classes >= 0)]), outside)
    return inside.size > 0 and exposes(matrix, inside.tolist())
