"""The OpenAPI document as the service serves it, finished for client generators and linters.

FastAPI's document is adjusted once, at first request:

- every error response is ``application/problem+json``, FastAPI's own 422 schema removed;
- bodies a route parses itself are declared as components;
- optional parameters are not declared nullable (a query string holds no null);
- every integer has a format (``int32`` where its bounds fit, else ``int64``);
- every date, time or UUID string has a ``maxLength`` (what ``schemas.common`` enforces);
- the RateLimit fields are declared on the answers that carry them (``app.ratelimit``).
"""

from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from app.ratelimit import declare_headers
from app.schemas.common import MAX_TIME_TEXT

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
# The longest text of a value of each string format, as the service reads and writes it.
FORMAT_MAX_LENGTH = {"date": MAX_TIME_TEXT, "date-time": MAX_TIME_TEXT, "uuid": 36}


def build(app: FastAPI, bodies: tuple[type[BaseModel], ...]) -> dict[str, Any]:
    """The document of ``app``; ``bodies`` are request bodies its routes parse themselves."""
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
        tags=app.openapi_tags,
    )
    for operation in operations(schema):
        responses = operation.get("responses", {})
        auto = responses.get("422", {}).get("content", {}).get("application/json", {})
        if auto.get("schema", {}).get("$ref", "").endswith("/HTTPValidationError"):
            # FastAPI's own 422 is replaced by the problem responses each route declares.
            del responses["422"]
        for status, response in responses.items():
            content = response.get("content", {})
            if int(status) >= 400 and "application/json" in content:
                content["application/problem+json"] = content.pop("application/json")
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    for model in bodies:
        extra = model.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(extra.pop("$defs", {}))
        components[model.__name__] = extra
    for operation in operations(schema):
        for parameter in operation.get("parameters", []):
            _not_null(parameter)
    for node in _schemas(schema):
        _bound(node)
    declare_headers(schema)
    return schema


def operations(schema: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every operation of the document."""
    for path_item in schema["paths"].values():
        yield from path_item.values()


def _not_null(parameter: dict[str, Any]) -> None:
    """An optional parameter's schema without FastAPI's ``null``: a query string has none."""
    options = parameter["schema"].get("anyOf", [])
    kept = [option for option in options if option.get("type") != "null"]
    if len(kept) == 1 and len(options) == 2:
        rest = {k: v for k, v in parameter["schema"].items() if k != "anyOf"}
        parameter["schema"] = {**kept[0], **rest}


def _schemas(node: Any) -> Iterator[dict[str, Any]]:
    """Every object in the document that has a ``type`` (JSON Schemas, and a few more)."""
    if isinstance(node, dict):
        if isinstance(node.get("type"), str):
            yield node
        for value in node.values():
            yield from _schemas(value)
    elif isinstance(node, list):
        for value in node:
            yield from _schemas(value)


def _bound(node: dict[str, Any]) -> None:
    """Give an integer its format, and a date, time or UUID string its length."""
    if node["type"] == "integer" and "format" not in node:
        low, high = node.get("minimum"), node.get("maximum")
        fits = low is not None and high is not None and INT32_MIN <= low <= high <= INT32_MAX
        node["format"] = "int32" if fits else "int64"
    elif node["type"] == "string" and node.get("format") in FORMAT_MAX_LENGTH:
        node.setdefault("maxLength", FORMAT_MAX_LENGTH[node["format"]])
