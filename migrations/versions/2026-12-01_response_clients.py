"""Response clients: keys name the portal they belong to; responses and replays record it.

A key's ``client`` names its portal; a response and an idempotency record keep who stored
them (``stored_by``: the client, or the key for a key that names none), so only they
learn whether a re-post or a replay matches (DESIGN section 3, rule 6). Responses stored
before this revision were stored by nobody known: their ``stored_by`` stays null, as for
`pulse import`. Idempotency records (a 24-hour replay cache) cannot be attributed either,
and are dropped, both ways: after this revision the keys of two portals may coincide.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable columns without defaults: a change of the catalogue only, however many rows.
    op.add_column("api_key", sa.Column("client", sa.String(length=64), nullable=True))
    op.add_column("response", sa.Column("stored_by", sa.String(length=64), nullable=True))
    op.execute(sa.text("DELETE FROM idempotency_record"))
    with op.batch_alter_table("idempotency_record") as batch:
        batch.drop_constraint(op.f("uq_idempotency_record_system_id_key"), type_="unique")
        batch.add_column(sa.Column("stored_by", sa.String(length=64), nullable=False))
        batch.create_unique_constraint(
            op.f("uq_idempotency_record_system_id_stored_by_key"), ["system_id", "stored_by", "key"]
        )


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM idempotency_record"))
    with op.batch_alter_table("idempotency_record") as batch:
        batch.drop_constraint(op.f("uq_idempotency_record_system_id_stored_by_key"), type_="unique")
        batch.drop_column("stored_by")
        batch.create_unique_constraint(
            op.f("uq_idempotency_record_system_id_key"), ["system_id", "key"]
        )
    op.drop_column("response", "stored_by")
    op.drop_column("api_key", "client")
