"""Signal quality of the warning signs: false alarms when nothing changes, and real falls caught.

For each seed and team size (8, 15, 25 respondents a pulse), simulates a system of stable
teams answering whole numbers on the 1-5 scale (a latent score with sd 0.75, rounded and
clipped at 1 and 5: an sd of about 0.8), and runs the warning-sign engine:

- a world where nothing changes: the share of teams carrying an amber or red comparison
  flag in a pulse (target: at most 5% in every configuration, DESIGN section 4);
- the same kind of world where, in the last pulse, every team's support falls by one of
  0.25 ... 1.5 (latent): the share of each fall that ``falling`` flags amber or red — the
  power curve (target: at least 80% for a fall of 1.0 in teams of 15).

Each figure is the mean over seeds with a 95% t-interval over seeds (one rate per seed).

Run: ``python bench/signal_quality.py [--seeds N]`` (seeded; the same figures every run).
"""

from __future__ import annotations

import os

# One thread per process: the pool below uses the cores, and BLAS threads would contend.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import math
import random
import statistics
import sys
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.analysis.cells import Profile, cell_moments, role_group
from app.analysis.published import KeptCells, Published
from app.analysis.signs import Rulebook, assess
from app.analysis.snapshot import Pulse, Snapshot, Team
from app.analysis.stats import Moments
from app.vocab import DIMENSIONS

SEED = 20261125
SEEDS = 6
SIZES = (8, 15, 25)
PLACES = 20
TEAMS_PER_PLACE = 12
PULSES = 6
EVALUATED = 3  # the last pulses get flags computed; the ones before are their history
HISTORY = 4  # earlier pulses each snapshot carries: enough for baselines and runs of four
WORKERS = 2
NOISE_SD = 0.75  # latent spread; rounding to whole answers brings it to about 0.8
PLANTED_DIMENSION = "support"
FALLS = (0.25, 0.5, 0.75, 1.0, 1.25, 1.5)  # the power curve; planted round-robin over teams
GOAL_FALL, GOAL_SIZE, GOAL_RECALL, GOAL_ALARMS = 1.0, 15, 0.80, 0.05
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
            team = Team(f"p{p:02d}-t{t:02d}", f"p{p:02d}", headcount=40)
            teams.append(SimTeam(team, host, partner, level))
    return teams


def answer(mean: float, noise: float) -> float:
    """One whole-number answer on the 1-5 scale, clipped at both ends."""
    return float(min(5, max(1, round(mean + noise))))


@dataclass(frozen=True)
class Respondent:
    """One respondent in one pulse: profile and latent noise per dimension."""

    profile: Profile
    noise: dict[str, float]


def respond(rng: random.Random, sim: SimTeam, size: int) -> list[Respondent]:
    """One pulse of a team's respondents."""
    people = []
    for _ in range(size):
        role = rng.choices(["frontline", "team_lead", None], [76, 20, 4])[0]
        kind = rng.choices([sim.host, sim.partner, None], [68, 28, 4])[0]
        profession = rng.choices([*PROFESSIONS, None], [4, 3, 2, 2, 1])[0]
        profile = Profile(sim.team.code, role_group(role), profession, kind)
        people.append(Respondent(profile, {d: rng.gauss(0, NOISE_SD) for d in DIMENSIONS}))
    return people


def moments(
    system: list[SimTeam], people: dict[str, list[Respondent]], falls: dict[str, float]
) -> dict[str, dict[Profile, Moments]]:
    """The moments of each profile per dimension, with each team's latent fall applied."""
    scores: dict[str, dict[Profile, Moments]] = defaultdict(dict)
    for sim in system:
        fall = falls.get(sim.team.code, 0.0)
        for person in people[sim.team.code]:
            for d in DIMENSIONS:
                drop = fall if d == PLANTED_DIMENSION else 0.0
                value = Moments.of([answer(sim.level[d] - drop, person.noise[d])])
                cell = scores[d]
                cell[person.profile] = cell.get(person.profile, Moments()) + value
    return scores


def evaluate(job: tuple[int, int]) -> tuple[int, int, list[float], list[float], dict[float, float]]:
    """One seed and team size: false alarms per evaluated pulse, and recall per planted fall.

    The planted world is the stable one with the same respondents, whose last-pulse support
    answers fall by a latent amount (one of ``FALLS``, round-robin over teams). Which cells
    are published depends only on who answered (the counts), not on the scores, so the
    planted world is published as the stable one: its cells are summed afresh.
    """
    seed, size = job
    rng = random.Random(f"{seed}-{size}")
    system = make_system(rng)
    team_place = {sim.team.code: sim.team.place for sim in system}
    pulses = [Pulse(f"2026-{m:02d}", date(2026, m, 20)) for m in range(1, PULSES + 1)]
    responses: dict[tuple[str, str], int] = {}
    scores: dict[tuple[str, str], dict[Profile, Moments]] = {}
    people: dict[str, dict[str, list[Respondent]]] = {}
    for pulse in pulses:
        people[pulse.key] = {sim.team.code: respond(rng, sim, size) for sim in system}
        for code, answered in people[pulse.key].items():
            responses[(pulse.key, code)] = len(answered)
        for d, cells in moments(system, people[pulse.key], {}).items():
            scores[(pulse.key, d)] = cells
    teams = tuple(sim.team for sim in system)
    full = Snapshot("bench", pulses[-1], tuple(pulses[:-1]), teams, responses, scores)
    published = Published(full)
    places = sorted(set(team_place.values()))
    kept = {
        (p.key, d, place): dict(published.cells(p.key, d, place))
        for p in pulses
        for d in DIMENSIONS
        for place in places
    }

    def snapshot(i: int) -> Snapshot:
        return Snapshot(
            "bench", pulses[i], tuple(pulses[max(0, i - HISTORY) : i]), teams, responses, {}
        )

    team_shares, place_shares = [], []
    for i in range(PULSES - EVALUATED, PULSES):
        flags = [
            f
            for f in assess(snapshot(i), Rulebook(), KeptCells(kept, team_place))[0]
            if f.rule in COMPARISONS and f.severity in {"amber", "red"}
        ]
        team_shares.append(len({f.team for f in flags if f.team}) / len(system))
        place_shares.append(len({f.place for f in flags if f.team is None}) / PLACES)

    final = pulses[-1].key
    falls = {sim.team.code: FALLS[t % len(FALLS)] for t, sim in enumerate(system)}
    planted = dict(kept)
    for d, cells in moments(system, people[final], falls).items():
        summed = cell_moments(cells, team_place)
        for place in places:
            planted[(final, d, place)] = {key: summed[key] for key in kept[(final, d, place)]}
    caught = {
        f.team
        for f in assess(snapshot(PULSES - 1), Rulebook(), KeptCells(planted, team_place))[0]
        if f.team
        and f.rule == "falling"
        and f.dimension == PLANTED_DIMENSION
        and f.severity in {"amber", "red"}
    }
    shares = {}
    for fall in FALLS:
        fell = [code for code, value in falls.items() if value == fall]
        shares[fall] = sum(code in caught for code in fell) / len(fell)
    return seed, size, team_shares, place_shares, shares


def interval(rates: list[float]) -> tuple[float, float, float]:
    """Mean of per-seed rates and its 95% t-interval over seeds."""
    mean = statistics.fmean(rates)
    if len(rates) < 2:
        return mean, math.nan, math.nan
    half = float(stats.t.ppf(0.975, len(rates) - 1)) * statistics.stdev(rates) / len(rates) ** 0.5
    return mean, max(0.0, mean - half), min(1.0, mean + half)


def pct(figures: tuple[float, float, float]) -> str:
    mean, low, high = figures
    return f"{mean:6.1%} [{low:.1%}, {high:.1%}]"


def main() -> int:
    """Run every configuration and print figures, targets and verdicts."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=SEEDS, help="seeds per configuration")
    seeds = [SEED + i for i in range(parser.parse_args().seeds)]
    started = time.perf_counter()
    jobs = [(seed, size) for size in SIZES for seed in seeds]
    power: dict[tuple[int, float], list[float]] = defaultdict(list)
    team_alarms: dict[int, list[float]] = defaultdict(list)
    place_alarms: dict[int, list[float]] = defaultdict(list)
    worst: dict[int, float] = defaultdict(float)
    with ProcessPoolExecutor(WORKERS) as pool:
        for _, size, teams, places, shares in pool.map(evaluate, jobs):
            for fall, share in shares.items():
                power[(size, fall)].append(share)
            team_alarms[size].append(statistics.fmean(teams))
            place_alarms[size].append(statistics.fmean(places))
            worst[size] = max(worst[size], *teams)

    teams = PLACES * TEAMS_PER_PLACE
    print(
        f"{teams} teams in {PLACES} places, {PULSES} pulses (the last {EVALUATED} evaluated), "
        f"answers 1-5 clipped; seeds {seeds[0]}..{seeds[-1]} ({len(seeds)}); "
        "mean over seeds [95% interval over seeds]"
    )
    print("\nfalse alarms: teams with an amber/red comparison flag per pulse, nothing changing")
    verdicts = []
    for size in SIZES:
        figures = interval(team_alarms[size])
        met = figures[2] <= GOAL_ALARMS
        verdicts.append(met)
        print(
            f"  n={size:2d}: teams {pct(figures)} (worst pulse of any seed {worst[size]:.1%}; "
            f"target <= {GOAL_ALARMS:.0%}: {'met' if met else 'NOT met'}); "
            f"places {pct(interval(place_alarms[size]))} (no target)"
        )
    print("\npower curve: share of planted falls (support, latent) that falling flags amber/red")
    print("  fall " + "".join(f"{'n=' + str(size):>26}" for size in SIZES))
    for fall in FALLS:
        row = "".join(f"{pct(interval(power[(size, fall)])):>26}" for size in SIZES)
        print(f"  {fall:4.2f} {row}")
    goal = interval(power[(GOAL_SIZE, GOAL_FALL)])
    recall_met = goal[1] >= GOAL_RECALL
    print(
        f"\nrecall at a fall of {GOAL_FALL} in teams of {GOAL_SIZE}: {pct(goal)} "
        f"(target >= {GOAL_RECALL:.0%}, lower end of the interval)"
    )
    print(f"{'PASS' if all(verdicts) else 'FAIL'} false alarms (upper end <= 5%, every size)")
    print(f"{'PASS' if recall_met else 'FAIL'} power")
    print(f"elapsed: {time.perf_counter() - started:.1f} s")
    return 0 if all(verdicts) and recall_met else 1


if __name__ == "__main__":
    raise SystemExit(main())
