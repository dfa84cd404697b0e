"""The cells a place can have, and how they relate, laid out once for many decisions.

A layout covers every profile a place has in any pulse or dimension; a decision then
reads only the cells its respondents fill. Cells are numbered in key order; relations
(a group and its parts) are those ``disclosure`` suppresses by, in the order it applies
them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from app.analysis.cells import PLACE, SEGMENT_TYPES, TEAM, CellKey, Profile

Key = tuple[str, str, str | None, str | None]  # a CellKey's fields, cheaper to hash


@dataclass(frozen=True)
class Relation:
    """A group whose respondents are its parts plus, possibly, people in no part."""

    group: int
    parts: tuple[int, ...]
    breakdown: bool  # a breakdown of a group by one attribute, not a sum of teams


class Layout:
    """The possible cells of one place, its profiles, and which cells each profile is in."""

    def __init__(self, place: str, profiles: Iterable[Profile]) -> None:
        self.profiles: dict[Profile, int] = {}
        self.profile_team: list[str] = []  # each profile's team, by number
        keys: set[Key] = set()
        cells_of: list[list[Key]] = []
        for profile in profiles:
            if profile in self.profiles:
                continue
            self.profiles[profile] = len(cells_of)
            self.profile_team.append(profile.team)
            team = profile.team
            cells: list[Key] = [(TEAM, team, None, None), (PLACE, place, None, None)]
            for segment_type in SEGMENT_TYPES:
                segment = getattr(profile, segment_type)
                if segment is not None:
                    cells.append((TEAM, team, segment_type, segment))
                    cells.append((PLACE, place, segment_type, segment))
            keys.update(cells)
            cells_of.append(cells)
        # CellKey order: None (the whole group) sorts first.
        self.keys: list[Key] = sorted(keys, key=_sortable)
        number = {key: cell for cell, key in enumerate(self.keys)}
        rows = [row for row, cells in enumerate(cells_of) for _ in cells]
        columns = [number[key] for cells in cells_of for key in cells]
        self.incidence = np.zeros((len(cells_of), len(self.keys)), dtype=bool)
        self.incidence[rows, columns] = True
        self.rows = np.array(rows, dtype=np.intp)  # (profile, cell) pairs, profile by profile
        self.columns = np.array(columns, dtype=np.intp)
        self.segment = np.array([key[2] is not None for key in self.keys], dtype=bool)
        self.relations = _relations(place, self.keys, number)
        self.cell_keys: dict[int, CellKey] = {}

    def cell_key(self, cell: int) -> CellKey:
        """The CellKey of a cell number."""
        if cell not in self.cell_keys:
            self.cell_keys[cell] = CellKey(*self.keys[cell])
        return self.cell_keys[cell]

    def sizes(self, present: NDArray[np.intp], counts: NDArray[np.int64]) -> NDArray[np.int64]:
        """Respondents per cell, given the rows of the profiles present and their counts."""
        weights = np.zeros(len(self.profiles), dtype=np.int64)
        weights[present] = counts
        total = np.bincount(self.columns, weights[self.rows], minlength=len(self.keys))
        return total.astype(np.int64)


def _sortable(key: Key) -> tuple[str, ...]:
    return tuple("" if value is None else value for value in key)


def _relations(place: str, keys: list[Key], number: dict[Key, int]) -> list[Relation]:
    """Each group with its parts: sums over teams, and breakdowns by attribute."""
    teams = tuple(cell for cell, key in enumerate(keys) if key[0] == TEAM and key[2] is None)
    relations = [Relation(number[(PLACE, place, None, None)], teams, breakdown=False)]
    segments: dict[tuple[str, str, str], list[int]] = defaultdict(list)
    by_team: dict[Key, list[int]] = defaultdict(list)
    for cell, (scope, subject, segment_type, segment) in enumerate(keys):
        if segment_type is not None:
            segments[(scope, subject, segment_type)].append(cell)
            if scope == TEAM:
                by_team[(PLACE, place, segment_type, segment)].append(cell)
    for (scope, subject, _), parts in sorted(segments.items()):
        relations.append(Relation(number[(scope, subject, None, None)], tuple(parts), True))
    for group, parts in sorted(by_team.items(), key=lambda item: _sortable(item[0])):
        relations.append(Relation(number[group], tuple(parts), breakdown=False))
    return relations
