"""The linear test of DESIGN section 3, checked by brute force on generated systems.

Published cells are rows of a 0/1 matrix over respondents. No vector in its row space may
be the indicator of 1..k-1 respondents: otherwise adding and subtracting published totals
gives the total of a group smaller than k.
"""

import itertools
import random
from collections import Counter, defaultdict
from collections.abc import Collection

import numpy as np
import pytest

from app.analysis.cells import CellKey, Profile
from app.analysis.disclosure import publishable

K = 5
Respondent = tuple[str, str, str | None, str | None, str | None]  # place, team, attributes
ATTRIBUTES = ("role_group", "profession", "organisation_kind")


def generate_system(seed: int) -> list[Respondent]:
    """A few places of small teams, with small segments, gaps and mixed employers."""
    rng = random.Random(seed)
    respondents: list[Respondent] = []
    for p in range(3):
        kinds = rng.sample(["nhs_trust", "local_authority", "voluntary_sector", "primary_care"], 2)
        for t in range(rng.randint(2, 4)):
            for _ in range(rng.randint(1, 13)):
                role = rng.choices(["frontline", "leaders", None], [70, 20, 10])[0]
                profession = rng.choices(["nursing", "social_work", "therapy", None], [4, 3, 2, 1])[
                    0
                ]
                kind = rng.choices([*kinds, None], [6, 3, 1])[0]
                respondents.append((f"p{p}", f"p{p}t{t}", role, profession, kind))
    return respondents


def memberships(respondent: Respondent) -> set[CellKey]:
    """Every cell, published or not, that a respondent counts in."""
    place, team, *attributes = respondent
    cells = {CellKey("team", team), CellKey("place", place)}
    for segment_type, segment in zip(ATTRIBUTES, attributes, strict=True):
        if segment is not None:
            cells |= {
                CellKey("team", team, segment_type, segment),
                CellKey("place", place, segment_type, segment),
            }
    return cells


def profile_counts(respondents: list[Respondent]) -> tuple[dict[Profile, int], dict[str, str]]:
    """What the database supplies: respondents per profile, and each team's place."""
    counts = Counter(Profile(team, *attributes) for _, team, *attributes in respondents)
    return dict(counts), {team: place for place, team, *_ in respondents}


def smallest_derivable_groups(
    respondents: list[Respondent], published: Collection[CellKey], k: int
) -> list[int]:
    """Sizes (1..k-1) of groups whose total is a combination of published cells."""
    found: list[int] = []
    by_place: defaultdict[str, list[Respondent]] = defaultdict(list)
    for respondent in respondents:
        by_place[respondent[0]].append(respondent)
    for people in by_place.values():
        # Respondents in exactly the same cells are one atom: no row tells them apart.
        atoms = Counter(frozenset(memberships(person)) for person in people)
        columns = list(atoms)
        rows = sorted({cell for column in columns for cell in column} & set(published))
        if not rows:
            continue
        matrix = np.array([[cell in column for column in columns] for cell in rows], dtype=float)
        _, singular, vt = np.linalg.svd(matrix)
        rank = int((singular > 1e-9).sum())
        null_space = vt[rank:].T  # a vector lies in the row space iff orthogonal to these
        small = [i for i, column in enumerate(columns) if atoms[column] < k]
        for size in range(1, k):
            for subset in itertools.combinations(small, size):
                people_in = sum(atoms[columns[i]] for i in subset)
                if people_in < k and np.linalg.norm(null_space[list(subset)].sum(axis=0)) < 1e-8:
                    found.append(people_in)
    return found


SEEDS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]


@pytest.mark.parametrize("seed", SEEDS)
def test_no_combination_of_published_cells_reveals_a_small_group(seed: int) -> None:
    respondents = generate_system(seed)
    counts, team_place = profile_counts(respondents)

    published = publishable(counts, team_place, K)

    assert smallest_derivable_groups(respondents, published, K) == []


@pytest.mark.parametrize("seed", SEEDS)
def test_the_check_flags_a_threshold_only_publication(seed: int) -> None:
    respondents = generate_system(seed)
    threshold_only = [
        cell
        for cell, n in Counter(c for person in respondents for c in memberships(person)).items()
        if n >= K
    ]

    assert smallest_derivable_groups(respondents, threshold_only, K) != []


def test_generated_systems_publish_segments_as_well_as_wholes() -> None:
    published: set[CellKey] = set()
    for seed in SEEDS:
        counts, team_place = profile_counts(generate_system(seed))
        published |= publishable(counts, team_place, K)

    assert {(c.scope, c.segment_type) for c in published} == {
        (scope, segment_type) for scope in ("team", "place") for segment_type in (None, *ATTRIBUTES)
    }
