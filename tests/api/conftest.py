"""Fixtures for API tests: a system with an admin key, and a second system."""

from dataclasses import dataclass

import pytest
from sqlalchemy.orm import Session

from app.models import System
from tests.builders import make_key, make_system


@dataclass
class Tenant:
    system: System
    admin: dict[str, str]


def _tenant(db: Session, slug: str) -> Tenant:
    system = make_system(db, slug)
    return Tenant(system, {"Authorization": f"Bearer {make_key(db, system)}"})


@pytest.fixture
def tenant(db: Session) -> Tenant:
    """System A and an admin key of it."""
    return _tenant(db, "north-ics")


@pytest.fixture
def other(db: Session) -> Tenant:
    """System B and an admin key of it."""
    return _tenant(db, "south-ics")


# The insights and feeds tests share this world; imported last, as it uses Tenant.
from tests.api.world import world  # noqa: E402, F401
