"""The committed contract is what the app serves, and every field in it is described and bounded."""

import json
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute

from app.main import create_app

SPEC = create_app().openapi()


class _Text(str):
    """Equal to any string: a description's wording is not what these tests check."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str)

    def __hash__(self) -> int:
        return 0


ANY_TEXT = _Text()


def test_committed_contract_equals_what_the_app_serves(project_root: Path) -> None:
    committed = json.loads((project_root / "openapi" / "openapi.json").read_text(encoding="utf-8"))
    assert committed == SPEC, "run `pulse openapi --output openapi/openapi.json` and commit it"


def test_served_openapi_json_is_the_same_document(client: Any) -> None:
    assert client.get("/openapi.json").json() == SPEC


def properties() -> list[tuple[str, str, dict[str, Any]]]:
    found = []
    for model, schema in SPEC["components"]["schemas"].items():
        for name, prop in schema.get("properties", {}).items():
            found.append((model, name, prop))
    return found


def variants(prop: dict[str, Any]) -> list[dict[str, Any]]:
    """The non-null alternatives of a property, with $refs and enums left as they are."""
    options = prop.get("anyOf", [prop])
    return [o for o in options if o.get("type") != "null"]


@pytest.mark.parametrize(("model", "name", "prop"), properties())
def test_every_field_has_a_description(model: str, name: str, prop: dict[str, Any]) -> None:
    described = "description" in prop or (
        "$ref" in prop
        and "description" in SPEC["components"]["schemas"][prop["$ref"].split("/")[-1]]
    )
    assert described, f"{model}.{name} has no description"


@pytest.mark.parametrize(("model", "name", "prop"), properties())
def test_every_field_has_limits(model: str, name: str, prop: dict[str, Any]) -> None:
    for option in variants(prop):
        kind = option.get("type")
        if "$ref" in option or "enum" in option or "const" in option:
            continue
        if kind == "string" and option.get("format") not in {"date", "date-time", "uuid"}:
            assert "maxLength" in option, f"{model}.{name} has no maxLength"
        elif kind == "integer":
            assert {"minimum", "maximum"} <= option.keys(), f"{model}.{name} is unbounded"
        elif kind == "array":
            assert "maxItems" in option, f"{model}.{name} has no maxItems"


def operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, op)
        for path, item in SPEC["paths"].items()
        for method, op in item.items()
    ]


@pytest.mark.parametrize(("method", "path", "op"), operations())
def test_every_error_response_is_declared_as_problem_json(
    method: str, path: str, op: dict[str, Any]
) -> None:
    for status, response in op["responses"].items():
        if int(status) >= 400:
            assert list(response["content"]) == ["application/problem+json"], (method, path, status)
    if path.startswith("/v1/"):
        assert "401" in op["responses"], (method, path)
    if "requestBody" in op:
        assert {"400", "413", "415", "422"} <= op["responses"].keys(), (method, path)


def test_no_fastapi_default_validation_schema_is_left() -> None:
    assert "HTTPValidationError" not in SPEC["components"]["schemas"]


def nodes(node: Any) -> list[dict[str, Any]]:
    """Every object in ``node``, at any depth."""
    if isinstance(node, dict):
        return [node, *(n for v in node.values() for n in nodes(v))]
    if isinstance(node, list):
        return [n for v in node for n in nodes(v)]
    return []


def test_every_route_sets_its_operation_id_explicitly() -> None:
    app = create_app()
    implicit = [
        f"{sorted(route.methods)} {route.path}"
        for route in app.routes
        if isinstance(route, APIRoute) and route.include_in_schema and not route.operation_id
    ]
    assert implicit == []


def test_operation_ids_are_unique_lower_camel_case() -> None:
    ids = [op["operationId"] for _method, _path, op in operations()]
    assert len(ids) == len(set(ids))
    assert [i for i in ids if not re.fullmatch(r"[a-z]+(?:[A-Z][a-z0-9]*)+", i)] == []


@pytest.mark.parametrize(
    "name",
    [
        "Dimension",
        "Severity",
        "Rule",
        "ResultScope",
        "SegmentType",
        "Role",
        "Profession",
        "OrganisationKind",
    ],
)
def test_each_enum_is_one_shared_component(name: str) -> None:
    values = set(SPEC["components"]["schemas"][name]["enum"])
    copies = [node for node in nodes(SPEC) if set(node.get("enum", ())) == values]
    assert copies == [SPEC["components"]["schemas"][name]]


def test_filters_and_fields_use_the_shared_enums() -> None:
    flag = SPEC["components"]["schemas"]["WarningSignFeedRow"]["properties"]
    assert flag["rule"] == {"$ref": "#/components/schemas/Rule", "description": ANY_TEXT}
    signs = {
        p["name"]: p["schema"] for p in SPEC["paths"]["/v1/warning-signs"]["get"]["parameters"]
    }
    assert signs["rule"]["$ref"] == "#/components/schemas/Rule"
    assert signs["severity"]["$ref"] == "#/components/schemas/Severity"
    assert signs["dimension"]["$ref"] == "#/components/schemas/Dimension"
    assert signs["scope"]["$ref"] == "#/components/schemas/ResultScope"


def test_path_parameters_have_a_pattern_and_a_length() -> None:
    for method, path, op in operations():
        for parameter in op.get("parameters", []):
            if parameter["in"] == "path":
                schema = parameter["schema"]
                assert {"pattern", "maxLength"} <= schema.keys(), (method, path, parameter["name"])


def test_every_integer_has_a_format() -> None:
    integers = [node for node in nodes(SPEC) if node.get("type") == "integer"]
    assert integers
    assert [i for i in integers if i.get("format") not in {"int32", "int64"}] == []


@pytest.mark.parametrize(("method", "path", "op"), operations())
def test_keyed_operations_declare_429_500_and_the_rate_limit_fields(
    method: str, path: str, op: dict[str, Any]
) -> None:
    responses = op["responses"]
    assert "500" in responses, (method, path)
    if path.startswith("/v1/"):
        assert "429" in responses, (method, path)
        assert "Retry-After" in responses["429"]["headers"]
        for status, response in responses.items():
            assert {"RateLimit", "RateLimit-Policy"} <= response["headers"].keys(), status


def test_feeds_declare_json_only() -> None:
    for path in ("/v1/feeds/scores", "/v1/feeds/warning-signs"):
        op = SPEC["paths"][path]["get"]
        assert list(op["responses"]["200"]["content"]) == ["application/json"]
        assert "format" not in {p["name"] for p in op["parameters"]}
