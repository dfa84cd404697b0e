"""Feed rows for BI tools: stable cell ids, tombstones, and kept participation.

Score cells get the id feeds show (a UUIDv5 of what the cell is); cells and warning signs
get ``withdrawn_at``, so a row the results no longer hold stays in the feeds as a
tombstone; ``participation`` keeps each team's and place's responses and headcount of a
closed pulse. Every publication is marked due, so the next computation fills
``participation`` (rows whose numbers are unchanged are left as they are).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A copy of ``app.analysis.cells.cell_id`` as it stands: a migration must not change when
# the application does.
CELL_NAMESPACE = uuid.UUID("0b7c52e4-8d1f-5a36-b2c9-4e6a1f3d8c75")


def _cell_id(*parts: str | None) -> str:
    return str(uuid.uuid5(CELL_NAMESPACE, "\x1f".join(p or "" for p in parts)))


def upgrade() -> None:
    with op.batch_alter_table("score_cell") as batch:
        batch.add_column(sa.Column("public_id", sa.String(length=36), nullable=True))
        batch.add_column(sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True))
    connection = op.get_bind()
    rows = connection.execute(
        sa.text(
            "SELECT c.id, s.slug, p.key, c.scope, c.place, c.team, c.dimension, "
            "c.segment_type, c.segment FROM score_cell c "
            "JOIN pulse p ON p.id = c.pulse_id JOIN system s ON s.id = c.system_id"
        )
    ).all()
    if rows:
        connection.execute(
            sa.text("UPDATE score_cell SET public_id = :public_id WHERE id = :id"),
            [
                {
                    "id": cell,
                    "public_id": _cell_id(
                        slug,
                        key,
                        scope,
                        team if scope == "team" else place,
                        dimension,
                        segment_type,
                        segment,
                    ),
                }
                for cell, slug, key, scope, place, team, dimension, segment_type, segment in rows
            ],
        )
    with op.batch_alter_table("score_cell") as batch:
        batch.alter_column("public_id", existing_type=sa.String(length=36), nullable=False)
    with op.batch_alter_table("warning_sign") as batch:
        batch.add_column(sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "participation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=36), nullable=False),
        sa.Column("system_id", sa.Integer(), nullable=False),
        sa.Column("pulse_id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=8), nullable=False),
        sa.Column("place", sa.String(length=64), nullable=False),
        sa.Column("team", sa.String(length=64), nullable=True),
        sa.Column("responses", sa.Integer(), nullable=False),
        sa.Column("headcount", sa.Integer(), nullable=True),
        sa.Column("response_rate", sa.Float(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["pulse_id"], ["pulse.id"], name=op.f("fk_participation_pulse_id_pulse")
        ),
        sa.ForeignKeyConstraint(
            ["system_id"], ["system.id"], name=op.f("fk_participation_system_id_system")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_participation")),
        sa.UniqueConstraint(
            "pulse_id",
            "scope",
            "place",
            "team",
            name=op.f("uq_participation_pulse_id_scope_place_team"),
        ),
    )
    op.create_index(
        "ix_participation_system_id_updated_at_id",
        "participation",
        ["system_id", "updated_at", "id"],
    )
    # Due again, so that the next computation keeps each closed pulse's participation.
    op.execute("UPDATE publication SET inputs = ''")


def downgrade() -> None:
    op.drop_table("participation")
    op.execute("DELETE FROM warning_sign WHERE withdrawn_at IS NOT NULL")
    op.execute("DELETE FROM score_cell WHERE withdrawn_at IS NOT NULL")
    with op.batch_alter_table("warning_sign") as batch:
        batch.drop_column("withdrawn_at")
    with op.batch_alter_table("score_cell") as batch:
        batch.drop_column("withdrawn_at")
        batch.drop_column("public_id")
