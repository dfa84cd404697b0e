"""Revisions of a published pulse (DESIGN section 3.4): what may be added, pure.

A closed pulse is published once; what it published is assumed known for ever. A late
upload or an erasure makes a *revision*, which may publish new numbers only where the
union of every earlier edition of the pulse and the revision still passes the test, and
never for a cell withheld at first publication for having fewer than k respondents.

Respondents are told apart by cohort, the edition that first included them: edition i
counted some respondents of each (profile, cohort), and a cohort only shrinks (erasure).
So the respondents of a profile and cohort j fall into groups by the last edition that
included them, and a group counts in the cells of each edition from j to its last that
published them. The revision is then one more decision over those groups, with every
earlier published cell fixed and the revision's cells as candidates.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from app.analysis.cells import PLACE, CellKey, Profile, cells_of
from app.analysis.disclosure.decision import PLACE_WHOLE, SEGMENT, TEAM_WHOLE, Problem, decide
from app.analysis.disclosure.place import teams_of

Cohort = tuple[Profile, int]  # a profile, and the edition that first included them


@dataclass(frozen=True)
class Edition:
    """One edition of a place's cells in one pulse and dimension."""

    cells: frozenset[CellKey]  # the cells whose numbers this edition published
    counts: Mapping[Cohort, int]  # the respondents it included, by profile and cohort


def revision_cells(
    place: str,
    editions: Sequence[Edition],
    current: Mapping[Cohort, int],
    withheld: frozenset[CellKey],
    k: int,
) -> frozenset[CellKey]:
    """The cells whose new numbers a revision may publish.

    ``current`` counts today's respondents by profile and cohort (new ones in cohort
    ``len(editions)``); ``withheld`` are the cells held back at first publication for
    having fewer than k respondents.
    """
    latest = len(editions)
    groups: list[tuple[Profile, int, int, int]] = []  # profile, cohort, last edition, people
    for profile, cohort in sorted({*current, *(c for e in editions for c in e.counts)}):
        counts = [e.counts.get((profile, cohort), 0) for e in editions[cohort:]]
        counts.append(current.get((profile, cohort), 0))
        for offset, (here, after) in enumerate(itertools.pairwise(counts)):
            if here > after:
                groups.append((profile, cohort, cohort + offset, here - after))
        if counts[-1] > 0:
            groups.append((profile, cohort, latest, counts[-1]))
    columns: dict[tuple[int, CellKey], int] = {}  # (edition, cell): the revision is ``latest``
    members: list[list[int]] = []
    for profile, cohort, last, _ in groups:
        row = []
        for cell in cells_of(profile, place):
            for edition in range(cohort, last + 1):
                if edition == latest or cell in editions[edition].cells:
                    row.append(columns.setdefault((edition, cell), len(columns)))
        members.append(row)
    if not columns:
        return frozenset()
    incidence = np.zeros((len(groups), len(columns)), dtype=bool)
    for group, listed in enumerate(members):
        incidence[group, listed] = True
    keys = list(columns)
    fixed = np.array([edition < latest for edition, _ in keys], dtype=bool)
    eligible = np.array([cell not in withheld for _, cell in keys], dtype=bool)
    sizes = np.array([people for *_, people in groups], dtype=np.int64)
    n = sizes @ incidence
    kind = [
        SEGMENT if c.segment_type else PLACE_WHOLE if c.scope == PLACE else TEAM_WHOLE
        for _, c in keys
    ]
    kinds = np.array(kind, dtype=np.int64)
    order = np.lexsort((np.arange(len(keys)), -n, kinds))
    value = np.empty(len(keys), dtype=np.int64)
    value[order] = np.arange(len(keys))
    team, owner = teams_of(
        [profile.team for profile, *_ in groups],
        [(c.scope, c.subject, c.segment_type, c.segment) for _, c in keys],
    )
    problem = Problem(incidence, sizes, value, kinds, fixed, eligible, team, owner)
    published = decide(problem, k)
    return frozenset(
        cell
        for (edition, cell), shown in zip(keys, published, strict=True)
        if shown and edition == latest
    )
