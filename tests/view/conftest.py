"""The analyst's view in a real browser: Debian's Chromium, driven by Playwright, on the demo.

One demo database (SQLite), one live server and one browser serve every test here. Without
/usr/bin/chromium the tests skip, unless PULSE_TEST_REQUIRE_BROWSER is set (CI sets it):
then they fail, so that CI cannot pass without running them.
"""

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from bench.common import serve
from tests.conftest import BuiltDemo

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "docs" / "screenshots"
AXE = Path(__file__).with_name("axe.min.js").read_text(encoding="utf-8")
WIDTHS = (1280, 390)


def _browser_or_skip() -> Any:
    """Playwright's module, or a skip (a failure where the browser is required)."""
    required = bool(os.environ.get("PULSE_TEST_REQUIRE_BROWSER"))
    try:
        from playwright import sync_api
    except ImportError:
        if required:
            pytest.fail("PULSE_TEST_REQUIRE_BROWSER is set but playwright is not installed")
        pytest.skip("playwright is not installed")
    if not CHROMIUM.exists():
        if required:
            pytest.fail(f"PULSE_TEST_REQUIRE_BROWSER is set but {CHROMIUM} is missing")
        pytest.skip(f"{CHROMIUM} is not installed")
    return sync_api


@dataclass
class Demo:
    """The demo behind a live server: its address and admin key."""

    base: str
    key: str

    def get(self, path: str, **params: Any) -> Any:
        """A JSON answer of the API, read with the demo's key."""
        answer = httpx.get(
            f"{self.base}{path}", params=params, headers={"Authorization": f"Bearer {self.key}"}
        )
        answer.raise_for_status()
        return answer.json()

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        """A JSON answer of the API to a POST with the demo's (admin) key."""
        answer = httpx.post(
            f"{self.base}{path}", json=body, headers={"Authorization": f"Bearer {self.key}"}
        )
        answer.raise_for_status()
        return answer.json()


@pytest.fixture(scope="session")
def playwright_api() -> Any:
    return _browser_or_skip()


@pytest.fixture(scope="session")
def demo(playwright_api: Any, built_demo: BuiltDemo) -> Iterator[Demo]:
    """The session's demo (shared with tests/test_demo.py) behind one live server."""
    assert built_demo.exit_code == 0, built_demo.stderr
    with serve(built_demo.url, PULSE_PUBLISH_INTERVAL="0") as (_process, base):
        yield Demo(base, built_demo.stdout.strip())


@pytest.fixture(scope="session")
def browser(playwright_api: Any) -> Iterator[Any]:
    with playwright_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM))
        yield launched
        launched.close()


class View:
    """A browser tab on the view, which records what the page refused or failed at."""

    def __init__(self, page: Any, demo: Demo) -> None:
        self.page = page
        self.demo = demo
        self.problems: list[str] = []
        page.on(
            "console",
            lambda m: self.problems.append(m.text) if m.type == "error" else None,
        )
        page.on("pageerror", lambda e: self.problems.append(str(e)))

    def open(self, fragment: str, ready: str) -> None:
        """Open ``/view/#/fragment`` and wait until its page says it is drawn."""
        self.page.goto(f"{self.demo.base}/view/#/{fragment}")
        self.wait(ready)

    def wait(self, ready: str) -> None:
        """Wait for the page named ``ready`` to be drawn."""
        self.page.wait_for_selector(f"#app[data-ready='{ready}']")

    def serious_violations(self) -> list[str]:
        """axe-core's serious and critical findings on the page as it stands."""
        self.page.evaluate(AXE)
        found: list[str] = self.page.evaluate(
            """async () => (await axe.run(document, {resultTypes: ["violations"]})).violations
                .filter((v) => v.impact === "serious" || v.impact === "critical")
                .map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`)"""
        )
        return found

    def screenshots(self, name: str) -> None:
        """The page at each width, into docs/screenshots/."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        size = self.page.viewport_size
        for width in WIDTHS:
            self.page.set_viewport_size({"width": width, "height": 900})
            self.page.screenshot(path=SCREENSHOTS / f"{name}-{width}.png", full_page=True)
        self.page.set_viewport_size(size)


@pytest.fixture
def view(browser: Any, demo: Demo) -> Iterator[View]:
    """A fresh tab, not signed in."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    yield View(context.new_page(), demo)
    context.close()


def sign_in(view: View, key: str) -> View:
    """Sign the tab in with ``key`` through the sign-in form."""
    view.open("overview", "sign-in")
    view.page.fill("#key", key)
    view.page.click("button[type=submit]")
    view.wait("overview")
    return view


@pytest.fixture
def signed_in(view: View) -> View:
    """A fresh tab, signed in with the demo's key through the sign-in form."""
    return sign_in(view, view.demo.key)
