"""The API's enums say what the analysis core knows."""

from app.analysis.signs import RULES
from app.vocab import DIMENSIONS, SEVERITY_RANK, Dimension, Rule, Severity


def test_the_rule_enum_names_every_rule_of_the_rulebook() -> None:
    assert sorted(Rule) == sorted(RULES)


def test_the_dimension_enum_is_the_five_dimensions_in_order() -> None:
    assert tuple(Dimension) == DIMENSIONS


def test_red_ranks_before_amber_before_info() -> None:
    assert sorted(Severity, key=SEVERITY_RANK.__getitem__) == ["red", "amber", "info"]
