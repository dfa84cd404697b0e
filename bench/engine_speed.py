"""Speed of the warning-sign engine on a synthetic system, against pandas on the same responses.

    python bench/engine_speed.py [--places 100] [--repeat 3]

Builds places of 20 teams (8-17 respondents each, a third of them leaders, 7 professions,
3 organisation kinds) over six monthly pulses, and times ``warning_signs`` for the latest
(cold: every pulse's disclosure decided afresh). For reference it also times pandas reading
the same responses from a CSV (one row per response, about 150,000 at 100 places) and
computing team means, and prints the engine's ratio to that (target: close to 1). Needs
pandas (the ``bench`` extra). Seeded: the same system every run.
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
import tempfile
import time
from collections import defaultdict
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.analysis.cells import Profile, role_group
from app.analysis.signs import Rulebook, warning_signs
from app.analysis.snapshot import Pulse, Snapshot, Team
from app.analysis.stats import Moments
from app.vocab import DIMENSIONS

TEAMS_PER_PLACE = 20
ROLES = ["frontline"] * 4 + ["team_lead", "manager"]
PROFESSIONS = ["nursing", "social_work", "therapy", "medical", "care_support", "admin", "other"]
KINDS = ["nhs_trust", "local_authority", "primary_care"]

Row = tuple[str, str, str | None, str, str, list[int]]  # pulse, team, role group, ..., scores


def make_system(places: int, seed: int = 1) -> tuple[Snapshot, list[Row]]:
    """A seeded system of ``places`` places over six closed pulses, and its responses."""
    rng = random.Random(seed)
    teams = [
        Team(f"t{p}-{i}", f"p{p}", 20, date(2024, 1, 1))
        for p in range(places)
        for i in range(TEAMS_PER_PLACE)
    ]
    pulses = [Pulse(f"2026-{m:02d}", date(2026, m, 28)) for m in range(5, 11)]
    scores: dict[tuple[str, str], dict[Profile, Moments]] = {}
    responses: dict[tuple[str, str], int] = {}
    rows: list[Row] = []
    for pulse in pulses:
        per: dict[str, dict[Profile, list[int]]] = {d: defaultdict(list) for d in DIMENSIONS}
        for team in teams:
            n = rng.randint(8, 17)
            responses[(pulse.key, team.code)] = n
            for _ in range(n):
                group = role_group(rng.choice(ROLES))
                profile = Profile(team.code, group, rng.choice(PROFESSIONS), rng.choice(KINDS))
                answers = [rng.randint(1, 5) for _ in DIMENSIONS]
                for d, score in zip(DIMENSIONS, answers, strict=True):
                    per[d][profile].append(score)
                rows.append((pulse.key, team.code, group, *profile_attributes(profile), answers))
        for d in DIMENSIONS:
            scores[(pulse.key, d)] = {p: Moments.of(v) for p, v in per[d].items()}
    snapshot = Snapshot("bench", pulses[-1], tuple(pulses[:-1]), tuple(teams), responses, scores)
    return snapshot, rows


def profile_attributes(profile: Profile) -> tuple[str, str]:
    """Profession and organisation kind, which every generated respondent gives."""
    return profile.profession or "", profile.organisation_kind or ""


def time_engine(snapshot: Snapshot, repeat: int) -> tuple[float, int]:
    """The best of ``repeat`` runs of ``warning_signs``, and how many flags it gave."""
    best, flags = float("inf"), 0
    for _ in range(repeat):
        start = time.perf_counter()
        flags = len(warning_signs(snapshot, Rulebook()))
        best = min(best, time.perf_counter() - start)
    return best, flags


def time_pandas(rows: list[Row], repeat: int) -> float:
    """The best of ``repeat`` runs of pandas reading the responses and averaging by team."""
    import pandas as pd

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "responses.csv"
        with path.open("w", newline="") as file:
            writer = csv.writer(file)
            writer.writerow(["pulse", "team", "role_group", "profession", "kind", *DIMENSIONS])
            for pulse, team, group, profession, kind, answers in rows:
                writer.writerow([pulse, team, group, profession, kind, *answers])
        best = float("inf")
        for _ in range(repeat):
            start = time.perf_counter()
            frame = pd.read_csv(path)
            frame.groupby(["pulse", "team"])[list(DIMENSIONS)].mean()
            best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    """Time the engine and the pandas reference, and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--places", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    snapshot, rows = make_system(args.places)
    engine, flags = time_engine(snapshot, args.repeat)
    reference = time_pandas(rows, args.repeat)
    teams = args.places * TEAMS_PER_PLACE
    print(f"system: {args.places} places, {teams} teams, 6 pulses, {len(rows)} responses")
    print(f"warning_signs (latest pulse): {engine:.2f}s, {flags} flags")
    print(f"pandas read_csv + team means: {reference:.2f}s")
    print(f"ratio engine / pandas: {engine / reference:.1f}")


if __name__ == "__main__":
    main()
