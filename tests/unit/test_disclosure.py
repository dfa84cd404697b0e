import pytest

from app.analysis.cells import CellKey, Profile, cell_counts, role_group
from app.analysis.disclosure import disclose, publishable
from app.analysis.stats import Moments


def team(code: str, segment_type: str | None = None, segment: str | None = None) -> CellKey:
    return CellKey("team", code, segment_type, segment)


def place(code: str, segment_type: str | None = None, segment: str | None = None) -> CellKey:
    return CellKey("place", code, segment_type, segment)


def one_team(*groups: tuple[dict[str, str], int], k: int = 5) -> frozenset[CellKey]:
    """Publishable cells of team t in place p, given (attributes, respondents) groups."""
    counts = {Profile("t", **attributes): n for attributes, n in groups}
    return publishable(counts, {"t": "p"}, k)


@pytest.mark.parametrize(
    ("n", "k", "shown"),
    [(4, 5, False), (5, 5, True), (6, 5, True), (2, 3, False), (3, 3, True)],
)
def test_a_cell_below_the_threshold_is_never_published(n: int, k: int, shown: bool) -> None:
    published = one_team(({}, n), k=k)

    assert (team("t") in published) is shown
    assert (place("p") in published) is shown


@pytest.mark.parametrize(
    ("frontline", "leaders", "no_role", "expected"),
    [
        (8, 4, 0, set()),  # leaders too few, and so the rest of frontline
        (8, 5, 0, {"frontline", "leaders"}),
        (10, 0, 0, {"frontline"}),  # the rest of the group is empty
        (9, 0, 3, set()),  # the rest is the 3 who gave no role
        (9, 0, 5, {"frontline"}),
        (9, 4, 1, {"frontline"}),  # its rest: 4 leaders and 1 who gave no role
    ],
)
def test_a_segment_is_published_only_if_the_rest_of_its_group_is_empty_or_large_enough(
    frontline: int, leaders: int, no_role: int, expected: set[str]
) -> None:
    published = one_team(
        ({"role_group": "frontline"}, frontline),
        ({"role_group": "leaders"}, leaders),
        ({}, no_role),
    )

    assert {c.segment for c in published if c.scope == "team" and c.segment} == expected
    assert {c.segment for c in published if c.scope == "place" and c.segment} == expected


@pytest.mark.parametrize(
    ("therapy", "no_profession", "expected"),
    [
        (2, 2, {"social_work"}),  # 6 + 7 published would leave 4: the smaller one goes
        (5, 0, {"nursing", "social_work", "therapy"}),
        (2, 3, {"nursing", "social_work"}),  # the remainder of 5 is enough
        (0, 0, {"nursing", "social_work"}),
    ],
)
def test_the_unpublished_remainder_of_several_segments_is_empty_or_large_enough(
    therapy: int, no_profession: int, expected: set[str]
) -> None:
    published = one_team(
        ({"profession": "nursing"}, 6),
        ({"profession": "social_work"}, 7),
        ({"profession": "therapy"}, therapy),
        ({}, no_profession),
    )

    assert {c.segment for c in published if c.scope == "team" and c.segment} == expected


@pytest.mark.parametrize(
    ("sizes", "place_shown", "teams_shown"),
    [
        # c alone would be place - a - b: the place goes, and the teams stay (teams are
        # where people intervene, DESIGN section 3.8).
        ({"a": 10, "b": 8, "c": 3}, False, {"a", "b"}),
        ({"a": 10, "b": 8, "c": 3, "d": 2}, True, {"a", "b"}),  # c + d hold 5
        ({"a": 10, "b": 8}, True, {"a", "b"}),
        ({"a": 4, "b": 4}, True, set()),
        ({"a": 9, "b": 6, "c": 5, "d": 1}, False, {"a", "b", "c"}),
    ],
)
def test_the_suppressed_teams_of_a_published_place_hold_none_or_enough_responses(
    sizes: dict[str, int], place_shown: bool, teams_shown: set[str]
) -> None:
    published = publishable({Profile(t): n for t, n in sizes.items()}, dict.fromkeys(sizes, "p"), 5)

    assert (place("p") in published) is place_shown
    assert {c.subject for c in published if c.scope == "team"} == teams_shown


def test_place_by_organisation_kind_is_protected_against_team_by_organisation_kind() -> None:
    # Team b has 2 council staff. Publishing a's trust and council figures, a's whole and
    # the place's council figure would give b's 2 as place council - (a - a trust).
    counts = {
        Profile("a", organisation_kind="nhs_trust"): 6,
        Profile("a", organisation_kind="local_authority"): 6,
        Profile("b", organisation_kind="nhs_trust"): 6,
        Profile("b", organisation_kind="local_authority"): 2,
    }

    published = publishable(counts, {"a": "p", "b": "p"}, 5)

    # Team b's council figure (2) is withheld, so b's trust figure and the place's figures
    # by kind, which would give it, go; a's breakdown and both teams stay.
    assert published == {
        place("p"),
        team("a"),
        team("a", "organisation_kind", "nhs_trust"),
        team("a", "organisation_kind", "local_authority"),
        team("b"),
    }


def test_segments_of_different_types_that_nest_are_not_both_published() -> None:
    # Every nurse is a trust employee: trust - nursing would be the other 2 trust staff.
    published = one_team(
        ({"profession": "nursing", "organisation_kind": "nhs_trust"}, 8),
        ({"profession": "social_work", "organisation_kind": "local_authority"}, 5),
        ({"organisation_kind": "nhs_trust"}, 2),
    )

    # Social work and the council are the same five people: one equation, kept together.
    assert {(c.segment_type, c.segment) for c in published if c.scope == "team"} == {
        (None, None),
        ("organisation_kind", "nhs_trust"),
        ("organisation_kind", "local_authority"),
        ("profession", "social_work"),
    }


def test_a_place_that_would_give_away_a_small_team_is_suppressed_and_its_teams_kept() -> None:
    # p - a - b would be c (3): the place goes. The place's frontline figure is exactly a's
    # 5 frontline staff, already published as a's: the same equation, so it stays.
    counts = {Profile("a", role_group="frontline"): 5, Profile("b"): 9, Profile("c"): 3}

    published = publishable(counts, {"a": "p", "b": "p", "c": "p"}, 5)

    assert published == {
        team("a"),
        team("a", "role_group", "frontline"),
        place("p", "role_group", "frontline"),
        team("b"),
    }


def test_places_are_decided_independently() -> None:
    counts = {Profile("a"): 10, Profile("b"): 3, Profile("c"): 7}

    published = publishable(counts, {"a": "p", "b": "p", "c": "q"}, 5)

    # In p the place would give b as p - a: the place goes. q is team c alone.
    assert published == {team("a"), place("q"), team("c")}


def test_a_team_without_a_place_is_an_error() -> None:
    with pytest.raises(ValueError, match="'x' has no place"):
        publishable({Profile("x"): 5}, {}, 5)


def test_a_threshold_below_one_is_an_error() -> None:
    with pytest.raises(ValueError, match="k must be at least 1"):
        publishable({Profile("t"): 5}, {"t": "p"}, 0)


def test_respondents_without_an_attribute_count_in_the_whole_group_only() -> None:
    counts = {Profile("t", role_group="leaders"): 2, Profile("t"): 3}

    assert cell_counts(counts, {"t": "p"}) == {
        team("t"): 5,
        place("p"): 5,
        team("t", "role_group", "leaders"): 2,
        place("p", "role_group", "leaders"): 2,
    }


def test_disclose_gives_moments_of_published_cells_and_none_for_suppressed_ones() -> None:
    moments = {
        Profile("t", role_group="frontline"): Moments.of([4.0, 4.0, 3.0, 5.0, 4.0]),
        Profile("t", role_group="leaders"): Moments.of([2.0, 3.0]),
    }

    disclosed = disclose(moments, {"t": "p"}, 5)

    assert disclosed[team("t")] == Moments.of([4.0, 4.0, 3.0, 5.0, 4.0, 2.0, 3.0])
    assert disclosed[team("t", "role_group", "frontline")] is None
    assert disclosed[team("t", "role_group", "leaders")] is None


@pytest.mark.parametrize(
    ("role", "group"),
    [
        ("frontline", "frontline"),
        ("team_lead", "leaders"),
        ("manager", "leaders"),
        ("senior_leader", "leaders"),
        (None, None),
    ],
)
def test_roles_fall_into_frontline_and_leaders(role: str | None, group: str | None) -> None:
    assert role_group(role) == group
