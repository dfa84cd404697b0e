"""The caller's system."""

from fastapi import APIRouter

from app.api.audit import AuditDep
from app.api.bodies import BodyRoute
from app.api.deps import AdminDep, CallerDep, NowDep, SessionDep, problems
from app.models import System
from app.schemas.structure import SystemChanged, SystemRead, SystemUpdate
from app.services import structure
from app.services.results import ledger
from app.vocab import AuditAction, AuditTarget

router = APIRouter(prefix="/v1/system", tags=["structure"], route_class=BodyRoute)


@router.get("", response_model=SystemRead, responses=problems(401), operation_id="getSystem")
def get_system(caller: CallerDep) -> System:
    """The system the API key belongs to."""
    return caller.system


@router.patch(
    "",
    response_model=SystemChanged,
    responses=problems(400, 401, 403, 413, 422),
    operation_id="updateSystem",
)
def update_system(
    body: SystemUpdate, caller: AdminDep, session: SessionDep, now: NowDep, audit: AuditDep
) -> SystemChanged:
    """Change the system's name, `min_group_size` (at least 3) or `adoption_months`.

    A new `min_group_size` applies to pulses published from now on (listed in the answer);
    published pulses keep the k they were published with.
    """
    audit.record(AuditAction.system_update, AuditTarget.system, caller.system.slug, body)
    system = structure.update_system(session, caller.system, body, now)
    read = SystemRead.model_validate(system).model_dump()
    return SystemChanged(**read, min_group_size_applies_to=ledger.unpublished(session, system.id))
