"""A realistic demo system: an ICS with places, partners, teams, six pulses and patterns."""

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy.orm import Session

from app.models import Organisation, Place, Pulse, System, Team
from app.schemas.responses import ResponseCreate
from app.services.keys import create_system
from app.services.responses import ingest
from app.vocab import DIMENSIONS, OrganisationKind, Profession

PLACES = [
    ("riverside", "Riverside"),
    ("hillcrest", "Hillcrest"),
    ("old-town", "Old Town"),
    ("northgate", "Northgate"),
    ("marsh-end", "Marsh End"),
]
ORGANISATIONS = [
    ("community-trust", "Community Health NHS Trust", OrganisationKind.nhs_trust),
    ("acute-trust", "General Hospital NHS Foundation Trust", OrganisationKind.nhs_trust),
    ("city-council", "City Council Adult Social Care", OrganisationKind.local_authority),
    ("gp-federation", "Primary Care Federation", OrganisationKind.primary_care),
    ("carers-network", "Carers Network (charity)", OrganisationKind.voluntary_sector),
    ("homecare-ltd", "Homecare Partners Ltd", OrganisationKind.independent_provider),
    ("housing-assoc", "Housing Association", OrganisationKind.other),
]
# Who employs the staff of a team, by the kind of team.
STAFF_MIX = (
    ["community-trust"] * 4
    + ["city-council"] * 3
    + ["gp-federation"] * 2
    + [
        "carers-network",
        "homecare-ltd",
    ]
)


@dataclass
class Pattern:
    """How a team's answers differ from a healthy team's."""

    shift: dict[str, float]  # per dimension, added to every answer
    late_shift: dict[str, float]  # per dimension, added in the last two pulses only
    polarised: str | None = None  # a dimension answered 1-2 or 5, never between
    leader_lift: float = 0.0  # added to leaders' answers on every dimension
    silent_last: bool = False  # no responses in the last pulse
    leaders_share: float = 0.2


def _patterns() -> dict[str, Pattern]:
    return {
        "riverside-nt2": Pattern({}, {"support": -1.4}),
        "hillcrest-nt1": Pattern({}, {}, polarised="belief"),
        "old-town-nt3": Pattern({}, {}, leader_lift=1.5, leaders_share=0.5),
        "northgate-nt4": Pattern({}, {}, silent_last=True),
        "marsh-end-nt5": Pattern({"new_ways_of_working": -1.2}, {}),
    }


def build_demo(session: Session, slug: str, now: datetime, seed: int = 7) -> System:
    """Create the demo system, its structure and six monthly pulses of responses."""
    rng = random.Random(seed)
    system = create_system(session, slug, "Demo Integrated Care System", now)
    places = [
        Place(system_id=system.id, code=c, name=n, created_at=now, updated_at=now)
        for c, n in PLACES
    ]
    orgs = {
        code: Organisation(
            system_id=system.id,
            code=code,
            name=name,
            kind=kind.value,
            created_at=now,
            updated_at=now,
        )
        for code, name, kind in ORGANISATIONS
    }
    session.add_all([*places, *orgs.values()])
    session.flush()
    months = _months(now.date(), 6)
    pulses = [
        Pulse(
            system_id=system.id,
            key=f"{first:%Y-%m}",
            title=f"{first:%B %Y} pulse",
            opens_on=first,
            closes_on=last,
            created_at=now,
            updated_at=now,
        )
        for first, last in months
    ]
    session.add_all(pulses)
    teams = []
    for place in places:
        for i in range(1, 9):
            code = f"{place.code}-nt{i}"
            formed = months[2][0] if code == "marsh-end-nt5" else date(2024, 4, 1)
            teams.append(
                Team(
                    system_id=system.id,
                    code=code,
                    name=f"{place.name} Neighbourhood Team {i}",
                    place_id=place.id,
                    host_organisation_id=orgs["community-trust" if i % 3 else "city-council"].id,
                    formed_on=formed,
                    headcount=rng.randint(14, 24) if code != "old-town-nt3" else 40,
                    created_at=now,
                    updated_at=now,
                )
            )
    session.add_all(teams)
    session.flush()
    patterns = _patterns()
    items: list[tuple[int, ResponseCreate]] = []
    for t, team in enumerate(teams):
        pattern = patterns.get(team.code, Pattern({}, {}))
        level = {d: rng.gauss(3.8, 0.2) for d in DIMENSIONS}
        place_code = next(p.code for p in places if p.id == team.place_id)
        for p, pulse in enumerate(pulses):
            if team.formed_on and team.formed_on > pulse.closes_on:
                continue
            if pattern.silent_last and p == len(pulses) - 1:
                continue
            late = p >= len(pulses) - 2
            answering = round((team.headcount or 15) * rng.uniform(0.6, 0.9))
            for person in range(answering):
                leader = rng.random() < pattern.leaders_share
                employer = rng.choice(STAFF_MIX)
                scores = {}
                for d in DIMENSIONS:
                    if rng.random() < 0.03:
                        continue  # skipped
                    mean = (
                        level[d]
                        + pattern.shift.get(d, 0)
                        + (pattern.late_shift.get(d, 0) if late else 0)
                    )
                    if leader:
                        mean += pattern.leader_lift
                    if (
                        place_code == "hillcrest"
                        and d == "partner_relationships"
                        and employer == "city-council"
                    ):
                        mean -= 1.3  # the partner divide at Hillcrest
                    if pattern.polarised == d:
                        value = rng.choice([1, 2, 5, 5])
                    else:
                        value = min(5, max(1, round(rng.gauss(mean, 0.75))))
                    scores[d] = value
                if not scores:
                    scores["purpose"] = 4
                items.append(
                    (
                        len(items),
                        ResponseCreate.model_validate(
                            {
                                "pulse": pulse.key,
                                "team": team.code,
                                "scores": scores,
                                "role": ("team_lead" if rng.random() < 0.3 else "manager")
                                if leader
                                else "frontline",
                                "profession": rng.choice(list(Profession)).value,
                                "organisation": employer,
                                "submitted_at": datetime.combine(
                                    pulse.opens_on, datetime.min.time(), now.tzinfo
                                )
                                + timedelta(days=rng.randint(0, 9), minutes=rng.randint(0, 600)),
                                "external_id": f"demo-{pulse.key}-{t}-{person}",
                            }
                        ),
                    )
                )
    ingest(session, system.id, items, now, may_backfill=True, pointer=lambda problem: str(problem))
    return system


def _months(today: date, count: int) -> list[tuple[date, date]]:
    """The ``count`` whole months before this one, oldest first, as (first day, last day)."""
    first_of_this = today.replace(day=1)
    out = []
    end = first_of_this - timedelta(days=1)
    for _ in range(count):
        start = end.replace(day=1)
        out.append((start, end))
        end = start - timedelta(days=1)
    return out[::-1]
