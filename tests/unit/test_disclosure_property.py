"""Property: no weighting of the cells ``publishable`` keeps isolates fewer than k people.

Worlds are places of one to five teams of 1-22 respondents whose role group, profession
and employer kind cross or nest and are sometimes not given; k runs from 3 to 8. A
respondent may skip the second dimension, which is the same decision on other counts.
Each published cell becomes the set of respondents it sums over, and the independent
checker (``tests.disclosure_checker``) looks for any combination of them, with any
weights, that involves between 1 and k-1 respondents.
"""

from collections import Counter
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from hypothesis import given, note, settings
from hypothesis import strategies as st

from app.analysis.cells import CellKey, Profile
from app.analysis.disclosure import publishable
from tests.disclosure_checker import find_exposure

ROLE_GROUPS = ("frontline", "leaders")
PROFESSIONS = ("nursing", "social_work", "therapy", "admin")
KINDS = ("nhs_trust", "local_authority", "voluntary_sector")
# Nested attributes: each profession employed by one kind (every nurse by the trust, ...).
EMPLOYER = {"nursing": "nhs_trust", "social_work": "local_authority", "therapy": "nhs_trust"}
SEGMENT_TYPES = ("role_group", "profession", "organisation_kind")
MAX_TEAM = 22


@dataclass(frozen=True)
class Respondent:
    id: int
    place: str
    profile: Profile
    answers_second: bool  # False: skipped the second dimension


@dataclass(frozen=True)
class World:
    k: int
    respondents: tuple[Respondent, ...]

    @property
    def team_place(self) -> dict[str, str]:
        return {r.profile.team: r.place for r in self.respondents}

    def __repr__(self) -> str:
        """Each team's respondents by profile (role/profession/kind; ``*``: skips the second)."""
        tally = Counter(
            (r.place, r.profile.team, describe(r.profile) + ("" if r.answers_second else "*"))
            for r in self.respondents
        )
        teams: dict[str, list[str]] = {}
        for (place, team, profile), n in sorted(tally.items()):
            teams.setdefault(f"{place}/{team}", []).append(f"{n} {profile}")
        return (
            f"World(k={self.k}, "
            + "; ".join(f"{t}: {', '.join(p)}" for t, p in teams.items())
            + ")"
        )

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))  # hypothesis prints falsifying examples with this


def describe(profile: Profile) -> str:
    return "/".join(str(getattr(profile, s)) for s in SEGMENT_TYPES)


def attribute(values: tuple[str, ...], missing: bool) -> st.SearchStrategy[str | None]:
    """One of ``values``, or (if ``missing``) None, not given, about one time in three."""
    if not missing:
        return st.sampled_from(values)
    return st.sampled_from([*values, *values, *[None] * len(values)])


@st.composite
def worlds(draw: st.DrawFn) -> World:
    k = draw(st.integers(3, 8))
    nesting = draw(st.sampled_from(["crossed", "employer_by_profession", "leaders_are_nurses"]))
    missing = draw(st.booleans())
    professions = draw(st.sampled_from([PROFESSIONS[:1], PROFESSIONS[:2], PROFESSIONS]))
    kinds = draw(st.sampled_from([KINDS[:1], KINDS[:2], KINDS]))
    # A team is a few groups of respondents alike, some of whom skip the second dimension:
    # far fewer choices to draw (and shrink) than one per respondent.
    group = st.tuples(
        attribute(ROLE_GROUPS, missing),
        attribute(professions, missing),
        attribute(kinds, missing),
        st.sampled_from([1, 1, 2, 3, 5, 8]),
        st.sampled_from([0, 0, 0, 1, 2]),
    )
    respondents: list[Respondent] = []
    for p in range(draw(st.integers(1, 2))):
        for t in range(draw(st.integers(1, 5))):
            size = 0
            for role, profession, kind, count, skipping in draw(
                st.lists(group, min_size=1, max_size=10)
            ):
                if nesting == "employer_by_profession" and kind is not None and profession:
                    kind = EMPLOYER.get(profession, kind)
                if nesting == "leaders_are_nurses" and role == "leaders" and profession:
                    profession = "nursing"
                profile = Profile(f"p{p}-t{t}", role, profession, kind)
                for i in range(min(count, MAX_TEAM - size)):
                    answers = i >= skipping
                    respondents.append(Respondent(len(respondents), f"p{p}", profile, answers))
                size = min(size + count, MAX_TEAM)
    return World(k, tuple(respondents))


def memberships(respondent: Respondent) -> list[CellKey]:
    """The cells a respondent counts in, by DESIGN section 5: whole groups and segments."""
    team, place = respondent.profile.team, respondent.place
    cells = [CellKey("team", team), CellKey("place", place)]
    for segment_type in SEGMENT_TYPES:
        segment = getattr(respondent.profile, segment_type)
        if segment is not None:
            cells += [
                CellKey("team", team, segment_type, segment),
                CellKey("place", place, segment_type, segment),
            ]
    return cells


def show(key: CellKey) -> str:
    return ":".join(str(part) for part in (key.scope, key.subject, key.segment_type, key.segment))


def check(world: World, respondents: list[Respondent]) -> None:
    counts = Counter(r.profile for r in respondents)
    published = publishable(counts, world.team_place, world.k)
    members: dict[CellKey, set[Hashable]] = {}
    for r in respondents:
        for key in memberships(r):
            members.setdefault(key, set()).add(r.id)
    assert published <= members.keys(), "only cells with respondents are published"
    exposed = find_exposure([frozenset(members[key]) for key in published], world.k)
    if exposed is not None:
        around = sorted(key for key in published if members[key] & exposed)
        who = Counter(
            f"{r.profile.team} {describe(r.profile)}" for r in respondents if r.id in exposed
        )
        note(f"exposed: {dict(who)}")
        note(
            "published around them: "
            + "; ".join(f"{show(key)} n={len(members[key])}" for key in around)
        )
    assert exposed is None, f"a weighting of published cells isolates {len(exposed)} (k={world.k})"


@settings(max_examples=400, deadline=None, derandomize=True)
@given(worlds())
def test_no_weighting_of_published_cells_involves_between_one_and_k_minus_one_people(
    world: World,
) -> None:
    check(world, list(world.respondents))
    check(world, [r for r in world.respondents if r.answers_second])
