"""Score cells: one foreign key to their pulse and its system, in place of one to each.

PostgreSQL checks a foreign key row by row; a publication writes every cell of a pulse
(some 125,000 at 2,000 teams), and its two keys were half of the time the COPY took. The
key to ``pulse (system_id, id)`` checks both at once, and that a cell's system is its
pulse's.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("pulse") as batch:
        batch.create_unique_constraint(op.f("uq_pulse_system_id_id"), ["system_id", "id"])
    with op.batch_alter_table("score_cell") as batch:
        batch.drop_constraint("fk_score_cell_pulse_id_pulse", type_="foreignkey")
        batch.drop_constraint("fk_score_cell_system_id_system", type_="foreignkey")
        batch.create_foreign_key(
            op.f("fk_score_cell_system_id_pulse"),
            "pulse",
            ["system_id", "pulse_id"],
            ["system_id", "id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("score_cell") as batch:
        batch.drop_constraint("fk_score_cell_system_id_pulse", type_="foreignkey")
        batch.create_foreign_key(
            op.f("fk_score_cell_system_id_system"), "system", ["system_id"], ["id"]
        )
        batch.create_foreign_key(
            op.f("fk_score_cell_pulse_id_pulse"), "pulse", ["pulse_id"], ["id"]
        )
    with op.batch_alter_table("pulse") as batch:
        batch.drop_constraint("uq_pulse_system_id_id", type_="unique")
