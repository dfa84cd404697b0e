"""The stable ids feeds show: RFC 4122 name-based UUIDs, the same from one release to the next."""

import uuid

from hypothesis import given
from hypothesis import strategies as st

from app.analysis.cells import (
    CELL_NAMESPACE,
    PARTICIPATION_NAMESPACE,
    cell_id,
    participation_id,
    uuid5,
)


@given(st.text(), st.sampled_from([CELL_NAMESPACE, PARTICIPATION_NAMESPACE, uuid.NAMESPACE_DNS]))
def test_a_name_based_id_is_the_standard_librarys(name: str, namespace: uuid.UUID) -> None:
    assert uuid5(namespace, name) == str(uuid.uuid5(namespace, name))


def test_the_ids_of_a_cell_and_a_participation_do_not_move() -> None:
    # As BI tools keep them: the ids a release gave, written down.
    team = cell_id("north-ics", "2026-10", "team", "t-ok1", "purpose", None, None)
    segment = cell_id("north-ics", "2026-10", "place", "p1", "support", "role_group", "frontline")
    assert team == "91dc0a57-9b38-53b6-812a-c22096aa0584"
    assert segment == "c859a59d-5f8e-5e63-8f99-129c60b74347"
    taking_part = participation_id("north-ics", "2026-10", "team", "t-ok1")
    assert taking_part == "cd0b3606-0438-5bb9-ab4c-a987fc3544b7"
