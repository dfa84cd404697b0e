"""Liveness and readiness probes."""

from alembic.runtime.migration import MigrationContext
from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from app.api.deps import SessionDep, problems
from app.errors import Unavailable

router = APIRouter(tags=["operations"])


class Health(BaseModel):
    """The state of the process or service."""

    status: str = Field(max_length=20, description="`ok` when healthy.")


@router.get("/healthz", response_model=Health)
def healthz() -> Health:
    """The process is alive."""
    return Health(status="ok")


@router.get("/readyz", response_model=Health, responses=problems(503))
def readyz(request: Request, session: SessionDep) -> Health:
    """The database is reachable and migrated to the newest revision."""
    revision = MigrationContext.configure(session.connection()).get_current_revision()
    if revision != request.app.state.head_revision:
        raise Unavailable(
            f"The database is at revision {revision or 'none'}, not "
            f"{request.app.state.head_revision}; run `pulse db upgrade`."
        )
    return Health(status="ok")
