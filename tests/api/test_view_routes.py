"""The analyst's view as the server sends it: its page, files and Content-Security-Policy."""

from fastapi.testclient import TestClient


def test_the_view_page_carries_a_policy_without_inline_code_or_eval(client: TestClient) -> None:
    answer = client.get("/view/")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
    policy = answer.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert "<script>" not in answer.text and "style=" not in answer.text


def test_the_view_files_are_served_by_the_service_under_the_same_policy(
    client: TestClient,
) -> None:
    for path in ("view.js", "view.css", "vendor/plot.umd.min.js", "vendor/d3.min.js"):
        answer = client.get(f"/view/static/{path}")
        assert answer.status_code == 200, path
        assert "content-security-policy" in answer.headers


def test_the_api_answers_carry_no_view_policy(client: TestClient) -> None:
    assert "content-security-policy" not in client.get("/healthz").headers


def test_the_view_without_its_slash_is_sent_to_it_by_a_relative_url(client: TestClient) -> None:
    answer = client.get("/view", follow_redirects=False)
    assert answer.status_code == 308 and answer.headers["location"] == "view/"


def test_the_view_pages_are_not_part_of_the_contract(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert not [p for p in paths if p.startswith("/view")]
