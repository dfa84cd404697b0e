"""Builders for warning-sign tests: small worlds of respondents, pulse by pulse."""

from dataclasses import dataclass, field
from datetime import date

from app.analysis.cells import Profile
from app.analysis.signs import Rulebook, warning_signs
from app.analysis.snapshot import Flag, Pulse, Snapshot, Team
from app.analysis.stats import Moments
from app.vocab import DIMENSIONS


@dataclass(frozen=True)
class Person:
    """One respondent: attributes and a score per dimension."""

    scores: dict[str, float]
    role_group: str | None = None
    organisation_kind: str | None = None
    team: str = "t1"


def person(
    score: float = 4.0,
    *,
    team: str = "t1",
    role: str | None = None,
    kind: str | None = None,
    **scores: float,
) -> Person:
    """A respondent scoring ``score`` on every dimension but those named."""
    return Person({d: scores.get(d, score) for d in DIMENSIONS}, role, kind, team)


def people(
    *scores: float, dimension: str = "support", role: str | None = None, kind: str | None = None
) -> list[Person]:
    """Respondents of t1 with these scores on one dimension and 4 on the others."""
    return [
        Person({d: score if d == dimension else 4.0 for d in DIMENSIONS}, role, kind)
        for score in scores
    ]


def pulse(key: str) -> Pulse:
    return Pulse(key, date(int(key[:4]), int(key[5:]), 28))


@dataclass
class World:
    """Responses per pulse key (oldest first; the last is the pulse evaluated)."""

    pulses: dict[str, list[Person]]
    teams: tuple[Team, ...] = (Team("t1", "p1"),)
    k: int = 5
    headcounts: dict[str, int] = field(default_factory=dict)

    def snapshot(self, system: str = "ics") -> Snapshot:
        scores: dict[tuple[str, str], dict[Profile, Moments]] = {}
        responses: dict[tuple[str, str], int] = {}
        for key, persons in self.pulses.items():
            for p in persons:
                responses[(key, p.team)] = responses.get((key, p.team), 0) + 1
                profile = Profile(p.team, p.role_group, None, p.organisation_kind)
                for d in DIMENSIONS:
                    cell = scores.setdefault((key, d), {})
                    cell[profile] = cell.get(profile, Moments()) + Moments.of([p.scores[d]])
        keys = [pulse(key) for key in self.pulses]
        return Snapshot(system, keys[-1], tuple(keys[:-1]), self.teams, responses, scores, self.k)


def flags_of(world: World, rulebook: Rulebook | None = None, **select: object) -> list[Flag]:
    flags = warning_signs(world.snapshot(), rulebook or Rulebook())
    return [f for f in flags if all(getattr(f, k) == v for k, v in select.items())]


STEADY = [person(4.0) for _ in range(10)]
