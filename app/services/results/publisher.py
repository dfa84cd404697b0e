"""Computing the results of closed pulses ahead of the first read.

A closed pulse's scores and warning signs are kept once computed (``results.publish``).
Left to the first read, that computation falls on an analyst's request; the publisher
makes it beforehand: when a pulse closes, when the structure, the rules or a closed
pulse's responses change (a request that revised the system nudges it), and every
``interval`` seconds for pulses that closed by date with nobody asking. With nothing due,
it keeps in memory the assessments of the recent pulses (``results.assessments``), so
that a rule change grades them without reading their cells again.

A read that arrives while the publisher is computing waits for it and then reads
(PostgreSQL: the per-system advisory lock; SQLite: the write lock), so a pulse is never
computed twice at once. The publisher runs as a thread of ``pulse serve``, or on its own
as ``pulse publish --watch``; several of them may run against one database.
"""

import gc
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from app.db import READ_ONLY
from app.models import Publication, Pulse, System
from app.services.results.publish import (
    KeptCache,
    closed_pulses,
    compute,
    inputs_key,
    keep,
    local_lock,
    publish,
    warm,
)

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

# The publisher keeps the results of each system's latest closed pulses current (those
# analysts and feeds read most); older ones are computed by the read that wants them.
RECENT = 6
# How many times the publisher computes a pulse whose inputs change while it computes.
KEEP_ATTEMPTS = 3


@dataclass(frozen=True)
class Pending:
    """A closed pulse whose kept results do not match its inputs."""

    system_id: int
    system: str
    pulse_id: int
    pulse: str
    age: int  # 0 for a system's latest closed pulse, 1 for the one before, …


@dataclass(frozen=True)
class Published:
    """A computation the publisher made."""

    system: str
    pulse: str
    seconds: float
    error: str | None = None  # why it failed, if it did


def pending(session: Session, now: datetime) -> list[Pending]:
    """The recent closed pulses whose results must be (re)computed, latest pulses first."""
    found = []
    for system in session.scalars(select(System).order_by(System.id)).all():
        closed = closed_pulses(session, system.id, now)
        kept = dict(
            session.execute(
                select(Publication.pulse_id, Publication.inputs).where(
                    Publication.system_id == system.id
                )
            ).all()
        )
        for age, pulse in enumerate(reversed(closed[-RECENT:])):
            if kept.get(pulse.id) != inputs_key(session, system, pulse, now, closed):
                found.append(Pending(system.id, system.slug, pulse.id, pulse.key, age))
    return sorted(found, key=lambda p: (p.age, p.system_id))


def publish_pending(
    factory: sessionmaker[Session],
    now: Clock,
    stopping: Callable[[], bool] = lambda: False,
) -> list[Published]:
    """Compute every pending pulse, each in a transaction of its own."""
    with factory() as session:
        session.connection(execution_options={READ_ONLY: True})
        todo = pending(session, now())
    done = []
    seen: KeptCache = {}  # ledgers read, shared by the pulses of this run
    for item in todo:
        if stopping():
            break
        start = time.perf_counter()
        try:
            _publish_one(factory, item, now, seen)
        except OperationalError:
            raise  # the database is out of reach: nothing else will work either
        except Exception as exc:  # one pulse failing must not keep the others from publishing
            log.exception("publishing %s/%s failed", item.system, item.pulse)
            seconds = time.perf_counter() - start
            done.append(Published(item.system, item.pulse, seconds, f"{type(exc).__name__}: {exc}"))
            continue
        done.append(Published(item.system, item.pulse, time.perf_counter() - start))
        log.info("published %s/%s in %.2f s", item.system, item.pulse, done[-1].seconds)
    return done


def warm_recent(factory: sessionmaker[Session], now: Clock, stopping: Callable[[], bool]) -> int:
    """Keep in memory the assessments of each system's recent published pulses; how many made.

    One pulse at a time, asking ``stopping`` before each: a nudge (something due) or a stop
    comes first. A rule change or a preview then grades these rather than reading cells.
    """
    start = time.perf_counter()
    made = 0
    with factory() as session:
        session.connection(execution_options={READ_ONLY: True})
        for system in session.scalars(select(System).order_by(System.id)).all():
            closed = closed_pulses(session, system.id, now())
            seen: KeptCache = {}  # an earlier pulse's cells are read once, not once a pulse
            for pulse in reversed(closed[-RECENT:]):
                if stopping():
                    break
                made += warm(session, system, pulse, closed, seen)
            else:
                continue
            break
    if made:
        log.info(
            "kept in memory the assessments of %d pulses in %.2f s",
            made,
            time.perf_counter() - start,
        )
    return made


def _publish_one(
    factory: sessionmaker[Session], item: Pending, now: Clock, seen: KeptCache | None = None
) -> None:
    """Compute and keep one pulse's results."""
    with factory() as session:
        sqlite = session.get_bind().dialect.name == "sqlite"
        if not sqlite:  # computing in the transaction that keeps: see publish.publish
            system, pulse = session.get(System, item.system_id), session.get(Pulse, item.pulse_id)
            if system is not None and pulse is not None:
                publish(session, system, pulse, now(), seen=seen)
                session.commit()
            return
    # SQLite: compute in a read transaction, so writers wait only while the results are kept;
    # if the inputs changed meanwhile, compute again. The process's lock on the system tells
    # reads meanwhile to answer what is kept (``publish``).
    with local_lock(item.system_id):
        _compute_and_keep(factory, item, now, seen)


def _compute_and_keep(
    factory: sessionmaker[Session], item: Pending, now: Clock, seen: KeptCache | None
) -> None:
    for _ in range(KEEP_ATTEMPTS):
        with factory() as session:
            session.connection(execution_options={READ_ONLY: True})
            system, pulse = session.get(System, item.system_id), session.get(Pulse, item.pulse_id)
            if system is None or pulse is None:
                return
            computed = compute(session, system, pulse, now(), seen)
        if computed is None:
            return
        with factory() as session:
            system, pulse = session.get(System, item.system_id), session.get(Pulse, item.pulse_id)
            if system is None or pulse is None:
                return
            if keep(session, system, pulse, computed, now()):
                session.commit()
                return
    raise RuntimeError(f"the inputs kept changing over {KEEP_ATTEMPTS} computations")


def _freeze() -> None:
    """Keep the cyclic garbage collector off the objects alive now: the assessments kept.

    Six pulses' assessments at 2,000 teams are about 300,000 long-lived objects, and with
    them each full collection took 0.35 to 0.4 s (from 0.1 s): a pause any request fell
    into, at random. They hold no reference cycles (``tests/api/test_publisher.py``), so
    one let go is freed at once by reference counting, frozen or not.
    """
    gc.freeze()


def _thaw_and_collect() -> None:
    """Collect the whole heap once, then freeze what survives.

    ``gc.freeze`` takes every object of the process, not only the assessments: cyclic
    garbage and what requests under way held are kept from the collector too. The
    publisher thaws and collects them when it is next idle (its ``interval`` passed with
    nothing due), one pause at a time when no publication has just been read for: run
    right after a publication, the pause fell on the first reads of it (0.4 s).
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()


class Publisher:
    """A thread that publishes pending pulses when nudged and every ``interval`` seconds."""

    # After a nudge, wait this long for the rest of a burst of changes before computing
    # (uploads into a closed pulse, erasures); a nudge ``at_once`` ends it.
    SETTLE = 0.5

    def __init__(self, factory: sessionmaker[Session], interval: float, now: Clock) -> None:
        self._factory = factory
        self._interval = interval
        self._now = now
        self._wake = threading.Event()
        self._at_once = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pulse-publisher", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def nudge(self, at_once: bool = False) -> None:
        """Something a closed pulse depends on changed: look again soon.

        ``at_once``: the change came alone (a pulse closed, a new rulebook), so start
        without waiting ``SETTLE`` for the rest of a burst.
        """
        if at_once:
            self._at_once.set()
        self._wake.set()

    def _interrupted(self) -> bool:
        return self._stop.is_set() or self._wake.is_set()

    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop after the computation under way, if any."""
        self._stop.set()
        self._wake.set()
        self._at_once.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        frozen = False  # objects frozen since the heap was last collected whole
        while not self._stop.is_set():
            try:
                done = publish_pending(self._factory, self._now, self._stop.is_set)
                # Nothing due: make ready what a rule change will grade, unless nudged.
                if warm_recent(self._factory, self._now, self._interrupted) or done:
                    _freeze()
                    frozen = True
            except Exception:  # a database outage must not end the thread; try again later
                log.exception("publishing pending pulses failed; retrying in %s s", self._interval)
            if not self._wake.wait(self._interval) and frozen and not self._stop.is_set():
                _thaw_and_collect()  # idle: nothing nudged it for a whole interval
                frozen = False
            self._wake.clear()
            # The rest of a burst, unless a change that came alone (or a stop) cuts it short.
            self._at_once.wait(self.SETTLE)
            self._at_once.clear()
