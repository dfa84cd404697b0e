"""Engine, session lifecycle and the declarative base."""

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from sqlalchemy import DateTime, Engine, MetaData, create_engine, event, text
from sqlalchemy.engine import Dialect, ExceptionContext
from sqlalchemy.orm import DeclarativeBase, ORMExecuteState, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base whose constraints follow one naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend.

    SQLite has no timestamp type and drops the offset, so values are stored as naive UTC
    there and given their UTC offset back when read.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


READ_ONLY_SQLSTATE = "25006"  # read_only_sql_transaction
# Execution option marking a connection whose transaction only reads.
READ_ONLY = "pulse_read_only"
# Key of ``Session.info`` set by a session after which some closed pulse's results are due
# (``services.results.revisions``: a change they depend on, a pulse closed); once it
# commits, the publisher is nudged.
RESULTS_DUE = "pulse_results_due"
# Key of ``Session.info`` set besides it by a change that comes alone rather than in a burst
# (a pulse closed, a new rulebook): the publisher starts at once, without settling.
RESULTS_AT_ONCE = "pulse_results_at_once"
# Key of ``Session.info`` set once the session has flushed a write.
FLUSHED = "pulse_flushed"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def make_engine(
    url: str,
    *,
    statement_timeout: float | None = None,
    connect_timeout: float | None = None,
    **kwargs: Any,
) -> Engine:
    """An engine for ``url``; SQLite gets WAL, foreign keys and real transactions.

    ``statement_timeout`` (seconds) bounds each statement: PostgreSQL's own
    ``statement_timeout``, and on SQLite the wait for the write lock. ``connect_timeout``
    bounds opening a PostgreSQL connection. None leaves them unbounded (30 s on SQLite).
    """
    if url.startswith("sqlite"):
        busy_ms = round((statement_timeout or 30) * 1000)
        kwargs.setdefault("connect_args", {"check_same_thread": False, "timeout": busy_ms / 1000})
        engine = create_engine(url, **kwargs)

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            # pysqlite's own transaction handling defers BEGIN and breaks SAVEPOINT; turn it
            # off and issue BEGIN ourselves (the recipe in the SQLAlchemy SQLite docs).
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
            if url not in ("sqlite://", "sqlite:///:memory:"):
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Any) -> None:
            # A writer takes the write lock up front (IMMEDIATE): a deferred transaction that
            # reads, then writes after another writer committed fails at once with "database
            # is locked", which busy_timeout does not cover. Readers stay deferred, so under
            # WAL they never wait for a writer.
            read_only = conn.get_execution_options().get(READ_ONLY, False)
            conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    connect_args = dict(kwargs.pop("connect_args", {}))
    if connect_timeout is not None:
        # libpq counts whole seconds, and takes less than 2 as 2.
        connect_args.setdefault("connect_timeout", max(2, round(connect_timeout)))
    if statement_timeout is not None:
        ms = round(statement_timeout * 1000)
        # A transaction a crashed or stalled client left open is ended by the server too.
        connect_args.setdefault(
            "options",
            f"-c statement_timeout={ms} -c idle_in_transaction_session_timeout={6 * ms}",
        )
    engine = create_engine(url, connect_args=connect_args, **kwargs)

    @event.listens_for(engine, "handle_error")
    def _on_error(context: ExceptionContext) -> None:
        # A read-only server is often a standby after a failover, or one switched back
        # later: treat it as a lost connection, so the pool connects afresh next time
        # rather than keep sessions that took the read-only default when they opened.
        if getattr(context.original_exception, "sqlstate", None) == READ_ONLY_SQLSTATE:
            context.is_disconnect = True

    return engine


def analyze(engine: Engine) -> None:
    """Refresh PostgreSQL's planner statistics after a bulk load (``pulse demo``, an import).

    Autovacuum would get there, but not at once, and never for a table of fewer than 50
    rows changed (the places and teams of a small system). Until then the planner takes
    a freshly loaded table for nearly empty: a feed page then sorted every row after the
    cursor and joined each to every team, 80 ms where its index answers in under 1 ms
    (measured on the demo). SQLite plans without statistics as before.
    """
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:  # ANALYZE, unlike VACUUM, runs in a transaction
            connection.execute(text("SET LOCAL statement_timeout = 0"))
            connection.execute(text("ANALYZE"))


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """The session factory the application uses."""
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    event.listen(factory, "after_flush", _flushed)
    event.listen(factory, "do_orm_execute", _executed)
    return factory


def _flushed(session: Session, _context: Any) -> None:
    session.info[FLUSHED] = True


def _executed(state: ORMExecuteState) -> None:
    # Writes made with insert(), update() or delete() statements do not flush.
    if state.is_insert or state.is_update or state.is_delete:
        state.session.info[FLUSHED] = True


def get_session(request: Request) -> Iterator[Session]:
    """One session per request: committed on success, rolled back on any error; used with
    ``scope="function"`` (``api.deps.SessionDep``), so both happen before the answer."""
    factory: sessionmaker[Session] = request.app.state.sessionmaker
    with factory() as session:
        if request.method in SAFE_METHODS and not getattr(request.state, "writes", False):
            session.connection(execution_options={READ_ONLY: True})
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        faults = getattr(request.app.state, "db_faults", None)
        if faults is not None and session.info.get(FLUSHED):
            faults.clear()  # the database took a write: it is neither read-only nor full
        publisher = getattr(request.app.state, "publisher", None)
        if publisher is not None and session.info.get(RESULTS_DUE):
            publisher.nudge(at_once=bool(session.info.get(RESULTS_AT_ONCE)))
