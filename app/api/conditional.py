"""Conditional GETs (RFC 9110 section 13): ``If-None-Match`` and ``If-Modified-Since``."""

from email.utils import parsedate_to_datetime

from starlette.datastructures import Headers


def _opaque(tag: str) -> str:
    """An entity tag without its weakness mark: weak comparison ignores it."""
    tag = tag.strip()
    return tag[2:] if tag.startswith("W/") else tag


def etag_matches(if_none_match: str, etag: str) -> bool:
    """Whether ``If-None-Match`` holds ``etag`` by weak comparison, or is ``*``."""
    if if_none_match.strip() == "*":
        return True
    return _opaque(etag) in {_opaque(t) for t in if_none_match.split(",") if t.strip()}


def not_modified(headers: Headers, etag: str, last_modified: str | None) -> bool:
    """Whether a GET with ``headers`` may be answered 304.

    ``If-None-Match`` decides when present; otherwise ``If-Modified-Since`` is compared
    with ``last_modified`` (an HTTP date, or None when the answer has none). A date that
    cannot be read is ignored, as RFC 9110 asks.
    """
    if_none_match = headers.get("if-none-match")
    if if_none_match is not None:
        return etag_matches(if_none_match, etag)
    since = headers.get("if-modified-since")
    if since is None or last_modified is None:
        return False
    try:
        return parsedate_to_datetime(last_modified) <= parsedate_to_datetime(since)
    except (TypeError, ValueError):
        return False
