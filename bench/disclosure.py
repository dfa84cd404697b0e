"""Utility of disclosure control: the share of cells with n >= k that are published.

    python bench/disclosure.py [--places 150] [--small 40] [--k 5]

Realistic places (2-6 teams of 3-22, crossed role group / profession / employer kind, as
the red team generated them): the share of cells with at least k respondents that the
decision publishes. Small places (1-3 teams of 2-9): the same share against the exact
optimum, the largest set of cells that passes the test, found by trying every subset of
the eligible cells (largest first) with the same exact audit. Every published set is
checked with the audit as well. Prints the figures and the ratio to the optimum.
"""

import argparse
import itertools
import random
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from disclosure_checker import find_exposure  # the tests' checker, apart from the audit

from app.analysis.cells import CellKey, Profile, cell_counts, cells_of
from app.analysis.disclosure import publishable

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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--places", type=int, default=150)
    parser.add_argument("--small", type=int, default=40)
    parser.add_argument("--k", type=int, default=5)
    args = parser.parse_args()
    rng = random.Random(20261201)
    k = args.k

    eligible_total = published_total = 0
    started = time.perf_counter()
    for _ in range(args.places):
        counts = realistic_place(rng, (2, 6), (3, 22))
        team_place = {p.team: "p" for p in counts}
        shown = publishable(counts, team_place, k)
        assert passes(sorted(shown), counts, k), "a published set failed the checker"
        sizes = cell_counts(counts, team_place)
        eligible_total += sum(1 for n in sizes.values() if n >= k)
        published_total += len(shown)
    seconds = time.perf_counter() - started
    share = published_total / eligible_total
    print(f"realistic places: {args.places}, cells with n >= k: {eligible_total}")
    print(
        f"  published: {published_total} ({share:.1%});"
        f" decision {seconds / args.places * 1e3:.1f} ms a place"
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
