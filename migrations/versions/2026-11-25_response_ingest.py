"""Responses: idempotency records for batches; keys and indexes for fast ingest.

Responses lose their foreign-key constraints (see app.models.Response for why and what
keeps the references sound) and, on PostgreSQL, get server-made ids for bulk COPY; an
index serves paging responses in arrival order, and the index on team_id alone, which no
query uses, goes.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REFERENCES = (
    ("system_id", "system"),
    ("pulse_id", "pulse"),
    ("team_id", "team"),
    ("organisation_id", "organisation"),
)


def upgrade() -> None:
    op.create_table(
        "idempotency_record",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("system_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.SmallInteger(), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["system_id"], ["system.id"], name=op.f("fk_idempotency_record_system_id_system")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_record")),
        sa.UniqueConstraint("system_id", "key", name=op.f("uq_idempotency_record_system_id_key")),
    )
    op.create_index(op.f("ix_idempotency_record_created_at"), "idempotency_record", ["created_at"])
    with op.batch_alter_table("response") as batch:
        for column, table in REFERENCES:
            batch.drop_constraint(op.f(f"fk_response_{column}_{table}"), type_="foreignkey")
        batch.drop_index("ix_response_team_id")
        batch.create_index(
            "ix_response_system_id_received_at_id", ["system_id", "received_at", "id"]
        )
    if op.get_bind().dialect.name == "postgresql":
        # Rows COPYed in bulk get their ids from the server (app.services.responses).
        op.alter_column("response", "id", server_default=sa.text("gen_random_uuid()"))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("response", "id", server_default=None)
    with op.batch_alter_table("response") as batch:
        batch.drop_index("ix_response_system_id_received_at_id")
        batch.create_index("ix_response_team_id", ["team_id"])
        for column, table in REFERENCES:
            batch.create_foreign_key(op.f(f"fk_response_{column}_{table}"), table, [column], ["id"])
    op.drop_index(op.f("ix_idempotency_record_created_at"), table_name="idempotency_record")
    op.drop_table("idempotency_record")
