"""The plain data the warning-sign engine reads and writes."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from app.analysis.cells import Profile
from app.analysis.stats import Moments

if TYPE_CHECKING:  # at run time the package would import this module back
    from app.analysis.signs import Severity

# Fixed forever: flag ids derive from it, and BI tools deduplicate on them.
FLAG_NAMESPACE = uuid.UUID("6f1d9a52-3c1e-5b7a-9e4f-2a8c0d5b7e31")


@dataclass(frozen=True)
class Pulse:
    """A closed pulse: its key and the day it closed."""

    key: str
    closes_on: date


@dataclass(frozen=True)
class Team:
    """A team as the rules see it."""

    code: str
    place: str
    headcount: int | None = None
    formed_on: date | None = None


@dataclass(frozen=True)
class Snapshot:
    """Everything the rules read about one system, for one pulse and those before it.

    ``earlier`` holds the closed pulses before ``pulse``, oldest first (a few suffice:
    falling pools the last three a subject was published in; a decline spans four).
    ``responses`` counts responses per (pulse key, team code); ``scores`` holds, per
    (pulse key, dimension), the moments of each profile of respondents (GROUP BY team,
    role group, profession and organisation kind). Pass everything: the rules read only
    what ``publishable`` lets through.
    """

    system: str
    pulse: Pulse
    earlier: tuple[Pulse, ...]
    teams: tuple[Team, ...]
    responses: Mapping[tuple[str, str], int]
    scores: Mapping[tuple[str, str], Mapping[Profile, Moments]]
    k: int = 5
    adoption_months: int = 12


@dataclass(frozen=True)
class Flag:
    """A warning sign for a team or a place in a pulse (DESIGN section 5, less the version)."""

    id: str
    rule: str
    severity: Severity
    scope: str
    pulse: str
    place: str
    team: str | None
    dimension: str | None
    message: str
    evidence: dict[str, Any] = field(hash=False)


def flag_id(
    system: str, pulse: str, scope: str, subject: str, rule: str, dimension: str | None
) -> str:
    """The stable id of a flag: a UUIDv5 of what it is about."""
    name = "\x1f".join([system, pulse, scope, subject, rule, dimension or ""])
    return str(uuid.uuid5(FLAG_NAMESPACE, name))
