"""Comparisons between groups: ``hierarchy_gap``, ``partner_divide``, ``below_place``."""

from __future__ import annotations

from collections.abc import Mapping
from itertools import combinations

from app.analysis.cells import PLACE, TEAM, CellKey
from app.analysis.signs import rules
from app.analysis.signs.findings import Comparison, Subject, label, mean
from app.analysis.signs.rulebook import Gap, Rulebook
from app.analysis.signs.rules import GapRule
from app.analysis.stats import Moments, welch

KIND_LABELS = {
    "nhs_trust": "NHS trusts",
    "local_authority": "local authorities",
    "primary_care": "primary care",
    "voluntary_sector": "the voluntary sector",
    "independent_provider": "independent providers",
    "other": "other organisations",
}

Group = tuple[str, str, Moments]  # segment, segment in words, moments


def hierarchy_gap(
    current: Mapping[CellKey, Moments], subject: Subject, dimension: str, rulebook: Rulebook
) -> list[Comparison]:
    """Leaders against frontline staff, when both groups are published."""
    leaders = current.get(subject.cell("role_group", "leaders"))
    frontline = current.get(subject.cell("role_group", "frontline"))
    if not rulebook.hierarchy_gap.enabled or leaders is None or frontline is None:
        return []
    groups = ("leaders", "leaders", leaders), ("frontline", "frontline staff", frontline)
    return [_pair("hierarchy_gap", rules.hierarchy_gap, dimension, *groups, rulebook)]


def partner_divide(
    current: Mapping[CellKey, Moments], subject: Subject, dimension: str, rulebook: Rulebook
) -> list[Comparison]:
    """Each pair of organisation kinds published for a place."""
    if subject.scope != PLACE or not rulebook.partner_divide.enabled:
        return []
    kinds = sorted(
        (
            (cell.segment, f"staff of {KIND_LABELS.get(cell.segment, cell.segment)}", moments)
            for cell, moments in current.items()
            if (cell.scope, cell.subject, cell.segment_type)
            == (PLACE, subject.code, "organisation_kind")
            and cell.segment is not None
        ),
        key=lambda group: group[0],
    )
    return [
        _pair("partner_divide", rules.partner_divide, dimension, a, b, rulebook)
        for a, b in combinations(kinds, 2)
    ]


def below_place(
    current: Mapping[CellKey, Moments], subject: Subject, dimension: str, rulebook: Rulebook
) -> list[Comparison]:
    """A team against the rest of its place, when team and place are published."""
    settings = rulebook.below_place
    team = current.get(subject.cell())
    place = current.get(CellKey(PLACE, subject.place))
    if subject.scope != TEAM or not settings.enabled or team is None or place is None:
        return []
    # Place minus team: both published, so the audit keeps this at 0 or k people or more.
    rest = place - team
    if rest.n < 2:
        return []
    shortfall = mean(rest) - mean(team)
    return [
        Comparison(
            "below_place",
            dimension,
            welch(rest, team).p,
            shortfall,
            lambda p: rules.below_place(
                shortfall,
                p,
                amber_gap=settings.amber_gap,
                red_gap=settings.red_gap,
                alpha=rulebook.alpha,
            ),
            lambda p: (
                f"{label(dimension)} averaged {mean(team):.1f} (n={team.n}), "
                f"{shortfall:.2f} below the rest of the place at {mean(rest):.1f} "
                f"(n={rest.n}, {p})"
            ),
            {
                "n": team.n,
                "mean": round(mean(team), 2),
                "rest_n": rest.n,
                "rest_mean": round(mean(rest), 2),
                "shortfall": round(shortfall, 2),
            },
        )
    ]


def _pair(
    rule: str, grade: GapRule, dimension: str, first: Group, second: Group, rulebook: Rulebook
) -> Comparison:
    """Two groups of one subject, either of which may be the lower."""
    settings: Gap = getattr(rulebook, rule)
    (segment_a, name_a, a), (segment_b, name_b, b) = first, second
    gap = mean(a) - mean(b)
    return Comparison(
        rule,
        dimension,
        welch(a, b).p,
        abs(gap),
        lambda p: grade(
            gap, p, amber_gap=settings.amber_gap, red_gap=settings.red_gap, alpha=rulebook.alpha
        ),
        lambda p: (
            f"On {label(dimension).lower()}, {name_a} averaged {mean(a):.1f} (n={a.n}) and "
            f"{name_b} {mean(b):.1f} (n={b.n}), {abs(gap):.2f} apart ({p})"
        ),
        {
            "groups": [segment_a, segment_b],
            "n": [a.n, b.n],
            "means": [round(mean(a), 2), round(mean(b), 2)],
            "gap": round(abs(gap), 2),
        },
    )
