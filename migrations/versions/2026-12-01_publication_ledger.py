"""Publication ledger: a closed pulse is published once and kept; revisions add to it.

The publication of a pulse keeps the k and structure it was computed from; each edition
(the first publication, then each revision) keeps which cells it published and how many
respondents of each profile and cohort it included; a response records the edition that
first included it; a kept cell keeps its sums (never served: rules re-run on them), when
it was published, whether a later revision was withheld, and whether it was withheld at
first publication for having fewer than k respondents. Results kept before this revision
were computed by the earlier rules and are dropped, so each closed pulse is published
afresh under the ledger once, at start-up.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _clear() -> None:
    for table in ("warning_sign", "score_cell", "publication"):
        op.execute(sa.text(f"DELETE FROM {table}"))


def upgrade() -> None:
    _clear()
    with op.batch_alter_table("publication") as batch:
        batch.add_column(sa.Column("k", sa.SmallInteger(), nullable=True))
        batch.add_column(sa.Column("structure", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("editions", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("responses_revision", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("published_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "publication_edition",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("system_id", sa.Integer(), nullable=False),
        sa.Column("pulse_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cells", sa.JSON(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["pulse_id"], ["pulse.id"], name=op.f("fk_publication_edition_pulse_id_pulse")
        ),
        sa.ForeignKeyConstraint(
            ["system_id"], ["system.id"], name=op.f("fk_publication_edition_system_id_system")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_publication_edition")),
        sa.UniqueConstraint(
            "pulse_id", "number", name=op.f("uq_publication_edition_pulse_id_number")
        ),
    )
    with op.batch_alter_table("score_cell") as batch:
        batch.add_column(sa.Column("total", sa.Float(), nullable=True))
        batch.add_column(sa.Column("total_sq", sa.Float(), nullable=True))
        batch.add_column(sa.Column("published_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(
            sa.Column("revision_withheld", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch.add_column(
            sa.Column("small", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    op.add_column("response", sa.Column("published_in", sa.SmallInteger(), nullable=True))


def downgrade() -> None:
    _clear()
    op.drop_column("response", "published_in")
    with op.batch_alter_table("score_cell") as batch:
        for column in ("small", "revision_withheld", "published_at", "total_sq", "total"):
            batch.drop_column(column)
    op.drop_table("publication_edition")
    with op.batch_alter_table("publication") as batch:
        for column in ("published_at", "responses_revision", "editions", "structure", "k"):
            batch.drop_column(column)
