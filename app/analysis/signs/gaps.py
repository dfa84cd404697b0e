"""Comparisons between groups: ``hierarchy_gap``, ``partner_divide``, ``below_place``."""

from __future__ import annotations

from collections.abc import Mapping
from itertools import combinations
from typing import Any

from app.analysis.cells import PLACE, TEAM, CellKey
from app.analysis.signs import rules
from app.analysis.signs.findings import Comparison, Subject, label, mean, side
from app.analysis.signs.rulebook import Gap, Rulebook
from app.analysis.signs.rules import GapRule, Severity
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

# The breakdowns any rule reads, with the scopes it reads them at: leaders and frontline
# (hierarchy_gap, teams and places) and organisation kinds (partner_divide, places only).
# Every other rule reads whole cells; of earlier pulses only whole cells are read. A read
# of kept cells for the rules fetches these and no others (a quarter of a pulse's cells).
BREAKDOWNS_READ: Mapping[str, tuple[str, ...]] = {
    "role_group": (TEAM, PLACE),
    "organisation_kind": (PLACE,),
}
EVERYONE_ELSE = "everyone_else"  # the rest of a subject beside a published segment


def hierarchy_gap(
    current: Mapping[CellKey, Moments], subject: Subject, dimension: str
) -> list[Comparison]:
    """Leaders against frontline staff; when one of them is withheld, the other against the rest.

    The rest of the subject (its whole cell less the published segment) is a difference of
    published cells, so it covers nobody or at least k people; the withheld cell is never read.
    """
    leaders = current.get(subject.cell("role_group", "leaders"))
    frontline = current.get(subject.cell("role_group", "frontline"))
    if leaders is not None and frontline is not None:
        groups = ("leaders", "leaders", leaders), ("frontline", "frontline staff", frontline)
        return [_pair("hierarchy_gap", rules.hierarchy_gap, dimension, *groups)]
    whole = current.get(subject.cell())
    for segment, words, group in (
        ("leaders", "leaders", leaders),
        ("frontline", "frontline staff", frontline),
    ):
        if group is not None and whole is not None and (rest := whole - group).n >= 2:
            pair = (segment, words, group), (EVERYONE_ELSE, "everyone else", rest)
            return [_pair("hierarchy_gap", rules.hierarchy_gap, dimension, *pair)]
    return []


def partner_divide(
    current: Mapping[CellKey, Moments], subject: Subject, dimension: str
) -> list[Comparison]:
    """Each pair of organisation kinds published for a place; one alone, against the rest."""
    if subject.scope not in BREAKDOWNS_READ["organisation_kind"]:
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
    whole = current.get(subject.cell())
    if len(kinds) == 1 and whole is not None and (rest := whole - kinds[0][2]).n >= 2:
        # The other kinds are withheld: the published one against everyone else in the
        # place (place less the kind, a difference of published cells).
        kinds.append((EVERYONE_ELSE, "everyone else in the place", rest))
    return [
        _pair("partner_divide", rules.partner_divide, dimension, a, b)
        for a, b in combinations(kinds, 2)
    ]


def below_place(
    current: Mapping[CellKey, Moments], subject: Subject, dimension: str
) -> list[Comparison]:
    """A team against the rest of its place, when team and place are published."""
    team = current.get(subject.cell())
    place = current.get(CellKey(PLACE, subject.place))
    if subject.scope != TEAM or team is None or place is None:
        return []
    # Place minus team: both published, so the audit keeps this at 0 or k people or more.
    rest = place - team
    if rest.n < 2:
        return []
    shortfall = mean(rest) - mean(team)

    def message(_book: Rulebook, p: str) -> str:
        (team_n, team_mean, _), (rest_n, rest_mean, _) = side(team), side(rest)
        return (
            f"{label(dimension)} averaged {team_mean:.2f} (n={team_n}), "
            f"{shortfall:.2f} below the rest of the place at {rest_mean:.2f} "
            f"(n={rest_n}, {p})"
        )

    def evidence() -> dict[str, Any]:
        (team_n, team_mean, team_sd), (rest_n, rest_mean, rest_sd) = side(team), side(rest)
        return {
            "n": team_n,
            "mean": team_mean,
            "sd": team_sd,
            "rest_n": rest_n,
            "rest_mean": rest_mean,
            "rest_sd": rest_sd,
            "shortfall": round(shortfall, 2),
        }

    return [
        Comparison(
            "below_place",
            dimension,
            # One-sided: only a team below its place is a warning sign.
            welch(rest, team, "greater"),
            shortfall,
            lambda book, p: rules.below_place(
                shortfall,
                p,
                amber_gap=book.below_place.amber_gap,
                red_gap=book.below_place.red_gap,
                alpha=book.alpha,
            ),
            message,
            evidence,
        )
    ]


def _pair(rule: str, grade: GapRule, dimension: str, first: Group, second: Group) -> Comparison:
    """Two groups of one subject, either of which may be the lower: a two-sided test."""
    (segment_a, name_a, a), (segment_b, name_b, b) = first, second
    gap = mean(a) - mean(b)

    def message(_book: Rulebook, p: str) -> str:
        (n_a, mean_a, _), (n_b, mean_b, _) = side(a), side(b)
        return (
            f"On {label(dimension).lower()}, {name_a} averaged {mean_a:.2f} (n={n_a}) and "
            f"{name_b} {mean_b:.2f} (n={n_b}), {abs(gap):.2f} apart ({p})"
        )

    def evidence() -> dict[str, Any]:
        (n_a, mean_a, sd_a), (n_b, mean_b, sd_b) = side(a), side(b)
        return {
            "groups": [segment_a, segment_b],
            "n": [n_a, n_b],
            "means": [mean_a, mean_b],
            "sds": [sd_a, sd_b],
            "gap": round(abs(gap), 2),
        }

    return Comparison(
        rule,
        dimension,
        welch(a, b),
        abs(gap),
        lambda book, p: _grade_gap(book, rule, grade, gap, p),
        message,
        evidence,
    )


def _grade_gap(book: Rulebook, rule: str, grade: GapRule, gap: float, p: float) -> Severity | None:
    settings: Gap = getattr(book, rule)
    return grade(gap, p, amber_gap=settings.amber_gap, red_gap=settings.red_gap, alpha=book.alpha)
