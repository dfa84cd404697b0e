"""The published cells of a place: the decision of ``decision`` on a place's layout."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from app.analysis.cells import TEAM, CellKey, Profile, cell_moments, place_of
from app.analysis.disclosure.decision import PLACE_WHOLE, SEGMENT, TEAM_WHOLE, Problem, decide
from app.analysis.disclosure.layout import Layout
from app.analysis.stats import Moments


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


def place_problem(
    layout: Layout, present: NDArray[np.intp], sizes: NDArray[np.int64]
) -> tuple[Problem, NDArray[np.intp]]:
    """The decision problem of a place's non-empty cells, and those cells (layout numbers)."""
    incidence = layout.incidence[present]
    cells = np.flatnonzero(incidence.any(axis=0))
    incidence = incidence[:, cells]
    n = sizes @ incidence
    kind = np.array([_kind(layout.keys[c]) for c in cells.tolist()], dtype=np.int64)
    order = np.lexsort((cells, -n, kind))  # added first: team wholes, large ones first
    value = np.empty(len(cells), dtype=np.int64)
    value[order] = np.arange(len(cells))
    none = np.zeros(len(cells), dtype=bool)
    team, owner = teams_of(
        [layout.profile_team[r] for r in present.tolist()], [layout.keys[c] for c in cells.tolist()]
    )
    return Problem(incidence, sizes, value, kind, none, ~none, team, owner), cells


def teams_of(
    group_teams: list[str], keys: list[tuple[str, str, str | None, str | None]]
) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Each group's team number, and each cell's (-1 for the place's cells)."""
    number: dict[str, int] = {}
    team = np.array([number.setdefault(t, len(number)) for t in group_teams], dtype=np.intp)
    owner = np.array(
        [number.setdefault(key[1], len(number)) if key[0] == TEAM else -1 for key in keys],
        dtype=np.intp,
    )
    return team, owner


def _kind(key: tuple[str, str, str | None, str | None]) -> int:
    if key[2] is not None:
        return SEGMENT
    return TEAM_WHOLE if key[0] == "team" else PLACE_WHOLE


def place_cells(layout: Layout, counts: Mapping[Profile, int], k: int) -> PlaceCells:
    """The published cells of a laid-out place, given its respondents per profile (all > 0)."""
    present = np.fromiter((layout.profiles[p] for p in counts), np.intp, len(counts))
    sizes = np.fromiter(counts.values(), np.int64, len(counts))
    problem, cells = place_problem(layout, present, sizes)
    shown = cells[decide(problem, k)]
    # Pairs in the given order of profiles, so that sums run over them as cell_moments does.
    position = np.full(len(layout.profiles), -1)
    position[present] = np.arange(len(present))
    column = np.full(len(layout.keys), -1)
    column[shown] = np.arange(len(shown))
    rows, columns = position[layout.rows], column[layout.columns]
    keep = (rows >= 0) & (columns >= 0)
    order = np.argsort(rows[keep], kind="stable")
    return PlaceCells(
        tuple(layout.cell_key(cell) for cell in shown.tolist()),
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
