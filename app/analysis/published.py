"""The published cells of a snapshot, place by place, with their moments.

A place's decision depends only on its respondents per profile, so the dimensions (and
pulses) of a place with the same counts share one decision: most respondents answer all
five. Scores are read into arrays once per pulse and dimension, and each published cell's
moments are summed by ``bincount``, which adds in the order given, as ``cell_moments`` does.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from app.analysis.cells import TEAM, CellKey, Profile, place_of
from app.analysis.disclosure import Layout, PlaceCells, place_cells
from app.analysis.snapshot import Snapshot
from app.analysis.stats import Moments
from app.vocab import DIMENSIONS


@dataclass(frozen=True)
class _Scores:
    """One pulse and dimension: each profile's moments as arrays, and each place's profiles."""

    source: int  # scores with the same source list the same profiles in the same order
    profiles: list[Profile]
    n: NDArray[np.int64]
    total: NDArray[np.float64]
    total_sq: NDArray[np.float64]
    places: dict[str, NDArray[np.intp]]  # positions of a place's profiles with n > 0

    @classmethod
    def read(
        cls, moments: Mapping[Profile, Moments], team_place: Mapping[str, str], like: _Scores | None
    ) -> _Scores:
        """The arrays of some scores, grouped like ``like`` when they list the same profiles."""
        values = moments.values()
        n = np.fromiter((m.n for m in values), np.int64, len(moments))
        total = np.fromiter((m.total for m in values), np.float64, len(moments))
        total_sq = np.fromiter((m.total_sq for m in values), np.float64, len(moments))
        if like is not None and list(moments) == like.profiles:
            places = {place: rows[n[rows] > 0] for place, rows in like.places.items()}
            return cls(like.source, like.profiles, n, total, total_sq, places)
        profiles = list(moments)
        grouped: dict[str, list[int]] = defaultdict(list)
        for row, profile in enumerate(profiles):
            grouped[place_of(profile, team_place)].append(row)
        places = {}
        for place, listed in grouped.items():
            rows = np.array(listed, dtype=np.intp)
            places[place] = rows[n[rows] > 0]
        return cls(id(profiles), profiles, n, total, total_sq, places)


class Published:
    """The published cells of each place, pulse and dimension, computed once each."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.k = snapshot.k
        self.team_place = {team.code: team.place for team in snapshot.teams}
        self.scores: dict[tuple[str, str], _Scores] = {}
        profiles: dict[str, dict[Profile, None]] = defaultdict(dict)
        for pulse in (snapshot.pulse, *snapshot.earlier):
            like = None
            for dimension in DIMENSIONS:
                moments = snapshot.scores.get((pulse.key, dimension), {})
                scores = _Scores.read(moments, self.team_place, like)
                if like is None or scores.source != like.source:
                    # One layout per place serves every pulse: it knows all their profiles.
                    for place, rows in scores.places.items():
                        profiles[place].update(dict.fromkeys(scores.profiles[r] for r in rows))
                if like is None or not like.profiles:
                    like = scores
                self.scores[(pulse.key, dimension)] = scores
        self.layouts = {place: Layout(place, listed) for place, listed in profiles.items()}
        self.decisions: dict[tuple[int, str, bytes, bytes], PlaceCells] = {}
        self.cache: dict[tuple[str, str, str], dict[CellKey, Moments]] = {}

    def cells(self, pulse: str, dimension: str, place: str) -> dict[CellKey, Moments]:
        """The published cells of a place in a pulse and dimension, with their moments."""
        key = (pulse, dimension, place)
        if key not in self.cache:
            scores = self.scores.get((pulse, dimension))
            rows = scores.places.get(place) if scores is not None else None
            if scores is None or rows is None or rows.size == 0:
                self.cache[key] = {}
            else:
                decision = self.decide(scores, place, rows)
                sums = decision.sums(scores.n[rows], scores.total[rows], scores.total_sq[rows])
                self.cache[key] = {
                    cell: Moments(int(n), float(total), float(total_sq))
                    for cell, n, total, total_sq in zip(decision.cells, *sums, strict=True)
                }
        return self.cache[key]

    def present(self, pulse: str, dimension: str, place: str) -> list[CellKey]:
        """Every non-empty cell of a place in a pulse and dimension, published or not."""
        return list(self.sizes(pulse, dimension, place))

    def sizes(self, pulse: str, dimension: str, place: str) -> dict[CellKey, int]:
        """The respondents of every non-empty cell of a place in a pulse and dimension."""
        scores = self.scores.get((pulse, dimension))
        rows = scores.places.get(place) if scores is not None else None
        if scores is None or rows is None or rows.size == 0:
            return {}
        layout = self.layouts[place]
        positions = np.fromiter(
            (layout.profiles[scores.profiles[r]] for r in rows.tolist()), np.intp, rows.size
        )
        sizes = layout.sizes(positions, scores.n[rows])
        cells = np.flatnonzero(sizes)
        return {
            layout.cell_key(cell): n
            for cell, n in zip(cells.tolist(), sizes[cells].tolist(), strict=True)
        }

    def decide(self, scores: _Scores, place: str, rows: NDArray[np.intp]) -> PlaceCells:
        """The decision for a place's counts, shared by every dimension with the same ones."""
        counts = scores.n[rows]
        key = (scores.source, place, rows.tobytes(), counts.tobytes())
        if key not in self.decisions:
            counted = dict(zip([scores.profiles[r] for r in rows], counts.tolist(), strict=True))
            self.decisions[key] = place_cells(self.layouts[place], counted, self.k)
        return self.decisions[key]

    def reportable(self, pulse: str, team: str) -> bool:
        """Whether a team's own aggregate was published on some dimension of a pulse."""
        place = self.team_place[team]
        return any(CellKey(TEAM, team) in self.cells(pulse, d, place) for d in DIMENSIONS)


class PlaceView:
    """One place's published cells by pulse and dimension: a place's rules read nothing else."""

    def __init__(self, published: Published | KeptCells, place: str) -> None:
        self.published, self.place = published, place

    def __call__(self, pulse: str, dimension: str) -> Mapping[CellKey, Moments]:
        return self.published.cells(pulse, dimension, self.place)

    def reportable(self, pulse: str, team: str) -> bool:
        """Whether a team's own aggregate was published on some dimension of a pulse."""
        return self.published.reportable(pulse, team)


class KeptCells:
    """Published cells kept in the ledger, read back: what the rules read of closed pulses.

    ``cells`` holds, per (pulse, dimension, place), the published cells and their moments;
    ``team_place`` is the structure of the pulse the rules run for.
    """

    def __init__(
        self,
        cells: Mapping[tuple[str, str, str], Mapping[CellKey, Moments]],
        team_place: Mapping[str, str],
    ) -> None:
        self.kept, self.team_place = cells, team_place
        self.teams = {
            (pulse, subject)
            for (pulse, _, _), shown in cells.items()
            for key in shown
            if key.scope == TEAM and key.segment_type is None
            for subject in [key.subject]
        }

    def cells(self, pulse: str, dimension: str, place: str) -> Mapping[CellKey, Moments]:
        """The published cells of a place in a pulse and dimension, with their moments."""
        return self.kept.get((pulse, dimension, place), {})

    def reportable(self, pulse: str, team: str) -> bool:
        """Whether a team's own aggregate was published on some dimension of a pulse."""
        return (pulse, team) in self.teams
