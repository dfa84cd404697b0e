"""The exact test of DESIGN section 3: do published cells combine to a small group's total?

Each cell is a sum over profiles (groups of respondents no cell tells apart), so a
combination of published cells is a vector over profiles. A leak is a combination that
equals the indicator of 1..k-1 people.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping
from dataclasses import dataclass

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp

from app.analysis.cells import CellKey, Profile

Members = Mapping[Profile, Collection[CellKey]]  # the cells each profile counts in


@dataclass(frozen=True)
class Leak:
    """Published cells that combine to the total of a small group, and that group."""

    cells: tuple[CellKey, ...]
    group: frozenset[Profile]


def find_leak(
    published: Collection[CellKey], members: Members, sizes: Mapping[Profile, int], k: int
) -> Leak | None:
    """A combination of published cells totalling 1..k-1 people, or None if there is none."""
    shown = sorted(published)
    column = {cell: i for i, cell in enumerate(shown)}
    # Profiles in the same published cells are indistinguishable to any combination.
    joint: dict[tuple[int, ...], list[Profile]] = defaultdict(list)
    for profile, cells in members.items():
        signature = tuple(sorted(column[c] for c in cells if c in column))
        if signature:
            joint[signature].append(profile)
    signatures = sorted(joint)
    people = [sum(sizes[p] for p in joint[signature]) for signature in signatures]
    small = [row for row, size in enumerate(people) if size < k]
    if not small:
        return None
    # An integer programme: weights y of published cells (free) and a 0/1 choice x of
    # small joint cells with sum(y * cells) equal to the indicator of the chosen ones and
    # 1..k-1 people chosen. Greedy rules cannot see every such pattern; this does.
    ys, xs = len(shown), len(small)
    equality = np.zeros((len(signatures), ys + xs))
    for row, signature in enumerate(signatures):
        equality[row, list(signature)] = 1.0
    for j, row in enumerate(small):
        equality[row, ys + j] = -1.0
    weight = np.r_[np.zeros(ys), [people[row] for row in small]]
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
    cells = tuple(c for c, y in zip(shown, result.x[:ys], strict=True) if abs(y) > 1e-6)
    chosen = [signatures[row] for row, x in zip(small, result.x[ys:], strict=True) if x > 0.5]
    return Leak(cells, frozenset(p for signature in chosen for p in joint[signature]))


def derivable(published: Collection[CellKey], members: Members, group: Collection[Profile]) -> bool:
    """Whether the total over a group of profiles is a combination of published cells."""
    shown = sorted(published)
    column = {cell: i for i, cell in enumerate(shown)}
    classes: dict[tuple[int, ...], set[bool]] = defaultdict(set)
    for profile, cells in members.items():
        classes[tuple(sorted(column[c] for c in cells if c in column))].add(profile in group)
    # A combination takes one value on profiles in the same published cells, so the group
    # must be a union of such classes, and outside every published cell it must be empty.
    if any(len(inside) > 1 for inside in classes.values()) or True in classes.get((), set()):
        return False
    signatures = [signature for signature in classes if signature]
    matrix = np.zeros((len(signatures), len(shown)))
    for row, signature in enumerate(signatures):
        matrix[row, list(signature)] = 1.0
    target = np.array([1.0 if True in classes[signature] else 0.0 for signature in signatures])
    if not target.any():
        return False
    weights = np.linalg.lstsq(matrix, target, rcond=None)[0]
    return bool(np.allclose(matrix @ weights, target, atol=1e-8))
