"""Insights: rulebooks, and the aggregates and warning signs computed for closed pulses.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 11:31:59.213147
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("system") as batch:
        batch.add_column(sa.Column("revision", sa.Integer(), server_default="0", nullable=False))
    op.create_table(
        "rule_set",
        sa.Column("system_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["system_id"], ["system.id"], name=op.f("fk_rule_set_system_id_system")
        ),
        sa.PrimaryKeyConstraint("system_id", name=op.f("pk_rule_set")),
    )
    op.create_table(
        "publication",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("system_id", sa.Integer(), nullable=False),
        sa.Column("pulse_id", sa.Integer(), nullable=False),
        sa.Column("inputs", sa.String(length=64), nullable=False),
        sa.Column("rules_version", sa.Integer(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["pulse_id"], ["pulse.id"], name=op.f("fk_publication_pulse_id_pulse")
        ),
        sa.ForeignKeyConstraint(
            ["system_id"], ["system.id"], name=op.f("fk_publication_system_id_system")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_publication")),
        sa.UniqueConstraint(
            "system_id", "pulse_id", name=op.f("uq_publication_system_id_pulse_id")
        ),
    )
    op.create_table(
        "score_cell",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("system_id", sa.Integer(), nullable=False),
        sa.Column("pulse_id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=8), nullable=False),
        sa.Column("place", sa.String(length=64), nullable=False),
        sa.Column("team", sa.String(length=64), nullable=True),
        sa.Column("dimension", sa.String(length=32), nullable=False),
        sa.Column("segment_type", sa.String(length=32), nullable=True),
        sa.Column("segment", sa.String(length=32), nullable=True),
        sa.Column("n", sa.Integer(), nullable=True),
        sa.Column("mean", sa.Float(), nullable=True),
        sa.Column("sd", sa.Float(), nullable=True),
        sa.Column("ci_low", sa.Float(), nullable=True),
        sa.Column("ci_high", sa.Float(), nullable=True),
        sa.Column("suppressed", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["pulse_id"], ["pulse.id"], name=op.f("fk_score_cell_pulse_id_pulse")
        ),
        sa.ForeignKeyConstraint(
            ["system_id"], ["system.id"], name=op.f("fk_score_cell_system_id_system")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_score_cell")),
    )
    op.create_index(
        "ix_score_cell_pulse_id_scope_place_team",
        "score_cell",
        ["pulse_id", "scope", "place", "team"],
        unique=False,
    )
    op.create_index(
        "ix_score_cell_system_id_updated_at_id",
        "score_cell",
        ["system_id", "updated_at", "id"],
        unique=False,
    )
    op.create_table(
        "warning_sign",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("system_id", sa.Integer(), nullable=False),
        sa.Column("pulse_id", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(length=32), nullable=False),
        sa.Column("severity", sa.String(length=8), nullable=False),
        sa.Column("scope", sa.String(length=8), nullable=False),
        sa.Column("place", sa.String(length=64), nullable=False),
        sa.Column("team", sa.String(length=64), nullable=True),
        sa.Column("dimension", sa.String(length=32), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("rules_version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["pulse_id"], ["pulse.id"], name=op.f("fk_warning_sign_pulse_id_pulse")
        ),
        sa.ForeignKeyConstraint(
            ["system_id"], ["system.id"], name=op.f("fk_warning_sign_system_id_system")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_warning_sign")),
    )
    op.create_index(
        "ix_warning_sign_pulse_id_place_team",
        "warning_sign",
        ["pulse_id", "place", "team"],
        unique=False,
    )
    op.create_index(
        "ix_warning_sign_system_id_updated_at_id",
        "warning_sign",
        ["system_id", "updated_at", "id"],
        unique=False,
    )


def downgrade() -> None:
    with op.batch_alter_table("system") as batch:
        batch.drop_column("revision")
    op.drop_index("ix_warning_sign_system_id_updated_at_id", table_name="warning_sign")
    op.drop_index("ix_warning_sign_pulse_id_place_team", table_name="warning_sign")
    op.drop_table("warning_sign")
    op.drop_index("ix_score_cell_system_id_updated_at_id", table_name="score_cell")
    op.drop_index("ix_score_cell_pulse_id_scope_place_team", table_name="score_cell")
    op.drop_table("score_cell")
    op.drop_table("publication")
    op.drop_table("rule_set")
