"""The exact test split by team agrees with the independent checker on any set of cells.

``publishable`` only asks the split test about the sets its greedy orders reach; here it is
asked about arbitrary sets of a place's cells (any mix of team and place cells, many of
them unsafe), and its answer is compared with the independent checker's. An unsafe set
must always fail; a safe one must pass unless the test gave up (which it never should on
places this small).
"""

from collections import Counter
from collections.abc import Hashable

import numpy as np
from hypothesis import given, note, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from app.analysis.cells import Profile, cells_of
from app.analysis.disclosure import Layout, SplitTest, place_problem
from app.analysis.disclosure.decision import Problem
from tests.disclosure_checker import find_exposure

ROLE_GROUPS = ("frontline", "leaders", None)
PROFESSIONS = ("nursing", "social_work", "admin", None)
KINDS = ("nhs_trust", "local_authority", None)


@st.composite
def places(draw: st.DrawFn) -> tuple[Counter[Profile], int]:
    counts: Counter[Profile] = Counter()
    for t in range(draw(st.integers(1, 5))):
        for _ in range(draw(st.integers(1, 9))):
            profile = Profile(
                f"t{t}",
                draw(st.sampled_from(ROLE_GROUPS)),
                draw(st.sampled_from(PROFESSIONS)),
                draw(st.sampled_from(KINDS)),
            )
            counts[profile] += 1
    return counts, draw(st.integers(3, 6))


def _laid_out(counts: Counter[Profile]) -> tuple[Layout, Problem, NDArray[np.intp]]:
    """A place's layout, its decision problem and its non-empty cells."""
    layout = Layout("p", counts)
    present = np.fromiter((layout.profiles[p] for p in counts), np.intp, len(counts))
    sizes = np.fromiter(counts.values(), np.int64, len(counts))
    problem, cells = place_problem(layout, present, sizes)
    return layout, problem, cells


def _checked(
    counts: Counter[Profile], k: int, layout: Layout, shown: NDArray[np.intp]
) -> frozenset[Hashable] | None:
    """The independent checker's exposure among these cells, respondent by respondent."""
    keys = {layout.cell_key(int(c)) for c in shown}
    members: dict[object, list[tuple[Profile, int]]] = {key: [] for key in keys}
    for profile, count in counts.items():
        for key in cells_of(profile, "p"):
            if key in members:
                members[key].extend((profile, i) for i in range(count))
    note(f"k={k} counts={dict(counts)} cells={sorted(keys)}")
    return find_exposure(members.values(), k)


@settings(max_examples=300, deadline=None)
@given(places(), st.data())
def test_the_split_test_agrees_with_the_checker(
    world: tuple[Counter[Profile], int], data: st.DataObject
) -> None:
    counts, k = world
    layout, problem, cells = _laid_out(counts)
    chosen = data.draw(st.lists(st.booleans(), min_size=len(cells), max_size=len(cells)))
    published = np.array(chosen, dtype=bool)

    exposed = _checked(counts, k, layout, cells[published])
    split = SplitTest(problem.incidence, problem.sizes, problem.team, problem.owner, k)

    assert split.passes(published) is (exposed is None)


@settings(max_examples=100, deadline=None)
@given(places(), st.data())
def test_the_split_test_agrees_with_the_checker_on_sets_asked_one_after_another(
    world: tuple[Counter[Profile], int], data: st.DataObject
) -> None:
    """The test keeps what it learnt of one set for the next: any order of sets is fine."""
    counts, k = world
    layout, problem, cells = _laid_out(counts)
    split = SplitTest(problem.incidence, problem.sizes, problem.team, problem.owner, k)
    published = np.zeros(len(cells), dtype=bool)
    for _ in range(data.draw(st.integers(2, 6))):
        flips = data.draw(st.lists(st.integers(0, len(cells) - 1), min_size=1, max_size=3))
        published = published.copy()
        published[flips] = ~published[flips]
        exposed = _checked(counts, k, layout, cells[published])
        assert split.passes(published) is (exposed is None)
