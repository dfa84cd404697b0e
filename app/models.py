"""SQLAlchemy tables. Every row belongs to one system (the tenant)."""

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime
from app.vocab import DIMENSIONS, OrganisationKind, Profession, Role


def _one_of(column: str, values: type[StrEnum], *, nullable: bool = False) -> CheckConstraint:
    allowed = ", ".join(f"'{v.value}'" for v in values)
    condition = f"{column} IN ({allowed})"
    if nullable:
        condition = f"{column} IS NULL OR {condition}"
    return CheckConstraint(condition, name=f"{column}_allowed")


# Scores are stored in hundredths (1.00-5.00 -> 100-500) so that sums and sums of
# squares aggregate exactly, in integers, in the database.
SCORE_SCALE = 100


class InstanceSecret(Base):
    """The database's own random secret, used to key API-key hashes when none is configured."""

    __tablename__ = "instance_secret"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    secret: Mapped[str] = mapped_column(String(128))


class System(Base):
    """An Integrated Care System: the tenant."""

    __tablename__ = "system"
    __table_args__ = (
        CheckConstraint("min_group_size >= 3", name="min_group_size_at_least_3"),
        CheckConstraint("adoption_months >= 0", name="adoption_months_not_negative"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    min_group_size: Mapped[int] = mapped_column(SmallInteger, default=5)
    adoption_months: Mapped[int] = mapped_column(SmallInteger, default=12)
    # Bumped by every change that can alter a closed pulse's results (structure, rules,
    # late uploads, erasure), so a read can tell cheaply whether they are current.
    revision: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Place(Base):
    """A locality within a system."""

    __tablename__ = "place"
    __table_args__ = (UniqueConstraint("system_id", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("system.id"))
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Organisation(Base):
    """A partner organisation."""

    __tablename__ = "organisation"
    __table_args__ = (
        UniqueConstraint("system_id", "code"),
        _one_of("kind", OrganisationKind),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("system.id"))
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Team(Base):
    """A neighbourhood or integrated team at a place."""

    __tablename__ = "team"
    __table_args__ = (
        UniqueConstraint("system_id", "code"),
        CheckConstraint("headcount IS NULL OR headcount >= 1", name="headcount_positive"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("system.id"))
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    place_id: Mapped[int] = mapped_column(ForeignKey("place.id"), index=True)
    host_organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    formed_on: Mapped[date | None] = mapped_column(Date)
    headcount: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Pulse(Base):
    """A survey round; its status follows from its dates and ``closed_at``."""

    __tablename__ = "pulse"
    __table_args__ = (
        UniqueConstraint("system_id", "key"),
        # What a score cell's foreign key refers to: the pulse and the system it is of.
        UniqueConstraint("system_id", "id"),
        CheckConstraint("opens_on <= closes_on", name="opens_before_closes"),
        Index("ix_pulse_system_id_opens_on", "system_id", "opens_on"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("system.id"))
    key: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    opens_on: Mapped[date] = mapped_column(Date)
    closes_on: Mapped[date] = mapped_column(Date)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Moves when the responses of the pulse change after it closed (a late upload, an
    # erasure): its results, and those of the pulses after it, are then due again.
    revision: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ApiKey(Base):
    """An API key of one system; only a keyed hash of the secret is stored."""

    __tablename__ = "api_key"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    system_id: Mapped[int] = mapped_column(ForeignKey("system.id"), index=True)
    name: Mapped[str | None] = mapped_column(String(200))
    # The portal the key belongs to: keys naming the same client share what they stored,
    # so a rotated key keeps it. A key naming none is a portal of its own (Caller.writer).
    client: Mapped[str | None] = mapped_column(String(64))
    prefix: Mapped[str] = mapped_column(String(16))
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Response(Base):
    """One person's answers for one team in one pulse. Scores are write-only.

    The system, pulse, team and organisation ids carry no foreign-key constraints: on
    PostgreSQL each constraint is a per-row trigger that locks the referenced row, and the
    three or four of them cost more than the rest of an insert together (docs/BENCHMARKS.md).
    The one write path (services/responses.py) resolves every code within the caller's
    system in the same transaction, and places, organisations, teams and pulses are never
    deleted, so no response can point at a missing or foreign record.
    """

    __tablename__ = "response"
    __table_args__ = (
        UniqueConstraint("system_id", "external_id"),
        Index("ix_response_pulse_id_team_id", "pulse_id", "team_id"),
        Index("ix_response_system_id_received_at_id", "system_id", "received_at", "id"),
        _one_of("role", Role, nullable=True),
        _one_of("profession", Profession, nullable=True),
        *(
            CheckConstraint(
                f"{name} IS NULL OR ({name} >= 100 AND {name} <= 500)", name=f"{name}_in_range"
            )
            for name in DIMENSIONS
        ),
    )

    # On PostgreSQL the column also has the server default gen_random_uuid() (migration
    # 0002), for rows written in bulk by COPY.
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    system_id: Mapped[int] = mapped_column(Integer)
    pulse_id: Mapped[int] = mapped_column(Integer)
    team_id: Mapped[int] = mapped_column(Integer)
    organisation_id: Mapped[int | None] = mapped_column(Integer)
    role: Mapped[str | None] = mapped_column(String(32))
    profession: Mapped[str | None] = mapped_column(String(32))
    purpose: Mapped[int | None] = mapped_column(SmallInteger)
    belief: Mapped[int | None] = mapped_column(SmallInteger)
    support: Mapped[int | None] = mapped_column(SmallInteger)
    new_ways_of_working: Mapped[int | None] = mapped_column(SmallInteger)
    partner_relationships: Mapped[int | None] = mapped_column(SmallInteger)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    external_id: Mapped[str | None] = mapped_column(String(128))
    # SHA-256 of the response's content, to tell a safe re-post from a conflicting one.
    fingerprint: Mapped[str] = mapped_column(String(64))
    # The edition of its pulse's publication that first included it (None: not yet).
    published_in: Mapped[int | None] = mapped_column(SmallInteger)
    # Who stored it (Caller.writer): only they learn whether a re-post matches it, and only
    # they list it. Null for what the command line loads (`pulse import`, `pulse demo`) and
    # for responses stored before clients existed.
    stored_by: Mapped[str | None] = mapped_column(String(64))


class IdempotencyRecord(Base):
    """The stored answer to a batch sent with an ``Idempotency-Key``, replayed on a retry."""

    __tablename__ = "idempotency_record"
    __table_args__ = (UniqueConstraint("system_id", "stored_by", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("system.id"))
    # Each portal (Caller.writer) has keys of its own: another's replays would be an oracle.
    stored_by: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(255))
    # SHA-256 of the request body, to tell a replay from a different request under the key.
    fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(SmallInteger)
    body: Mapped[dict[str, object]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class RuleSet(Base):
    """A system's rulebook: the thresholds it overrides, and its version."""

    __tablename__ = "rule_set"

    system_id: Mapped[int] = mapped_column(ForeignKey("system.id"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    rules: Mapped[dict[str, object]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Publication(Base):
    """What was computed for a closed pulse, and from which inputs (a digest of them)."""

    __tablename__ = "publication"
    __table_args__ = (UniqueConstraint("system_id", "pulse_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("system.id"))
    pulse_id: Mapped[int] = mapped_column(ForeignKey("pulse.id"))
    inputs: Mapped[str] = mapped_column(String(64))
    rules_version: Mapped[int] = mapped_column(Integer)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The ledger (services.results.ledger): the k and structure of the first publication,
    # how many editions there are, and the pulse revision (responses) the last one answers.
    k: Mapped[int | None] = mapped_column(SmallInteger)
    # Loaded when read (the team → place map of a whole system): a rule change or a read
    # fetches the records of six pulses at a time, and the publisher's key needs none of it.
    structure: Mapped[dict[str, Any] | None] = mapped_column(JSON, deferred=True)
    editions: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    responses_revision: Mapped[int | None] = mapped_column(Integer)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PublicationEdition(Base):
    """One edition of a pulse's publication: the cells it published, and whom it counted.

    ``cells`` lists, per dimension and place, the cells whose numbers it published;
    ``counts`` the respondents it included per profile and cohort (never served: a later
    revision's test needs what the published cells were sums over).
    """

    __tablename__ = "publication_edition"
    __table_args__ = (UniqueConstraint("pulse_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("system.id"))
    pulse_id: Mapped[int] = mapped_column(ForeignKey("pulse.id"))
    number: Mapped[int] = mapped_column(Integer)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime)
    cells: Mapped[dict[str, Any]] = mapped_column(JSON)
    counts: Mapped[dict[str, Any]] = mapped_column(JSON)


class ScoreCell(Base):
    """One published or suppressed aggregate of a closed pulse (DESIGN sections 3 and 5)."""

    __tablename__ = "score_cell"
    __table_args__ = (
        Index("ix_score_cell_pulse_id_scope_place_team", "pulse_id", "scope", "place", "team"),
        Index("ix_score_cell_system_id_updated_at_id", "system_id", "updated_at", "id"),
        # One key to the pulse and its system, not one to each: PostgreSQL checks a foreign
        # key row by row, and a publication writes some 125,000 cells at 2,000 teams (the
        # two keys were half of its COPY's time). It also keeps a cell's system its pulse's.
        ForeignKeyConstraint(["system_id", "pulse_id"], ["pulse.system_id", "pulse.id"]),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The id feeds show: a UUIDv5 of what the cell is (``analysis.cells.cell_id``).
    public_id: Mapped[str] = mapped_column(String(36))
    system_id: Mapped[int] = mapped_column(Integer)
    pulse_id: Mapped[int] = mapped_column(Integer)
    scope: Mapped[str] = mapped_column(String(8))
    place: Mapped[str] = mapped_column(String(64))
    team: Mapped[str | None] = mapped_column(String(64))
    dimension: Mapped[str] = mapped_column(String(32))
    segment_type: Mapped[str | None] = mapped_column(String(32))
    segment: Mapped[str | None] = mapped_column(String(32))
    n: Mapped[int | None] = mapped_column(Integer)
    mean: Mapped[float | None] = mapped_column(Float)
    sd: Mapped[float | None] = mapped_column(Float)
    ci_low: Mapped[float | None] = mapped_column(Float)
    ci_high: Mapped[float | None] = mapped_column(Float)
    suppressed: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Kept for the rules (never served): the sums the published n, mean and sd come from.
    total: Mapped[float | None] = mapped_column(Float)
    total_sq: Mapped[float | None] = mapped_column(Float)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revision_withheld: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Withheld at first publication for having fewer than k respondents: never published.
    small: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Set (with ``updated_at``) when the cell stops being listed: a tombstone for feeds.
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WarningSign(Base):
    """A warning sign of a closed pulse; its id is stable across recomputations."""

    __tablename__ = "warning_sign"
    __table_args__ = (
        Index("ix_warning_sign_pulse_id_place_team", "pulse_id", "place", "team"),
        Index("ix_warning_sign_system_id_updated_at_id", "system_id", "updated_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("system.id"))
    pulse_id: Mapped[int] = mapped_column(ForeignKey("pulse.id"))
    rule: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(8))
    scope: Mapped[str] = mapped_column(String(8))
    place: Mapped[str] = mapped_column(String(64))
    team: Mapped[str | None] = mapped_column(String(64))
    dimension: Mapped[str | None] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(Text)
    evidence: Mapped[dict[str, object]] = mapped_column(JSON)
    # The rulebook version the flag last changed under.
    rules_version: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Set (with ``updated_at``) when the rules stop raising it: a tombstone for feeds.
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Participation(Base):
    """Responses and headcount of a team or place in a closed pulse, as kept for the feed.

    Counts only (published while a pulse is open too), with the team's place and headcount
    from the structure its pulse was published from.
    """

    __tablename__ = "participation"
    __table_args__ = (
        UniqueConstraint("pulse_id", "scope", "place", "team"),
        Index("ix_participation_system_id_updated_at_id", "system_id", "updated_at", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(36))
    system_id: Mapped[int] = mapped_column(ForeignKey("system.id"))
    pulse_id: Mapped[int] = mapped_column(ForeignKey("pulse.id"))
    scope: Mapped[str] = mapped_column(String(8))
    place: Mapped[str] = mapped_column(String(64))
    team: Mapped[str | None] = mapped_column(String(64))
    responses: Mapped[int] = mapped_column(Integer)
    headcount: Mapped[int | None] = mapped_column(Integer)
    response_rate: Mapped[float | None] = mapped_column(Float)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AuditEvent(Base):
    """One admin action, or one use of a key: who, what, on what, when, and how it ended.

    Never scores, answers or secrets. ``system_id`` is null for a refused key that matched
    no key: there is no tenant to show it to. No foreign keys: on PostgreSQL each is a
    per-row trigger on every batch of key uses, and a trail must not hold up what it records.
    """

    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_event_system_id_occurred_at_id", "system_id", "occurred_at", "id"),
        Index("ix_audit_event_key", "system_id", "key_id", "occurred_at", "id"),
        Index("ix_audit_event_action", "system_id", "action", "occurred_at", "id"),
        Index(
            "ix_audit_event_target", "system_id", "target_kind", "target_code", "occurred_at", "id"
        ),
        Index("ix_audit_event_occurred_at", "occurred_at"),  # the retention purge
    )

    # A row per request: more than an Integer holds over the retention period.
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    system_id: Mapped[int | None] = mapped_column(Integer)
    key_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    action: Mapped[str] = mapped_column(String(32))
    target_kind: Mapped[str] = mapped_column(String(16))
    target_code: Mapped[str] = mapped_column(String(128))
    status: Mapped[int] = mapped_column(SmallInteger)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Names of the fields an update set, or how many responses a late upload stored.
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)
