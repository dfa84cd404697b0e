"""Audit trail: every admin action and every use of a key, kept for a retention period.

Admin actions are written in the transaction of the change; uses of keys (and refused
keys) are written in batches after their requests (``app.usage``). No scores, answers or
secrets are kept.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ORDER = ("occurred_at", "id")


def upgrade() -> None:
    op.create_table(
        "audit_event",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("system_id", sa.Integer(), nullable=True),
        sa.Column("key_id", sa.Uuid(), nullable=True),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("target_kind", sa.String(length=16), nullable=False),
        sa.Column("target_code", sa.String(length=128), nullable=False),
        sa.Column("status", sa.SmallInteger(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_event")),
    )
    op.create_index("ix_audit_event_system_id_occurred_at_id", "audit_event", ["system_id", *ORDER])
    op.create_index("ix_audit_event_key", "audit_event", ["system_id", "key_id", *ORDER])
    op.create_index("ix_audit_event_action", "audit_event", ["system_id", "action", *ORDER])
    op.create_index(
        "ix_audit_event_target", "audit_event", ["system_id", "target_kind", "target_code", *ORDER]
    )
    op.create_index("ix_audit_event_occurred_at", "audit_event", ["occurred_at"])


def downgrade() -> None:
    op.drop_table("audit_event")  # its indexes go with it
