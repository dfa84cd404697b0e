"""Utility of disclosure control: the share of cells with n >= k that are published.

    python bench/disclosure.py [--places 150] [--small 40] [--k 5] [--programme 30]
                               [--previous 99f1868]

Realistic places (2-6 teams of 3-22, crossed role group / profession / employer kind, as
the red team generated them): the share of cells with at least k respondents that the
decision publishes; beside it, on the same places, the decision of an earlier commit (run
from its own tree, ``git archive``; the default is the one before the exact test) and how
many places it leaves open to a combination over 1..k-1 people; and, for the first
``--programme`` places, the exact optimum by an integer programme (scipy's HiGHS; places
needing more than ``--max-cuts`` cuts are left out). Small places (1-3 teams of 2-9): the
share against the exact optimum found by trying every subset of the eligible cells. Every
published set, and every optimum, is checked with the tests' independent checker.
"""

import argparse
import itertools
import json
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import Bounds, LinearConstraint, milp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from disclosure_checker import find_exposure  # the tests' checker, apart from the audit

from app.analysis.cells import CellKey, Profile, cell_counts, cells_of
from app.analysis.disclosure import Layout, SplitTest, place_problem, publishable

PROFESSIONS = ("nursing", "social_work", "therapy", "medical", "care_support", "admin", "other")
KINDS = ("nhs_trust", "local_authority", "primary_care", "voluntary_sector")


def realistic_place(
    rng: random.Random, teams: tuple[int, int], size: tuple[int, int]
) -> Counter[Profile]:
    """Respondents per profile of one place: teams led by a host, staff of several kinds."""
    counts: Counter[Profile] = Counter()
    for t in range(rng.randint(*teams)):
        host = rng.choice(KINDS)
        professions = rng.sample(PROFESSIONS, rng.randint(2, 4))
        for _ in range(rng.randint(*size)):
            role = rng.choices(["frontline", "leaders", None], [70, 22, 8])[0]
            profession = rng.choices([*professions, None], [*[10] * len(professions), 2])[0]
            kind = rng.choices([host, rng.choice(KINDS), None], [65, 30, 5])[0]
            counts[Profile(f"t{t}", role, profession, kind)] += 1
    return counts


def passes(cells: list[CellKey], counts: Counter[Profile], k: int) -> bool:
    """The independent exact checker of the tests on a set of cells of one place."""
    chosen = set(cells)
    members: dict[CellKey, list[tuple[Profile, int]]] = {c: [] for c in cells}
    for profile, count in counts.items():
        for cell in cells_of(profile, "p"):
            if cell in chosen:
                members[cell].extend((profile, i) for i in range(count))
    return find_exposure(members.values(), k) is None


def optimum(counts: Counter[Profile], k: int, eligible: list[CellKey]) -> int:
    """The most eligible cells any safe set publishes (every subset, largest first)."""
    for size in range(len(eligible), 0, -1):
        for chosen in itertools.combinations(eligible, size):
            if passes(list(chosen), counts, k):
                return size
    return 0


def programme_optimum(counts: Counter[Profile], k: int, max_cuts: int) -> int | None:
    """The most cells with n >= k that any safe set publishes, by an integer programme.

    Maximise the number of cells chosen; a chosen set that fails the test is shrunk to a
    minimal failing set F, and the cut "not all of F" is added (failing is monotone: a set
    holding F fails). The optimum is the first solution that passes, verified by the
    checker. The exact test of the decision (``SplitTest``) finds the failing sets, for
    speed; None when more than ``max_cuts`` cuts are needed.
    """
    layout = Layout("p", counts)
    present = np.fromiter((layout.profiles[p] for p in counts), np.intp, len(counts))
    sizes = np.fromiter(counts.values(), np.int64, len(counts))
    problem, cells = place_problem(layout, present, sizes)
    eligible = np.flatnonzero(sizes @ problem.incidence >= k)
    test = SplitTest(problem.incidence, problem.sizes, problem.team, problem.owner, k)

    def safe(chosen: list[int]) -> bool:
        published = np.zeros(len(cells), dtype=bool)
        published[chosen] = True
        return test.passes(published)

    cuts: list[NDArray[np.float64]] = []
    while len(cuts) <= max_cuts:
        constraints = []
        if cuts:
            rows = np.array(cuts)
            constraints = [LinearConstraint(rows, -np.inf, rows.sum(axis=1) - 1)]
        result = milp(
            -np.ones(len(eligible)),
            constraints=constraints,
            integrality=np.ones(len(eligible)),
            bounds=Bounds(0, 1),
        )
        chosen = [int(c) for c in eligible[np.round(result.x).astype(bool)]]
        if safe(chosen):
            keys = [layout.cell_key(c) for c in chosen]
            assert passes(keys, counts, k), "the programme's optimum failed the checker"
            return len(chosen)
        failing = list(chosen)
        for cell in chosen:
            rest = [c for c in failing if c != cell]
            if not safe(rest):
                failing = rest
        cut = np.zeros(len(eligible))
        cut[np.searchsorted(eligible, failing)] = 1
        cuts.append(cut)
    return None


PREVIOUS = """
import json, sys
sys.path.insert(0, sys.argv[1])
from app.analysis.cells import Profile
from app.analysis.disclosure import publishable
out = []
for place in json.load(sys.stdin):
    counts = {Profile(*profile): n for profile, n in place}
    shown = publishable(counts, {p.team: "p" for p in counts}, int(sys.argv[2]))
    out.append([[c.scope, c.subject, c.segment_type, c.segment] for c in shown])
json.dump(out, sys.stdout)
"""


def previous_policy(revision: str, places: list[Counter[Profile]], k: int) -> list[list[CellKey]]:
    """The cells the decision of an earlier commit publishes on the same places."""
    with tempfile.TemporaryDirectory() as folder:
        archive = subprocess.run(
            ["git", "archive", revision, "app"], capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", folder], input=archive, check=True)
        listed = [[[list(vars(p).values()), n] for p, n in c.items()] for c in places]
        answer = subprocess.run(
            [sys.executable, "-c", PREVIOUS, folder, str(k)],
            input=json.dumps(listed).encode(),
            capture_output=True,
            check=True,
        )
    return [[CellKey(*c) for c in cells] for cells in json.loads(answer.stdout)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--places", type=int, default=150)
    parser.add_argument("--small", type=int, default=40)
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument(
        "--programme", type=int, default=30, help="realistic places also solved exactly"
    )
    parser.add_argument("--max-cuts", type=int, default=150)
    parser.add_argument(
        "--previous", default="99f1868", help="the commit whose decision is the baseline"
    )
    args = parser.parse_args()
    rng = random.Random(20261201)
    k = args.k

    eligible_total = published_total = 0
    seconds = 0.0
    solved = [0, 0, 0, 0]  # places, cells with n >= k, published, the programme's optimum
    for place in range(args.places):
        counts = realistic_place(rng, (2, 6), (3, 22))
        team_place = {p.team: "p" for p in counts}
        started = time.perf_counter()
        shown = publishable(counts, team_place, k)
        seconds += time.perf_counter() - started
        assert passes(sorted(shown), counts, k), "a published set failed the checker"
        sizes = cell_counts(counts, team_place)
        eligible = sum(1 for n in sizes.values() if n >= k)
        eligible_total += eligible
        published_total += len(shown)
        if place < args.programme:
            best = programme_optimum(counts, k, args.max_cuts)
            if best is not None:
                solved = [
                    solved[0] + 1,
                    solved[1] + eligible,
                    solved[2] + len(shown),
                    solved[3] + best,
                ]
    share = published_total / eligible_total
    print(f"realistic places: {args.places}, cells with n >= k: {eligible_total}")
    print(
        f"  published: {published_total} ({share:.1%});"
        f" decision {seconds / args.places * 1e3:.1f} ms a place"
    )
    if args.previous:
        again = random.Random(20261201)
        same = [realistic_place(again, (2, 6), (3, 22)) for _ in range(args.places)]
        earlier = previous_policy(args.previous, same, k)
        leaking = sum(not passes(cells, c, k) for cells, c in zip(earlier, same, strict=True))
        total = sum(len(cells) for cells in earlier)
        print(
            f"  previous decision ({args.previous}): published {total}"
            f" ({total / eligible_total:.1%}); places where the checker finds a"
            f" combination over 1..k-1 people: {leaking} of {args.places}"
        )
    if solved[0]:
        print(
            f"  of the first {args.programme}, solved exactly: {solved[0]};"
            f" cells with n >= k {solved[1]}, published {solved[2]} ({solved[2] / solved[1]:.1%}),"
            f" optimum {solved[3]} ({solved[3] / solved[1]:.1%});"
            f" share of the optimum {solved[2] / solved[3]:.1%}"
        )

    mine = best = 0
    for _ in range(args.small):
        while True:
            counts = realistic_place(rng, (1, 3), (2, 9))
            team_place = {p.team: "p" for p in counts}
            sizes = cell_counts(counts, team_place)
            eligible = sorted(c for c, n in sizes.items() if n >= k)
            if 0 < len(eligible) <= 12:
                break
        mine += len(publishable(counts, team_place, k))
        best += optimum(counts, k, eligible)
    print(f"small places: {args.small}; published {mine}, exact optimum {best}")
    print(f"  share of the optimum: {mine / best:.1%}")


if __name__ == "__main__":
    main()
