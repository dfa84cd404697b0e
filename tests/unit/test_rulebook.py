from typing import Any

import pytest

from app.analysis.signs import Rulebook, RulebookError

DEFAULT_RULES = {
    "low_score": {"enabled": True, "amber_below": 3.0, "red_below": 2.5},
    "falling": {"enabled": True, "amber_fall": 0.5, "red_fall": 1.0},
    "sustained_decline": {"enabled": True, "amber_fall": 0.3, "red_fall": None},
    "polarised": {"enabled": True, "amber_sd": 1.25, "red_sd": None},
    "hierarchy_gap": {"enabled": True, "amber_gap": 0.75, "red_gap": 1.25},
    "partner_divide": {"enabled": True, "amber_gap": 0.75, "red_gap": 1.25},
    "below_place": {"enabled": True, "amber_gap": 0.75, "red_gap": None},
    "low_participation": {"enabled": True, "amber_ratio": 0.4, "red_ratio": None},
    "insufficient_responses": {"enabled": True},
    "gone_quiet": {"enabled": True},
    "spreading": {"enabled": True, "amber_share": 0.3, "red_share": 0.5},
}


def test_the_default_rulebook_is_the_design_table() -> None:
    assert Rulebook().to_dict() == {"rules": DEFAULT_RULES}


def test_a_rules_body_round_trips() -> None:
    body = {
        "rules": {
            **DEFAULT_RULES,
            "falling": {"enabled": False, "amber_fall": 0.4, "red_fall": 0.8},
        }
    }

    assert Rulebook.from_dict(body).to_dict() == body


def test_omitted_rules_and_fields_keep_their_defaults() -> None:
    rulebook = Rulebook.from_dict({"version": 3, "rules": {"low_score": {"amber_below": 3.5}}})

    assert rulebook.low_score.amber_below == 3.5
    assert rulebook.low_score.red_below == 2.5
    assert rulebook.falling == Rulebook().falling


def test_a_rule_can_be_disabled() -> None:
    assert (
        Rulebook.from_dict({"rules": {"gone_quiet": {"enabled": False}}}).gone_quiet.enabled
        is False
    )


def test_a_red_level_can_be_removed_or_added_with_null_or_a_number() -> None:
    rulebook = Rulebook.from_dict(
        {"rules": {"falling": {"red_fall": None}, "polarised": {"red_sd": 1.5}}}
    )

    assert rulebook.falling.red_fall is None
    assert rulebook.polarised.red_sd == 1.5


def test_integers_are_read_as_numbers() -> None:
    assert Rulebook.from_dict({"rules": {"falling": {"red_fall": 2}}}).falling.red_fall == 2.0


@pytest.mark.parametrize(
    ("rules", "path"),
    [
        ({"falling": {"red_fall": 0.4}}, "rules/falling/red_fall"),  # red must be beyond amber
        ({"low_score": {"red_below": 3.2}}, "rules/low_score/red_below"),
        ({"low_participation": {"red_ratio": 0.5}}, "rules/low_participation/red_ratio"),
        ({"low_score": {"amber_below": 5.5}}, "rules/low_score/amber_below"),
        ({"low_score": {"amber_below": 0.5}}, "rules/low_score/amber_below"),
        ({"falling": {"amber_fall": 0}}, "rules/falling/amber_fall"),
        ({"falling": {"amber_fall": -0.5}}, "rules/falling/amber_fall"),
        ({"hierarchy_gap": {"amber_gap": 4.5}}, "rules/hierarchy_gap/amber_gap"),
        ({"spreading": {"amber_share": 1.2}}, "rules/spreading/amber_share"),
        ({"polarised": {"amber_sd": "high"}}, "rules/polarised/amber_sd"),
        ({"polarised": {"amber_sd": True}}, "rules/polarised/amber_sd"),
        ({"polarised": {"amber_sd": None}}, "rules/polarised/amber_sd"),
        ({"polarised": {"amber_sd": float("nan")}}, "rules/polarised/amber_sd"),
        ({"polarised": {"enabled": "yes"}}, "rules/polarised/enabled"),
        ({"polarised": {"colour": "red"}}, "rules/polarised/colour"),
        ({"gone_quiet": {"amber_days": 3}}, "rules/gone_quiet/amber_days"),
        ({"crying_wolf": {"enabled": True}}, "rules/crying_wolf"),
        ({"falling": 0.5}, "rules/falling"),
    ],
)
def test_an_invalid_rules_body_names_the_offending_field(rules: dict[str, Any], path: str) -> None:
    with pytest.raises(RulebookError) as caught:
        Rulebook.from_dict({"rules": rules})

    assert caught.value.path == path
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    ("body", "path"), [({"rules": []}, "rules"), ({"rules": {}, "extra": 1}, "extra"), ([], "")]
)
def test_a_malformed_body_names_where(body: Any, path: str) -> None:
    with pytest.raises(RulebookError) as caught:
        Rulebook.from_dict(body)

    assert caught.value.path == path


def test_every_invalid_field_is_reported_at_once() -> None:
    body = {"rules": {"falling": {"amber_fall": "x"}, "low_score": {"red_below": 9}}}

    with pytest.raises(RulebookError) as caught:
        Rulebook.from_dict(body)

    assert [p.path for p in caught.value.problems] == [
        "rules/falling/amber_fall",
        "rules/low_score/red_below",
    ]
    assert "must be at least 1 and at most 5" in str(caught.value)
