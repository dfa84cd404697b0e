"""The committed contract is what the app serves, and every field in it is described and bounded."""

import json
from pathlib import Path
from typing import Any

import pytest

from app.main import create_app

SPEC = create_app().openapi()


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
