"""Liveness and readiness probes.

Both run on the event loop, outside load shedding and the request thread pool, so they
answer under any load; readiness checks the database over a connection of its own, in a
thread of its own, within a bound.
"""

import asyncio

from alembic.runtime.migration import MigrationContext
from anyio import CapacityLimiter, to_thread
from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from sqlalchemy import Engine, text

from app.api.deps import problems
from app.db import READ_ONLY
from app.errors import Unavailable, database_problem
from app.faults import Fault, classify

router = APIRouter(tags=["operations"])

PROBES = frozenset({"/healthz", "/readyz"})
READY_WITHIN = 3.0  # seconds; a database slower than this is not ready
_PROBE_THREADS = CapacityLimiter(2)  # stuck checks never take the requests' threads


class Health(BaseModel):
    """The state of the process or service."""

    status: str = Field(max_length=20, description="`ok` when healthy.")


@router.get(
    "/healthz", response_model=Health, responses={500: problems(500)[500]}, operation_id="getHealth"
)
async def healthz() -> Health:
    """The process is alive."""
    return Health(status="ok")


def _check(engine: Engine) -> tuple[str | None, bool]:
    """The database's migration revision, and whether it refuses writes."""
    with engine.connect().execution_options(**{READ_ONLY: True}) as conn:
        revision = MigrationContext.configure(conn).get_current_revision()
        read_only = False
        if conn.dialect.name == "postgresql":
            read_only = conn.execute(text("SHOW transaction_read_only")).scalar() == "on"
        return revision, read_only


@router.get("/readyz", response_model=Health, responses=problems(503), operation_id="getReadiness")
async def readyz(request: Request) -> Health:
    """The database answers, takes writes, and is migrated to the newest revision."""
    state = request.app.state
    check = asyncio.ensure_future(
        to_thread.run_sync(_check, state.probe_engine, limiter=_PROBE_THREADS)
    )
    try:
        revision, read_only = await asyncio.wait_for(asyncio.shield(check), READY_WITHIN)
    except TimeoutError:
        check.add_done_callback(lambda done: done.cancelled() or done.exception())
        raise Unavailable(f"The database did not answer within {READY_WITHIN:g} s.") from None
    except Exception as exc:
        raise database_problem(classify(exc) or Fault.unavailable) from exc
    if read_only:
        raise database_problem(Fault.read_only)
    fault = state.db_faults.current()
    if fault is not None:
        # Met by a request lately, and no write has succeeded since (app.db.get_session).
        raise database_problem(fault)
    if revision != state.head_revision:
        raise Unavailable(
            f"The database is at revision {revision or 'none'}, not "
            f"{state.head_revision}; run `pulse db upgrade`."
        )
    return Health(status="ok")
