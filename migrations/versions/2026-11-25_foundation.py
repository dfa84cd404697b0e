"""Foundation: systems, structure, API keys and responses.

Revision ID: 0001
Revises:
Create Date: 2026-11-25 10:57:00.948665
"""

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "instance_secret",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("secret", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_instance_secret")),
    )
    # The database's own secret for keying API-key hashes when PULSE_KEY_SECRET is unset.
    op.bulk_insert(
        sa.table("instance_secret", sa.column("id", sa.Integer), sa.column("secret", sa.String)),
        [{"id": 1, "secret": secrets.token_hex(32)}],
    )
    op.create_table(
        "system",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("min_group_size", sa.SmallInteger(), nullable=False),
        sa.Column("adoption_months", sa.SmallInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "adoption_months >= 0", name=op.f("ck_system_adoption_months_not_negative")
        ),
        sa.CheckConstraint("min_group_size >= 3", name=op.f("ck_system_min_group_size_at_least_3")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_system")),
        sa.UniqueConstraint("slug", name=op.f("uq_system_slug")),
    )
    op.create_table(
        "api_key",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("system_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["system_id"], ["system.id"], name=op.f("fk_api_key_system_id_system")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_key")),
        sa.UniqueConstraint("secret_hash", name=op.f("uq_api_key_secret_hash")),
    )
    op.create_index(op.f("ix_api_key_system_id"), "api_key", ["system_id"], unique=False)
    op.create_table(
        "organisation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("system_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('nhs_trust', 'local_authority', 'primary_care', 'voluntary_sector', 'independent_provider', 'other')",
            name=op.f("ck_organisation_kind_allowed"),
        ),
        sa.ForeignKeyConstraint(
            ["system_id"], ["system.id"], name=op.f("fk_organisation_system_id_system")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organisation")),
        sa.UniqueConstraint("system_id", "code", name=op.f("uq_organisation_system_id_code")),
    )
    op.create_table(
        "place",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("system_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["system_id"], ["system.id"], name=op.f("fk_place_system_id_system")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_place")),
        sa.UniqueConstraint("system_id", "code", name=op.f("uq_place_system_id_code")),
    )
    op.create_table(
        "pulse",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("system_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("opens_on", sa.Date(), nullable=False),
        sa.Column("closes_on", sa.Date(), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("opens_on <= closes_on", name=op.f("ck_pulse_opens_before_closes")),
        sa.ForeignKeyConstraint(
            ["system_id"], ["system.id"], name=op.f("fk_pulse_system_id_system")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pulse")),
        sa.UniqueConstraint("system_id", "key", name=op.f("uq_pulse_system_id_key")),
    )
    op.create_index(
        op.f("ix_pulse_system_id_opens_on"), "pulse", ["system_id", "opens_on"], unique=False
    )
    op.create_table(
        "team",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("system_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("place_id", sa.Integer(), nullable=False),
        sa.Column("host_organisation_id", sa.Integer(), nullable=False),
        sa.Column("formed_on", sa.Date(), nullable=True),
        sa.Column("headcount", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "headcount IS NULL OR headcount >= 1", name=op.f("ck_team_headcount_positive")
        ),
        sa.ForeignKeyConstraint(
            ["host_organisation_id"],
            ["organisation.id"],
            name=op.f("fk_team_host_organisation_id_organisation"),
        ),
        sa.ForeignKeyConstraint(["place_id"], ["place.id"], name=op.f("fk_team_place_id_place")),
        sa.ForeignKeyConstraint(
            ["system_id"], ["system.id"], name=op.f("fk_team_system_id_system")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_team")),
        sa.UniqueConstraint("system_id", "code", name=op.f("uq_team_system_id_code")),
    )
    op.create_index(
        op.f("ix_team_host_organisation_id"), "team", ["host_organisation_id"], unique=False
    )
    op.create_index(op.f("ix_team_place_id"), "team", ["place_id"], unique=False)
    op.create_table(
        "response",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("system_id", sa.Integer(), nullable=False),
        sa.Column("pulse_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=True),
        sa.Column("role", sa.String(length=32), nullable=True),
        sa.Column("profession", sa.String(length=32), nullable=True),
        sa.Column("purpose", sa.SmallInteger(), nullable=True),
        sa.Column("belief", sa.SmallInteger(), nullable=True),
        sa.Column("support", sa.SmallInteger(), nullable=True),
        sa.Column("new_ways_of_working", sa.SmallInteger(), nullable=True),
        sa.Column("partner_relationships", sa.SmallInteger(), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=True),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.CheckConstraint(
            "profession IS NULL OR profession IN ('nursing', 'social_work', 'therapy', 'medical', 'care_support', 'admin', 'other')",
            name=op.f("ck_response_profession_allowed"),
        ),
        sa.CheckConstraint(
            "role IS NULL OR role IN ('frontline', 'team_lead', 'manager', 'senior_leader')",
            name=op.f("ck_response_role_allowed"),
        ),
        sa.CheckConstraint(
            "belief IS NULL OR (belief >= 100 AND belief <= 500)",
            name=op.f("ck_response_belief_in_range"),
        ),
        sa.CheckConstraint(
            "new_ways_of_working IS NULL OR (new_ways_of_working >= 100 AND new_ways_of_working <= 500)",
            name=op.f("ck_response_new_ways_of_working_in_range"),
        ),
        sa.CheckConstraint(
            "partner_relationships IS NULL OR (partner_relationships >= 100 AND partner_relationships <= 500)",
            name=op.f("ck_response_partner_relationships_in_range"),
        ),
        sa.CheckConstraint(
            "purpose IS NULL OR (purpose >= 100 AND purpose <= 500)",
            name=op.f("ck_response_purpose_in_range"),
        ),
        sa.CheckConstraint(
            "support IS NULL OR (support >= 100 AND support <= 500)",
            name=op.f("ck_response_support_in_range"),
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_response_organisation_id_organisation"),
        ),
        sa.ForeignKeyConstraint(
            ["pulse_id"], ["pulse.id"], name=op.f("fk_response_pulse_id_pulse")
        ),
        sa.ForeignKeyConstraint(
            ["system_id"], ["system.id"], name=op.f("fk_response_system_id_system")
        ),
        sa.ForeignKeyConstraint(["team_id"], ["team.id"], name=op.f("fk_response_team_id_team")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_response")),
        sa.UniqueConstraint(
            "system_id", "external_id", name=op.f("uq_response_system_id_external_id")
        ),
    )
    op.create_index(
        op.f("ix_response_pulse_id_team_id"), "response", ["pulse_id", "team_id"], unique=False
    )
    op.create_index(op.f("ix_response_team_id"), "response", ["team_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_response_team_id"), table_name="response")
    op.drop_index("ix_response_pulse_id_team_id", table_name="response")
    op.drop_table("response")
    op.drop_index(op.f("ix_team_place_id"), table_name="team")
    op.drop_index(op.f("ix_team_host_organisation_id"), table_name="team")
    op.drop_table("team")
    op.drop_index("ix_pulse_system_id_opens_on", table_name="pulse")
    op.drop_table("pulse")
    op.drop_table("place")
    op.drop_table("organisation")
    op.drop_index(op.f("ix_api_key_system_id"), table_name="api_key")
    op.drop_table("api_key")
    op.drop_table("system")
    op.drop_table("instance_secret")
