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
