"""The fixed vocabularies of the domain (DESIGN section 2)."""

from enum import StrEnum
from typing import Final

CODE_PATTERN: Final = r"^[a-z0-9][a-z0-9._-]{0,63}$"
CODE_MAX_LENGTH: Final = 64
NAME_MAX_LENGTH: Final = 200

DIMENSIONS: Final = (
    "purpose",
    "belief",
    "support",
    "new_ways_of_working",
    "partner_relationships",
)


class Dimension(StrEnum):
    """One of the five dimensions of engagement, scored 1 to 5."""

    purpose = "purpose"
    belief = "belief"
    support = "support"
    new_ways_of_working = "new_ways_of_working"
    partner_relationships = "partner_relationships"


class Severity(StrEnum):
    """How serious a warning sign is."""

    info = "info"
    amber = "amber"
    red = "red"


# Warning signs are read most serious first (docs/API.md, "Scores and warning signs").
SEVERITY_RANK: Final = {Severity.red: 0, Severity.amber: 1, Severity.info: 2}


class Rule(StrEnum):
    """A rule of the rulebook (DESIGN section 4)."""

    low_score = "low_score"
    falling = "falling"
    sustained_decline = "sustained_decline"
    polarised = "polarised"
    hierarchy_gap = "hierarchy_gap"
    partner_divide = "partner_divide"
    below_place = "below_place"
    low_participation = "low_participation"
    insufficient_responses = "insufficient_responses"
    gone_quiet = "gone_quiet"
    spreading = "spreading"


class ResultScope(StrEnum):
    """What a score or a warning sign is about: a team or a place."""

    team = "team"
    place = "place"


class SegmentType(StrEnum):
    """What a breakdown splits a team or place by."""

    role_group = "role_group"
    profession = "profession"
    organisation_kind = "organisation_kind"


class OrganisationKind(StrEnum):
    """The kind of a partner organisation."""

    nhs_trust = "nhs_trust"
    local_authority = "local_authority"
    primary_care = "primary_care"
    voluntary_sector = "voluntary_sector"
    independent_provider = "independent_provider"
    other = "other"


class Role(StrEnum):
    """A respondent's role; every role but ``frontline`` is a leader."""

    frontline = "frontline"
    team_lead = "team_lead"
    manager = "manager"
    senior_leader = "senior_leader"


class Profession(StrEnum):
    """A respondent's profession."""

    nursing = "nursing"
    social_work = "social_work"
    therapy = "therapy"
    medical = "medical"
    care_support = "care_support"
    admin = "admin"
    other = "other"


class Scope(StrEnum):
    """What an API key may do; ``admin`` includes every other scope."""

    admin = "admin"
    responses_write = "responses:write"
    insights_read = "insights:read"
    feeds_read = "feeds:read"


class PulseStatus(StrEnum):
    """Where a pulse is in its life."""

    scheduled = "scheduled"
    open = "open"
    closed = "closed"


class AuditAction(StrEnum):
    """What an audit event records: an admin action, or a use of a key."""

    place_create = "place.create"
    place_update = "place.update"
    organisation_create = "organisation.create"
    organisation_update = "organisation.update"
    team_create = "team.create"
    team_update = "team.update"
    pulse_create = "pulse.create"
    pulse_update = "pulse.update"
    pulse_close = "pulse.close"
    system_update = "system.update"
    rules_replace = "rules.replace"
    key_create = "key.create"
    key_revoke = "key.revoke"
    late_upload = "responses.late_upload"
    response_erase = "response.erase"
    key_use = "key.use"
    key_refused = "key.refused"


class AuditTarget(StrEnum):
    """What an audit event's target is."""

    place = "place"
    organisation = "organisation"
    team = "team"
    pulse = "pulse"
    system = "system"
    rules = "rules"
    key = "key"
    response = "response"
    route = "route"
