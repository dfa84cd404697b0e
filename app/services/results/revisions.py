"""Revisions: what a kept computation of a closed pulse is checked against.

The system's revision moves with changes to structure, settings and anything else every
pulse depends on; a pulse's own revision with changes to its responses after it closed.

And the locks that keep a response from slipping into a pulse as it closes unseen: on
PostgreSQL a transaction storing responses holds a shared advisory lock on each pulse it
writes to, taken before it reads whether the pulse is open; closing a pulse takes the
exclusive one, so it waits for those writers and later writers see it closed. (SQLite
runs writers one at a time.)
"""

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Select, func, select, text, update
from sqlalchemy.orm import Session

from app.db import RESULTS_AT_ONCE, RESULTS_DUE
from app.models import Pulse, System


def revise(session: Session, system_id: int, at_once: bool = False) -> None:
    """Record that something a closed pulse's results depend on has changed.

    The session remembers it (``RESULTS_DUE``), so that once the change is committed the
    publisher can be nudged to recompute ahead of the next read (``at_once``: see
    ``results_due``).
    """
    results_due(session, at_once)
    session.execute(
        update(System).where(System.id == system_id).values(revision=System.revision + 1)
    )


def revise_pulse(session: Session, pulse_id: int) -> None:
    """Record that the responses of a pulse changed after it closed (or as it closes)."""
    results_due(session)
    session.execute(update(Pulse).where(Pulse.id == pulse_id).values(revision=Pulse.revision + 1))


def revision(session: Session, system_id: int) -> int:
    """The system's current revision."""
    return session.execute(select(System.revision).where(System.id == system_id)).scalar_one()


def results_due(session: Session, at_once: bool = False) -> None:
    """Note that once this session commits, some closed pulse's results are due.

    ``at_once`` for a change that comes alone (a pulse closed, a new rulebook): the
    publisher then starts without waiting for the rest of a burst (``Publisher.SETTLE``).
    """
    session.info[RESULTS_DUE] = True
    if at_once:
        session.info[RESULTS_AT_ONCE] = True


# The first key of the advisory locks on pulses (the second: a pulse id).
PULSE_LOCK_SPACE = 7302
# A close waits for batches being stored (a second or two), a batch for a close (less):
# anything longer is something stuck.
PULSE_LOCK_TIMEOUT = "10s"


def writing_to(session: Session, pulse_ids: Select[tuple[int]]) -> None:
    """Hold off closing the pulses ``pulse_ids`` selects until this transaction ends."""
    if session.get_bind().dialect.name == "postgresql":
        # One statement, locking in id order: the order of the subquery, which PostgreSQL
        # keeps when the outer query only maps it (the documented idiom for advisory locks).
        ids = pulse_ids.order_by(Pulse.id).subquery()
        locks = select(func.pg_advisory_xact_lock_shared(PULSE_LOCK_SPACE, ids.c.id))
        with _lock_timeout(session):
            session.execute(locks).all()


def closing(session: Session, pulse_id: int) -> None:
    """Wait for transactions writing to this pulse, and hold off new ones (PostgreSQL)."""
    if session.get_bind().dialect.name == "postgresql":
        with _lock_timeout(session):
            session.execute(select(func.pg_advisory_xact_lock(PULSE_LOCK_SPACE, pulse_id)))


@contextmanager
def _lock_timeout(session: Session) -> Iterator[None]:
    """Give up waiting for a pulse lock after a while (a 503 to the caller, who retries)."""
    session.execute(text(f"SET LOCAL lock_timeout = '{PULSE_LOCK_TIMEOUT}'"))
    yield
    session.execute(text("SET LOCAL lock_timeout = DEFAULT"))
