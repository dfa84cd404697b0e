"""Sufficient statistics from the database: GROUP BY profile, never a loop over responses."""

from collections.abc import Sequence

from sqlalchemy import Integer, case, cast, func, select
from sqlalchemy.orm import Session

from app.analysis.cells import Profile
from app.analysis.stats import Moments
from app.models import SCORE_SCALE, Organisation, Response, Team
from app.vocab import DIMENSIONS, Role

ProfileMoments = dict[tuple[int, str], dict[Profile, Moments]]


def profile_moments(session: Session, system_id: int, pulse_ids: Sequence[int]) -> ProfileMoments:
    """Per (pulse id, dimension), the moments of each profile of respondents.

    A profile is a team and the role group, profession and organisation kind its
    respondents gave (None where not given); every published cell is a sum of profiles.
    """
    if not pulse_ids:
        return {}
    role_group = case(
        (Response.role.is_(None), None),
        (Response.role == Role.frontline.value, "frontline"),
        else_="leaders",
    ).label("role_group")
    columns = [Response.pulse_id, Team.code, role_group, Response.profession, Organisation.kind]
    for dimension in DIMENSIONS:
        score = cast(getattr(Response, dimension), Integer)  # smallint squares overflow
        columns += [func.count(score), func.sum(score), func.sum(score * score)]
    stmt = (
        select(*columns)
        .join(Team, Team.id == Response.team_id)
        .outerjoin(Organisation, Organisation.id == Response.organisation_id)
        .where(Response.system_id == system_id, Response.pulse_id.in_(pulse_ids))
        .group_by(Response.pulse_id, Team.code, role_group, Response.profession, Organisation.kind)
    )
    out: ProfileMoments = {}
    square = SCORE_SCALE * SCORE_SCALE
    for row in session.execute(stmt):
        pulse_id, team, group, profession, kind, *sums = row
        profile = Profile(team, group, profession, kind)
        for i, dimension in enumerate(DIMENSIONS):
            n, total, total_sq = sums[3 * i : 3 * i + 3]
            if n:
                moments = Moments(int(n), int(total) / SCORE_SCALE, int(total_sq) / square)
                out.setdefault((pulse_id, dimension), {})[profile] = moments
    return out


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
