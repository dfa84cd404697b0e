"""The system's revision: what a kept computation of a closed pulse is checked against."""

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.models import System


def revise(session: Session, system_id: int) -> None:
    """Record that something a closed pulse's results depend on has changed."""
    session.execute(
        update(System).where(System.id == system_id).values(revision=System.revision + 1)
    )


def revision(session: Session, system_id: int) -> int:
    """The system's current revision."""
    return session.execute(select(System.revision).where(System.id == system_id)).scalar_one()
