"""Every request in docs/BI.md runs against the real feed endpoints."""

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.vocab import Scope
from tests.api.conftest import Tenant
from tests.builders import make_key

GUIDE = (Path(__file__).resolve().parents[2] / "docs" / "BI.md").read_text(encoding="utf-8")
REQUESTS = re.findall(r"^GET (/v1/\S+)$", GUIDE, flags=re.MULTILINE)
RELATIVE_PATHS = re.findall(r'RelativePath = "([^"]+)"', GUIDE)
CURL_URLS = re.findall(r'"https://pulse\.example\.org(/v1/[^"]+)"', GUIDE)


def test_the_guide_has_requests_to_check() -> None:
    assert len(REQUESTS) >= 6 and RELATIVE_PATHS and CURL_URLS


@pytest.mark.parametrize("path", REQUESTS + CURL_URLS)
def test_each_request_of_the_guide_answers(
    client: TestClient, tenant: Tenant, db: Session, world: dict[str, Any], path: str
) -> None:
    key = make_key(db, tenant.system, Scope.feeds_read)
    response = client.get(path, auth=("powerbi", key))
    assert response.status_code == 200, response.text
    assert response.content


def test_the_power_query_paging_reaches_every_row(
    client: TestClient, tenant: Tenant, db: Session, world: dict[str, Any]
) -> None:
    """What the M code does: a fixed base, RelativePath and Query, paging by next_cursor."""
    key = make_key(db, tenant.system, Scope.feeds_read)
    rows, cursor, first = [], None, True
    while first or cursor is not None:
        first = False
        query = {"format": "json", "limit": "1000"} | ({"cursor": cursor} if cursor else {})
        body = client.get(f"/{RELATIVE_PATHS[0]}?{urlencode(query)}", auth=("pbi", key)).json()
        rows += body["data"]
        cursor = body["next_cursor"]
    everything = client.get("/v1/feeds/scores?format=ndjson", auth=("pbi", key)).text.splitlines()
    assert len(rows) == len(everything) > 0
