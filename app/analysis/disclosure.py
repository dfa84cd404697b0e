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
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from app.analysis.audit import Leak, derivable, find_leak
from app.analysis.cells import (
    PLACE,
    SEGMENT_TYPES,
    TEAM,
    CellKey,
    Profile,
    cell_counts,
    cell_moments,
    cells_of,
    place_of,
    role_group,
)
from app.analysis.stats import Moments

__all__ = [
    "PLACE",
    "SEGMENT_TYPES",
    "TEAM",
    "CellKey",
    "Profile",
    "cell_counts",
    "cell_moments",
    "disclose",
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
        published |= _Place(place, by_place[place], k).decide()
    return frozenset(published)


def disclose(
    moments: Mapping[Profile, Moments], team_place: Mapping[str, str], k: int
) -> dict[CellKey, Moments | None]:
    """Every non-empty cell with its moments, or None where it is suppressed."""
    shown = publishable({p: m.n for p, m in moments.items()}, team_place, k)
    return {c: m if c in shown else None for c, m in cell_moments(moments, team_place).items()}


@dataclass(frozen=True)
class _Relation:
    """A group whose respondents are its parts plus, possibly, people in no part."""

    group: CellKey
    parts: tuple[CellKey, ...]
    breakdown: bool  # a breakdown of a group by one attribute, not a sum of teams


class _Place:
    """The decision for the cells of one place."""

    def __init__(self, place: str, counts: Mapping[Profile, int], k: int) -> None:
        self.k = k
        self.counts = counts
        self.members = {profile: tuple(cells_of(profile, place)) for profile in counts}
        self.n: dict[CellKey, int] = defaultdict(int)
        for profile, cells in self.members.items():
            for cell in cells:
                self.n[cell] += counts[profile]
        self.relations = list(_relations(place, self.n))

    def decide(self) -> set[CellKey]:
        """Suppress by the rules, then for each leak the audit finds, until it finds none."""
        published = {cell for cell, size in self.n.items() if size >= self.k}
        while True:
            self.suppress_complements(published)
            leak = find_leak(published, self.members, self.counts, self.k)
            if leak is None:
                return published
            published.discard(self.victim(leak, published))

    def smallest(self, cells: list[CellKey]) -> CellKey:
        """The cell with the fewest respondents (ties broken by key, for determinism)."""
        return min(cells, key=lambda cell: (self.n[cell], cell))

    def suppress_complements(self, published: set[CellKey]) -> None:
        """Apply the complementary suppression rules until none changes anything."""
        changed = True
        while changed:
            changed = False
            for relation in self.relations:
                shown = [cell for cell in relation.parts if cell in published]
                if relation.group not in published:
                    # A suppressed group must not come back as the sum of its parts.
                    if relation.breakdown and shown:
                        published.difference_update(shown)
                        changed = True
                    elif shown and len(shown) == len(relation.parts):
                        published.discard(self.smallest(shown))
                        changed = True
                    continue
                hidden = self.n[relation.group] - sum(self.n[cell] for cell in shown)
                while 0 < hidden < self.k and shown:
                    # One more part suppressed keeps the group and the larger parts.
                    cell = self.smallest(shown)
                    shown.remove(cell)
                    published.discard(cell)
                    hidden += self.n[cell]
                    changed = True

    def victim(self, leak: Leak, published: set[CellKey]) -> CellKey:
        """The smallest segment whose suppression breaks the leak, else the smallest used."""
        used = sorted(leak.cells or published, key=lambda cell: (self.n[cell], cell))
        segments = [cell for cell in used if cell.segment_type is not None]
        for cell in segments:
            trial = published - {cell}
            self.suppress_complements(trial)
            if not derivable(trial, self.members, leak.group):
                return cell
        return (segments or used)[0]


def _relations(place: str, n: Mapping[CellKey, int]) -> Iterator[_Relation]:
    """Each group with its parts: breakdowns by attribute, and sums over teams."""
    teams = tuple(sorted(c for c in n if c.scope == TEAM and c.segment_type is None))
    yield _Relation(CellKey(PLACE, place), teams, breakdown=False)
    segments: dict[tuple[CellKey, str], list[CellKey]] = defaultdict(list)
    by_team: dict[CellKey, list[CellKey]] = defaultdict(list)
    for cell in sorted(c for c in n if c.segment_type is not None):
        whole = CellKey(cell.scope, cell.subject)
        segments[(whole, cell.segment_type or "")].append(cell)
        if cell.scope == TEAM:
            by_team[CellKey(PLACE, place, cell.segment_type, cell.segment)].append(cell)
    for (whole, _), parts in sorted(segments.items()):
        yield _Relation(whole, tuple(parts), breakdown=True)
    for group, parts in sorted(by_team.items()):
        yield _Relation(group, tuple(parts), breakdown=False)
