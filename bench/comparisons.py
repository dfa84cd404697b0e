"""How often the group comparisons can run: hierarchy_gap and partner_divide.

Builds the demo system (``pulse demo``) in a scratch SQLite database and computes its
results; and simulates the world of ``bench/signal_quality.py`` (teams of 15, 4% of
respondents giving no role and 4% no employer; one seed). For each it counts, per place,
closed pulse and dimension, the cases in which each rule has a comparison to make from the
published cells: before (both groups published) and now (also one published group against
everyone else, a difference of published cells). Team cases are counted too.

Run: ``python bench/comparisons.py [--seed 7]``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from collections import Counter
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select

from app.analysis.cells import PLACE, TEAM, CellKey
from app.analysis.signs import Rulebook
from app.analysis.signs.findings import Subject
from app.analysis.signs.gaps import hierarchy_gap, partner_divide
from app.db import make_engine, make_sessionmaker
from app.models import Publication, Pulse
from app.services.results.publish import _kept_cells
from app.vocab import DIMENSIONS

ROLE_GROUPS = ("leaders", "frontline")


def main() -> int:
    """Build the demo, then count the comparisons each rule can make."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7, help="seed of the demo's answers")
    seed = parser.parse_args().seed
    with tempfile.TemporaryDirectory() as scratch:
        url = f"sqlite:///{scratch}/demo.db"
        env = {**os.environ, "PULSE_DATABASE_URL": url}
        pulse = [str(Path(sys.executable).parent / "pulse")]
        for args in (["db", "upgrade"], ["demo", "--seed", str(seed)]):
            subprocess.run([*pulse, *args], env=env, check=True, capture_output=True)
        engine = make_engine(url)
        counts: Counter[tuple[str, str, str]] = Counter()
        with make_sessionmaker(engine)() as session:
            kept = [
                p
                for p in session.scalars(select(Pulse).order_by(Pulse.opens_on))
                if session.scalar(select(Publication.id).where(Publication.pulse_id == p.id))
            ]
            for p in kept:
                for (_, dimension, place), cells in sorted(_kept_cells(session, p).items()):
                    subjects = [Subject(PLACE, place, place)] + [
                        Subject(TEAM, key.subject, place)
                        for key in cells
                        if key.scope == TEAM and key.segment_type is None
                    ]
                    for subject in subjects:
                        if subject.cell() not in cells:
                            continue
                        count(counts, cells, subject, dimension)
        engine.dispose()
    report(f"demo (seed {seed})", counts)
    report("simulated: 240 teams of 15 in 20 places, 6 pulses", simulated())
    return 0


def simulated() -> Counter[tuple[str, str, str]]:
    """The counts on the signal-quality benchmark's stable world (teams of 15)."""
    import random

    from app.analysis.published import Published
    from app.analysis.snapshot import Pulse as PulseFacts
    from app.analysis.snapshot import Snapshot
    from bench import signal_quality as world

    rng = random.Random(f"{world.SEED}-15")
    system = world.make_system(rng)
    pulses = [PulseFacts(f"2026-{m:02d}", date(2026, m, 20)) for m in range(1, world.PULSES + 1)]
    responses, scores = {}, {}
    for p in pulses:
        people = {sim.team.code: world.respond(rng, sim, 15) for sim in system}
        responses.update({(p.key, code): len(answered) for code, answered in people.items()})
        for dimension, cells in world.moments(system, people, {}).items():
            scores[(p.key, dimension)] = cells
    teams = tuple(sim.team for sim in system)
    published = Published(
        Snapshot("bench", pulses[-1], tuple(pulses[:-1]), teams, responses, scores)
    )
    counts: Counter[tuple[str, str, str]] = Counter()
    for p in pulses:
        for dimension in DIMENSIONS:
            for place in sorted({t.place for t in teams}):
                cells = dict(published.cells(p.key, dimension, place))
                for subject in [Subject(PLACE, place, place)] + [
                    Subject(TEAM, t.code, place) for t in teams if t.place == place
                ]:
                    if subject.cell() in cells:
                        count(counts, cells, subject, dimension)
    return counts


def report(world: str, counts: Counter[tuple[str, str, str]]) -> None:
    """Print the counts of one world."""
    print(f"{world}: cases of scope x subject x closed pulse x dimension")
    for scope in (PLACE, TEAM):
        for rule in ("hierarchy_gap", "partner_divide"):
            if rule == "partner_divide" and scope == TEAM:
                continue
            total = counts[(scope, rule, "cases")]
            before, now = counts[(scope, rule, "before")], counts[(scope, rule, "now")]
            print(
                f"  {scope:5s} {rule:14s}: evaluable before {before} of {total} "
                f"({before / total:.0%}), now {now} of {total} ({now / total:.0%})"
            )


def count(
    counts: Counter[tuple[str, str, str]],
    cells: dict[CellKey, object],
    subject: Subject,
    dimension: str,
) -> None:
    """Whether each rule could compare before, and can now, for one subject and dimension."""
    book = Rulebook()
    scope = subject.scope
    counts[(scope, "hierarchy_gap", "cases")] += 1
    both = all(subject.cell("role_group", g) in cells for g in ROLE_GROUPS)
    counts[(scope, "hierarchy_gap", "before")] += both
    counts[(scope, "hierarchy_gap", "now")] += bool(
        hierarchy_gap(cells, subject, dimension, book)  # type: ignore[arg-type]
    )
    if scope == PLACE:
        kinds = [k for k in cells if k.segment_type == "organisation_kind" and k.scope == PLACE]
        counts[(scope, "partner_divide", "cases")] += 1
        counts[(scope, "partner_divide", "before")] += len(kinds) >= 2
        counts[(scope, "partner_divide", "now")] += bool(
            partner_divide(cells, subject, dimension, book)  # type: ignore[arg-type]
        )


if __name__ == "__main__":
    raise SystemExit(main())
