"""Which aggregates of one pulse and one dimension may be published (DESIGN section 3).

Every cell is a sum over respondents, so the principle is linear: no combination of
published cells may be the total of 1..k-1 people. Places share no cell, so each place
is decided on its own.

``publishable`` applies the rules of section 3 to a fixpoint (threshold; each segment
against the rest of its group; the place against its teams; place x segment against
team x segment, in both directions), then audits the result exactly and suppresses one
more segment for each leak the rules cannot see (segments of different types that nest,
such as every nurse of a team being employed by the trust), until the audit finds none.
Where a choice is open, the place figure is kept and the smallest part is suppressed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from app.analysis.audit import in_row_space, joint_classes, small_combination
from app.analysis.cells import (
    PLACE,
    SEGMENT_TYPES,
    TEAM,
    CellKey,
    Profile,
    cell_counts,
    cell_moments,
    place_of,
    role_group,
)
from app.analysis.layout import Layout
from app.analysis.stats import Moments

__all__ = [
    "PLACE",
    "SEGMENT_TYPES",
    "TEAM",
    "CellKey",
    "Layout",
    "PlaceCells",
    "Profile",
    "cell_counts",
    "cell_moments",
    "disclose",
    "place_cells",
    "publishable",
    "role_group",
]


def publishable(
    counts: Mapping[Profile, int], team_place: Mapping[str, str], k: int
) -> frozenset[CellKey]:
    """The cells that may be published, given the respondents per profile and threshold k."""
    if k < 1:
        raise ValueError("k must be at least 1")
    by_place: dict[str, dict[Profile, int]] = defaultdict(dict)
    for profile, count in counts.items():
        if count > 0:
            by_place[place_of(profile, team_place)][profile] = count
    published: set[CellKey] = set()
    for place in sorted(by_place):
        published.update(place_cells(Layout(place, by_place[place]), by_place[place], k).cells)
    return frozenset(published)


def disclose(
    moments: Mapping[Profile, Moments], team_place: Mapping[str, str], k: int
) -> dict[CellKey, Moments | None]:
    """Every non-empty cell with its moments, or None where it is suppressed."""
    shown = publishable({p: m.n for p, m in moments.items()}, team_place, k)
    return {c: m if c in shown else None for c, m in cell_moments(moments, team_place).items()}


def place_cells(layout: Layout, counts: Mapping[Profile, int], k: int) -> PlaceCells:
    """The published cells of a laid-out place, given its respondents per profile (all > 0)."""
    present = np.fromiter((layout.profiles[p] for p in counts), np.intp, len(counts))
    sizes = np.fromiter(counts.values(), np.int64, len(counts))
    shown = _Decision(layout, present, sizes, k).decide()
    # Pairs in the given order of profiles, so that sums run over them as cell_moments does.
    position = np.full(len(layout.profiles), -1)
    position[present] = np.arange(len(present))
    column = np.full(len(layout.keys), -1)
    column[shown] = np.arange(len(shown))
    rows, columns = position[layout.rows], column[layout.columns]
    keep = (rows >= 0) & (columns >= 0)
    order = np.argsort(rows[keep], kind="stable")
    return PlaceCells(
        tuple(layout.cell_key(cell) for cell in shown),
        list(counts),
        rows[keep][order],
        columns[keep][order],
    )


@dataclass(frozen=True)
class PlaceCells:
    """The published cells of one place, and which of them each of its profiles counts in."""

    cells: tuple[CellKey, ...]
    profiles: list[Profile]
    rows: NDArray[np.intp]  # (profile, cell) pairs: positions in ``profiles`` and ``cells``
    columns: NDArray[np.intp]

    def sums(self, *values: NDArray[np.generic]) -> list[NDArray[np.float64]]:
        """Each published cell's sum of some per-profile values (given in ``profiles`` order)."""
        # bincount adds in the order given, so each sum runs over profiles as cell_moments does.
        size = len(self.cells)
        sums = (np.bincount(self.columns, np.asarray(v, float)[self.rows], size) for v in values)
        return [np.asarray(total, dtype=np.float64) for total in sums]


class _Decision:
    """The decision for the cells of one place and one set of counts."""

    def __init__(
        self, layout: Layout, present: NDArray[np.intp], counts: NDArray[np.int64], k: int
    ) -> None:
        self.layout, self.present, self.counts, self.k = layout, present, counts, k
        sizes = layout.sizes(present, counts)
        cells = np.flatnonzero(sizes)
        # Where a choice is open the smallest part goes first: rank by (size, key).
        ranked = cells[np.lexsort((cells, sizes[cells]))]
        rank = np.zeros(len(sizes), dtype=np.intp)
        rank[ranked] = np.arange(1, len(ranked) + 1)
        self.n: list[int] = sizes.tolist()
        self.rank: list[int] = rank.tolist()
        self.cells = cells
        self.relations: list[tuple[int, list[int], bool]] = []
        for relation in layout.relations:
            if self.rank[relation.group]:
                parts = sorted(
                    (c for c in relation.parts if self.rank[c]), key=self.rank.__getitem__
                )
                self.relations.append((relation.group, parts, relation.breakdown))

    def decide(self) -> list[int]:
        """Suppress by the rules, then for each leak the audit finds, until it finds none."""
        published = [size >= self.k for size in self.n]
        while True:
            self.suppress_complements(published)
            leak = self.audit(published)
            if leak is None:
                return [cell for cell in self.cells.tolist() if published[cell]]
            published[self.victim(*leak, published)] = False

    def suppress_complements(self, published: list[bool]) -> None:
        """Apply the complementary suppression rules until none changes anything."""
        n, k = self.n, self.k
        changed = True
        while changed:
            changed = False
            for group, parts, breakdown in self.relations:
                shown = [cell for cell in parts if published[cell]]
                if not published[group]:
                    # A suppressed group must not come back as the sum of its parts.
                    if breakdown and shown:
                        for cell in shown:
                            published[cell] = False
                        changed = True
                    elif shown and len(shown) == len(parts):
                        published[shown[0]] = False
                        changed = True
                    continue
                hidden = n[group] - sum(n[cell] for cell in shown)
                for cell in shown:
                    if not 0 < hidden < k:
                        break
                    # One more part suppressed keeps the group and the larger parts.
                    published[cell] = False
                    hidden += n[cell]
                    changed = True

    def classes(self, shown: list[int]) -> tuple[NDArray[np.int64], NDArray[np.intp]]:
        """The matrix of these cells over joint classes, and each present profile's class."""
        columns = np.array(shown, dtype=np.intp)
        return joint_classes(self.layout.incidence[np.ix_(self.present, columns)])

    def audit(self, published: list[bool]) -> tuple[list[int], NDArray[np.bool_]] | None:
        """The cells of a smallest leak and the profiles it reveals, or None if there is none."""
        shown = [cell for cell in self.cells.tolist() if published[cell]]
        matrix, classes = self.classes(shown)
        seen = classes >= 0
        people = np.bincount(classes[seen], self.counts[seen], matrix.shape[1]).astype(np.int64)
        found = small_combination(matrix, people, self.k)
        if found is None:
            return None
        return [shown[row] for row in found.rows], np.isin(classes, found.columns)

    def victim(self, cells: list[int], group: NDArray[np.bool_], published: list[bool]) -> int:
        """The smallest segment whose suppression breaks the leak, else the smallest used."""
        used = cells or [cell for cell in self.cells.tolist() if published[cell]]
        used = sorted(used, key=self.rank.__getitem__)
        segments = [cell for cell in used if self.layout.segment[cell]]
        for cell in segments:
            trial = published.copy()
            trial[cell] = False
            self.suppress_complements(trial)
            if not self.derivable(trial, group):
                return cell
        return (segments or used)[0]

    def derivable(self, published: list[bool], group: NDArray[np.bool_]) -> bool:
        """Whether the total over a group of profiles is a combination of published cells."""
        matrix, classes = self.classes([c for c in self.cells.tolist() if published[c]])
        # A combination takes one value on profiles in the same published cells, so the group
        # must be a union of such classes, and outside every published cell it must be empty.
        if (classes[group] < 0).any():
            return False
        chosen = np.unique(classes[group])
        if np.isin(classes[~group], chosen).any():
            return False
        return in_row_space(matrix, chosen.tolist())
