"""The analyst's view: a read-only page at /view/ that reads the public API in the browser.

The page holds no data of its own: its script signs in with an API key (kept in the tab's
sessionStorage, sent as a Bearer header) and shows what the ``/v1`` routes publish.
"""

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, RedirectResponse
from starlette.staticfiles import StaticFiles

HERE = Path(__file__).parent
# The view's own Content-Security-Policy: its files only, no inline script or style, no eval.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
)

# The pages are not part of the API contract.
router = APIRouter(include_in_schema=False)


@router.get("/view/")
def page() -> FileResponse:
    """The view's one HTML page; its script routes by the URL's fragment."""
    return FileResponse(HERE / "index.html", media_type="text/html")


@router.get("/view")
def to_page() -> RedirectResponse:
    """To ``/view/``, by a relative URL (never one built from the Host header)."""
    return RedirectResponse("view/", status_code=308)


def static_files() -> StaticFiles:
    """The view's script, stylesheet and vendored libraries."""
    return StaticFiles(directory=HERE / "static")
