"""Conditional GETs compare entity tags weakly and honour If-Modified-Since (RFC 9110)."""

import pytest
from starlette.datastructures import Headers

from app.api.conditional import etag_matches, not_modified

TAG = '"abc"'
MODIFIED = "Tue, 01 Dec 2026 18:33:10 GMT"


@pytest.mark.parametrize(
    ("sent", "matches"),
    [
        ('"abc"', True),
        ('W/"abc"', True),
        ('"x", W/"abc"', True),
        ("*", True),
        ('"abd"', False),
        ("", False),
    ],
)
def test_if_none_match_is_compared_weakly(sent: str, matches: bool) -> None:
    assert etag_matches(sent, TAG) is matches


def test_if_modified_since_at_or_after_last_modified_is_not_modified() -> None:
    assert not_modified(Headers({"if-modified-since": MODIFIED}), TAG, MODIFIED)
    later = "Wed, 02 Dec 2026 00:00:00 GMT"
    assert not_modified(Headers({"if-modified-since": later}), TAG, MODIFIED)


def test_if_modified_since_before_last_modified_is_modified() -> None:
    earlier = "Mon, 30 Nov 2026 00:00:00 GMT"
    assert not not_modified(Headers({"if-modified-since": earlier}), TAG, MODIFIED)


def test_if_none_match_decides_over_if_modified_since() -> None:
    headers = Headers({"if-none-match": '"other"', "if-modified-since": MODIFIED})
    assert not not_modified(headers, TAG, MODIFIED)


def test_an_unreadable_date_is_ignored() -> None:
    assert not not_modified(Headers({"if-modified-since": "yesterday"}), TAG, MODIFIED)
