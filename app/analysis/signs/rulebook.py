"""The rulebook: which warning-sign rules run, and their thresholds (DESIGN sections 4, 5).

Each threshold is named after the severity it sets; a ``red_*`` threshold may be None
(null in JSON) for no red level. ``Rulebook.from_dict`` reads the rules body of the API,
``{"rules": {"<rule>": {"enabled": bool, <thresholds>}}}``; omitted rules and fields keep
their defaults.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any, ClassVar, NamedTuple


class Range(NamedTuple):
    """The values a threshold may take."""

    low: float
    high: float
    low_open: bool  # whether ``low`` itself is excluded

    def admits(self, value: float) -> bool:
        """Whether a value lies in the range."""
        if not math.isfinite(value):
            return False
        above = value > self.low if self.low_open else value >= self.low
        return above and value <= self.high

    def describe(self) -> str:
        """The range in words."""
        opening = "above" if self.low_open else "at least"
        return f"must be {opening} {self.low:g} and at most {self.high:g}"


SCORE = Range(1.0, 5.0, low_open=False)  # a mean on the 1-5 scale
DIFFERENCE = Range(0.0, 4.0, low_open=True)  # a gap between two means on that scale
SPREAD = Range(0.0, 4.0, low_open=True)  # a standard deviation on that scale
SHARE = Range(0.0, 1.0, low_open=True)  # a proportion


@dataclass(frozen=True)
class LowScore:
    """Thresholds of ``low_score``."""

    enabled: bool = True
    amber_below: float = 3.0
    red_below: float | None = 2.5
    ranges: ClassVar[dict[str, Range]] = {"below": SCORE}
    lower_is_worse: ClassVar[bool] = True


@dataclass(frozen=True)
class Falling:
    """Thresholds of ``falling``."""

    enabled: bool = True
    amber_fall: float = 0.5
    red_fall: float | None = 1.0
    ranges: ClassVar[dict[str, Range]] = {"fall": DIFFERENCE}
    lower_is_worse: ClassVar[bool] = False


@dataclass(frozen=True)
class SustainedDecline:
    """Thresholds of ``sustained_decline``."""

    enabled: bool = True
    amber_fall: float = 0.3
    red_fall: float | None = None
    ranges: ClassVar[dict[str, Range]] = {"fall": DIFFERENCE}
    lower_is_worse: ClassVar[bool] = False


@dataclass(frozen=True)
class Polarised:
    """Thresholds of ``polarised``."""

    enabled: bool = True
    amber_sd: float = 1.25
    red_sd: float | None = None
    ranges: ClassVar[dict[str, Range]] = {"sd": SPREAD}
    lower_is_worse: ClassVar[bool] = False


@dataclass(frozen=True)
class Gap:
    """Thresholds of ``hierarchy_gap`` and ``partner_divide``."""

    enabled: bool = True
    amber_gap: float = 0.75
    red_gap: float | None = 1.25
    ranges: ClassVar[dict[str, Range]] = {"gap": DIFFERENCE}
    lower_is_worse: ClassVar[bool] = False


@dataclass(frozen=True)
class BelowPlace:
    """Thresholds of ``below_place``."""

    enabled: bool = True
    amber_gap: float = 0.75
    red_gap: float | None = None
    ranges: ClassVar[dict[str, Range]] = {"gap": DIFFERENCE}
    lower_is_worse: ClassVar[bool] = False


@dataclass(frozen=True)
class LowParticipation:
    """Thresholds of ``low_participation``."""

    enabled: bool = True
    amber_ratio: float = 0.4
    red_ratio: float | None = None
    ranges: ClassVar[dict[str, Range]] = {"ratio": SHARE}
    lower_is_worse: ClassVar[bool] = True


@dataclass(frozen=True)
class Switch:
    """A rule with no thresholds: ``insufficient_responses``, ``gone_quiet``."""

    enabled: bool = True
    ranges: ClassVar[dict[str, Range]] = {}
    lower_is_worse: ClassVar[bool] = False


@dataclass(frozen=True)
class Spreading:
    """Thresholds of ``spreading``."""

    enabled: bool = True
    amber_share: float = 0.3
    red_share: float | None = 0.5
    ranges: ClassVar[dict[str, Range]] = {"share": SHARE}
    lower_is_worse: ClassVar[bool] = False


Rule = LowScore | Falling | SustainedDecline | Polarised | Gap | BelowPlace | LowParticipation
AnyRule = Rule | Switch | Spreading


@dataclass(frozen=True)
class Rulebook:
    """Every rule's settings, plus the statistical settings that are not per rule."""

    low_score: LowScore = field(default_factory=LowScore)
    falling: Falling = field(default_factory=Falling)
    sustained_decline: SustainedDecline = field(default_factory=SustainedDecline)
    polarised: Polarised = field(default_factory=Polarised)
    hierarchy_gap: Gap = field(default_factory=Gap)
    partner_divide: Gap = field(default_factory=Gap)
    below_place: BelowPlace = field(default_factory=BelowPlace)
    low_participation: LowParticipation = field(default_factory=LowParticipation)
    insufficient_responses: Switch = field(default_factory=Switch)
    gone_quiet: Switch = field(default_factory=Switch)
    spreading: Spreading = field(default_factory=Spreading)
    alpha: float = 0.05  # significance level of "credibly"
    min_comparisons: int = 5  # Holm family size floor: the five dimensions
    baseline_pulses: int = 3  # falling's baseline pools up to this many reportable pulses

    @classmethod
    def from_dict(cls, body: Mapping[str, Any]) -> Rulebook:
        """The rulebook a rules body describes; raises RulebookError naming each bad field."""
        problems: list[RuleProblem] = []
        if not isinstance(body, Mapping):
            raise RulebookError([RuleProblem("", "must be an object")])
        problems += [RuleProblem(key, "unknown field") for key in body if key not in BODY]
        rules = body.get("rules", {})
        if not isinstance(rules, Mapping):
            raise RulebookError([*problems, RuleProblem("rules", "must be an object")])
        defaults = cls()
        chosen: dict[str, Any] = {}
        for name, settings in rules.items():
            path = f"rules/{name}"
            if name not in RULES:
                problems.append(RuleProblem(path, "unknown rule"))
            elif not isinstance(settings, Mapping):
                problems.append(RuleProblem(path, "must be an object"))
            else:
                rule, found = _read_rule(getattr(defaults, name), settings, path)
                chosen[name] = rule
                problems += found
        if problems:
            raise RulebookError(problems)
        return replace(defaults, **chosen)

    def to_dict(self) -> dict[str, Any]:
        """The rules body of this rulebook (without ``version``, which the caller owns)."""
        rules = {
            name: {f.name: getattr(getattr(self, name), f.name) for f in fields(RULES[name])}
            for name in RULES
        }
        return {"rules": rules}


BODY = ("rules", "version")
RULES: dict[str, type[AnyRule]] = {
    "low_score": LowScore,
    "falling": Falling,
    "sustained_decline": SustainedDecline,
    "polarised": Polarised,
    "hierarchy_gap": Gap,
    "partner_divide": Gap,
    "below_place": BelowPlace,
    "low_participation": LowParticipation,
    "insufficient_responses": Switch,
    "gone_quiet": Switch,
    "spreading": Spreading,
}


@dataclass(frozen=True)
class RuleProblem:
    """One invalid field of a rules body, by its path (``rules/falling/red_fall``)."""

    path: str
    detail: str


class RulebookError(ValueError):
    """A rules body that does not describe a valid rulebook."""

    def __init__(self, problems: Sequence[RuleProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(f"{p.path or '(body)'}: {p.detail}" for p in self.problems))

    @property
    def path(self) -> str:
        """The path of the first invalid field."""
        return self.problems[0].path


def _read_rule(
    default: AnyRule, settings: Mapping[str, Any], path: str
) -> tuple[AnyRule, list[RuleProblem]]:
    names = {f.name for f in fields(default)}
    values: dict[str, Any] = {}
    problems: list[RuleProblem] = []
    for name, value in settings.items():
        where = f"{path}/{name}"
        if name not in names:
            problems.append(RuleProblem(where, "unknown field"))
        elif name == "enabled":
            if isinstance(value, bool):
                values[name] = value
            else:
                problems.append(RuleProblem(where, "must be true or false"))
        elif value is None and name.startswith("red_"):
            values[name] = None
        elif isinstance(value, bool) or not isinstance(value, int | float):
            problems.append(RuleProblem(where, "must be a number"))
        elif not (allowed := default.ranges[name.split("_", 1)[1]]).admits(float(value)):
            problems.append(RuleProblem(where, allowed.describe()))
        else:
            values[name] = float(value)
    rule = replace(default, **values)
    if not problems:
        problems += _check_order(rule, path)
    return rule, problems


def _check_order(rule: AnyRule, path: str) -> list[RuleProblem]:
    """Red must be at least as severe as amber."""
    for measure in rule.ranges:
        amber, red = getattr(rule, f"amber_{measure}"), getattr(rule, f"red_{measure}")
        if red is None:
            continue
        if rule.lower_is_worse and red > amber:
            return [RuleProblem(f"{path}/red_{measure}", f"must be at most amber_{measure}")]
        if not rule.lower_is_worse and red < amber:
            return [RuleProblem(f"{path}/red_{measure}", f"must be at least amber_{measure}")]
    return []
