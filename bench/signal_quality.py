"""Signal quality of the warning signs: false alarms when nothing changes, and real falls caught.

Simulates a system of stable teams (integer 1-5 answers, teams of about 15), runs the
warning-sign engine pulse by pulse, and prints:

- the share of teams carrying an amber or red comparison flag in a pulse when nothing
  truly changes (target: at most 5%, DESIGN section 4);
- the share of planted falls of 1.0 (teams of 15, sd about 0.8, one dimension) that
  ``falling`` catches (target: at least 80%).

Run: ``python bench/signal_quality.py`` (seeded; the same figures every run).
"""

from __future__ import annotations

import os

# One thread per process: the pool below uses the cores, and BLAS threads would contend.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import random
import sys
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.analysis.cells import Profile, role_group
from app.analysis.signs import Rulebook, warning_signs
from app.analysis.snapshot import Pulse, Snapshot, Team
from app.analysis.stats import Moments
from app.vocab import DIMENSIONS

SEED = 20261125
PLACES = 25
TEAMS_PER_PLACE = 16
PULSES = 6
EVALUATED = 3  # the last pulses get flags computed; the ones before are their history
HISTORY = 4  # earlier pulses each snapshot carries: enough for baselines and runs of four
WORKERS = 2
NOISE_SD = 0.75  # latent spread; rounding to whole answers brings it to about 0.8
PLANTED_DIMENSION = "support"
PLANTED_FALL = 1.0
COMPARISONS = {"falling", "sustained_decline", "hierarchy_gap", "partner_divide", "below_place"}
KINDS = ("nhs_trust", "local_authority", "primary_care", "voluntary_sector")
PROFESSIONS = ("nursing", "social_work", "therapy", "care_support")


@dataclass(frozen=True)
class SimTeam:
    """A simulated team: where it sits, who works there and its steady true means."""

    team: Team
    host: str
    partner: str
    level: dict[str, float]


def make_system(rng: random.Random) -> list[SimTeam]:
    """Stable teams: each has its own steady level per dimension, nothing else differs."""
    teams = []
    for p in range(PLACES):
        for t in range(TEAMS_PER_PLACE):
            host, partner = rng.sample(KINDS, 2)
            level = {d: 3.6 + rng.gauss(0, 0.15) for d in DIMENSIONS}
            team = Team(f"p{p:02d}-t{t:02d}", f"p{p:02d}", headcount=rng.randint(18, 24))
            teams.append(SimTeam(team, host, partner, level))
    return teams


def answer(rng: random.Random, mean: float) -> float:
    """One whole-number answer on the 1-5 scale."""
    return float(min(5, max(1, round(rng.gauss(mean, NOISE_SD)))))


def respond(
    rng: random.Random, sim: SimTeam, size: int, fall: dict[str, float]
) -> list[tuple[Profile, dict[str, float]]]:
    """One pulse of a team's responses: profile and scores of each respondent."""
    people = []
    for _ in range(size):
        role = rng.choices(["frontline", "team_lead", None], [76, 20, 4])[0]
        kind = rng.choices([sim.host, sim.partner, None], [68, 28, 4])[0]
        profession = rng.choices([*PROFESSIONS, None], [4, 3, 2, 2, 1])[0]
        profile = Profile(sim.team.code, role_group(role), profession, kind)
        scores = {d: answer(rng, sim.level[d] - fall.get(d, 0.0)) for d in DIMENSIONS}
        people.append((profile, scores))
    return people


def simulate(seed: int, planted: set[str]) -> tuple[list[SimTeam], list[Snapshot]]:
    """Snapshots of the last pulses; ``planted`` teams fall in the final pulse."""
    rng = random.Random(seed)
    system = make_system(rng)
    pulses = [Pulse(f"2026-{m:02d}", date(2026, m, 20)) for m in range(1, PULSES + 1)]
    responses: dict[tuple[str, str], int] = {}
    scores: dict[tuple[str, str], dict[Profile, Moments]] = defaultdict(dict)
    for i, pulse in enumerate(pulses):
        final = i == len(pulses) - 1
        for sim in system:
            is_planted = final and sim.team.code in planted
            size = 15 if is_planted else rng.randint(12, 18)
            fall = {PLANTED_DIMENSION: PLANTED_FALL} if is_planted else {}
            people = respond(rng, sim, size, fall)
            responses[(pulse.key, sim.team.code)] = len(people)
            for d in DIMENSIONS:
                cell = scores[(pulse.key, d)]
                for profile, answers in people:
                    cell[profile] = cell.get(profile, Moments()) + Moments.of([answers[d]])
    teams = tuple(sim.team for sim in system)
    snapshots = [
        Snapshot(
            "bench", pulses[i], tuple(pulses[max(0, i - HISTORY) : i]), teams, responses, scores
        )
        for i in range(PULSES - EVALUATED, PULSES)
    ]
    return system, snapshots


def comparison_flagged(snapshot: Snapshot) -> tuple[set[str], set[str]]:
    """Teams, and places, with an amber or red comparison flag in the snapshot's pulse."""
    flags = [
        f
        for f in warning_signs(snapshot, Rulebook())
        if f.rule in COMPARISONS and f.severity in {"amber", "red"}
    ]
    return {f.team for f in flags if f.team}, {f.place for f in flags if f.team is None}


def falls_caught(snapshot: Snapshot) -> set[str]:
    """Teams whose fall on the planted dimension ``falling`` flags amber or red."""
    return {
        f.team
        for f in warning_signs(snapshot, Rulebook())
        if f.team
        and f.rule == "falling"
        and f.dimension == PLANTED_DIMENSION
        and f.severity in {"amber", "red"}
    }


def main() -> int:
    """Run both scenarios and print figures, targets and verdicts."""
    started = time.perf_counter()
    system, stable = simulate(SEED, planted=set())
    planted = {sim.team.code for sim in random.Random(SEED + 1).sample(system, 120)}
    _, falling = simulate(SEED, planted=planted)
    with ProcessPoolExecutor(WORKERS) as pool:
        alarms = pool.map(comparison_flagged, stable)
        caught = pool.submit(falls_caught, falling[-1])
        results = list(alarms)
        shares = [len(teams) / len(system) for teams, _ in results]
        place_shares = [len(places) / PLACES for _, places in results]
        power = len(caught.result() & planted) / len(planted)
    false_alarms = max(shares)

    print(f"system: {len(system)} stable teams in {PLACES} places, {PULSES} pulses, answers 1-5")
    print(
        "teams with an amber/red comparison flag per pulse, nothing changing: "
        + ", ".join(f"{s:.1%}" for s in shares)
        + f" (worst {false_alarms:.1%}; target <= 5%)"
    )
    print(
        "places with an amber/red comparison flag per pulse (no target): "
        + ", ".join(f"{s:.1%}" for s in place_shares)
    )
    print(
        f"planted falls of {PLANTED_FALL} in {len(planted)} teams of 15 "
        f"caught by falling: {power:.1%} (target >= 80%)"
    )
    print(f"{'PASS' if false_alarms <= 0.05 else 'FAIL'} false alarms")
    print(f"{'PASS' if power >= 0.80 else 'FAIL'} power")
    print(f"elapsed: {time.perf_counter() - started:.1f} s")
    return 0 if false_alarms <= 0.05 and power >= 0.80 else 1


if __name__ == "__main__":
    raise SystemExit(main())
