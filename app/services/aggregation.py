"""Sufficient statistics from the database: GROUP BY profile, never a loop over responses."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Integer, case, cast, func, select
from sqlalchemy.orm import Session

from app.analysis.stats import Moments
from app.models import SCORE_SCALE, Organisation, Response, Team
from app.vocab import DIMENSIONS, Role


def _role_group() -> Any:
    """The role group of a response's role, in SQL: frontline, leaders, or null."""
    return case(
        (Response.role.is_(None), None),
        (Response.role == Role.frontline.value, "frontline"),
        else_="leaders",
    ).label("role_group")


def response_counts(
    session: Session, system_id: int, pulse_ids: Sequence[int]
) -> dict[tuple[int, str], int]:
    """Responses per (pulse id, team code)."""
    if not pulse_ids:
        return {}
    stmt = (
        select(Response.pulse_id, Team.code, func.count())
        .join(Team, Team.id == Response.team_id)
        .where(Response.system_id == system_id, Response.pulse_id.in_(pulse_ids))
        .group_by(Response.pulse_id, Team.code)
    )
    return {(pulse_id, team): count for pulse_id, team, count in session.execute(stmt)}


Cohorts = dict[str, dict[tuple[str, str | None, str | None, str | None, int | None], Moments]]


def cohort_moments(session: Session, system_id: int, pulse_id: int) -> Cohorts:
    """Per dimension, the moments of each (team, role group, profession, organisation code,
    cohort) of one pulse's respondents; the cohort is the edition that first included them
    (None: not yet published)."""
    role_group = _role_group()
    keys = [Team.code, role_group, Response.profession, Organisation.code, Response.published_in]
    columns = list(keys)
    for dimension in DIMENSIONS:
        score = cast(getattr(Response, dimension), Integer)  # smallint squares overflow
        columns += [func.count(score), func.sum(score), func.sum(score * score)]
    stmt = (
        select(*columns)
        .join(Team, Team.id == Response.team_id)
        .outerjoin(Organisation, Organisation.id == Response.organisation_id)
        .where(Response.system_id == system_id, Response.pulse_id == pulse_id)
        .group_by(*keys)
    )
    out: Cohorts = {dimension: {} for dimension in DIMENSIONS}
    square = SCORE_SCALE * SCORE_SCALE
    for row in session.execute(stmt):
        team, group, profession, organisation, cohort, *sums = row
        for i, dimension in enumerate(DIMENSIONS):
            n, total, total_sq = sums[3 * i : 3 * i + 3]
            if n:
                moments = Moments(int(n), int(total) / SCORE_SCALE, int(total_sq) / square)
                out[dimension][(team, group, profession, organisation, cohort)] = moments
    return out
