"""The system's revision: what a kept computation of a closed pulse is checked against."""

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.db import RESULTS_DUE
from app.models import System


def revise(session: Session, system_id: int) -> None:
    """Record that something a closed pulse's results depend on has changed.

    The session remembers it (``RESULTS_DUE``), so that once the change is committed the
    publisher can be nudged to recompute ahead of the next read.
    """
    results_due(session)
    session.execute(
        update(System).where(System.id == system_id).values(revision=System.revision + 1)
    )


def revision(session: Session, system_id: int) -> int:
    """The system's current revision."""
    return session.execute(select(System.revision).where(System.id == system_id)).scalar_one()


def results_due(session: Session) -> None:
    """Note that once this session commits, some closed pulse's results are due."""
    session.info[RESULTS_DUE] = True
