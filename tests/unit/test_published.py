"""The cells of a snapshot, place by place: every non-empty one, and the published ones."""

import random
from datetime import date

import pytest

from app.analysis.cells import PLACE, CellKey, Profile, cell_moments
from app.analysis.published import Published
from app.analysis.snapshot import Pulse, Snapshot, Team
from app.analysis.stats import Moments
from app.vocab import DIMENSIONS
from tests.unit.test_disclosure_principle import generate_system


def place_of(cell: CellKey, team_place: dict[str, str]) -> str:
    return cell.subject if cell.scope == PLACE else team_place[cell.subject]


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5, 6])
def test_present_cells_are_every_non_empty_cell_and_hold_the_published_ones(seed: int) -> None:
    rng = random.Random(seed)
    pulses = (Pulse("2026-09", date(2026, 9, 30)), Pulse("2026-10", date(2026, 10, 31)))
    team_place: dict[str, str] = {}
    scores: dict[tuple[str, str], dict[Profile, Moments]] = {}
    for offset, pulse in enumerate(pulses):
        for place, team, *attributes in generate_system(seed + 100 * offset):
            team_place[team] = place
            profile = Profile(team, *attributes)
            for dimension in DIMENSIONS:
                if rng.random() < 0.1:  # some people skip a dimension
                    continue
                cell = scores.setdefault((pulse.key, dimension), {})
                cell[profile] = cell.get(profile, Moments()) + Moments.of([rng.randint(1, 5)])
    teams = tuple(Team(team, place) for team, place in sorted(team_place.items()))
    snapshot = Snapshot("ics", pulses[-1], pulses[:-1], teams, {}, scores, 5)
    published = Published(snapshot)

    for pulse in pulses:
        for dimension in DIMENSIONS:
            every = cell_moments(scores.get((pulse.key, dimension), {}), team_place)
            for place in sorted(set(team_place.values())):
                present = published.present(pulse.key, dimension, place)
                shown = published.cells(pulse.key, dimension, place)
                expected = {c for c in every if place_of(c, team_place) == place}
                assert len(present) == len(set(present))
                assert set(present) == expected
                assert set(shown) <= expected
                for cell, moments in shown.items():
                    assert moments.n == every[cell].n
                    assert moments.total == pytest.approx(every[cell].total)


def test_a_place_with_no_responses_has_no_cells() -> None:
    pulse = Pulse("2026-10", date(2026, 10, 31))
    profile = Profile("t1", None, None, None)
    scores = {("2026-10", "support"): {profile: Moments.of([4, 4, 4, 4, 4])}}
    teams = (Team("t1", "p1"), Team("t2", "p2"))
    published = Published(Snapshot("ics", pulse, (), teams, {}, scores, 5))

    assert published.present("2026-10", "support", "p2") == []
    assert published.present("2026-10", "belief", "p1") == []
    assert set(published.present("2026-10", "support", "p1")) == {
        CellKey("team", "t1"),
        CellKey("place", "p1"),
    }
