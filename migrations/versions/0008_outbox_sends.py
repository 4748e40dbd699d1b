"""outbox sends: a post about to be made, recorded before the call so a crash cannot double it

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 11:10:00.000000

No foreign key to outbox: the record is written on a separate connection while the delivering transaction
holds the outbox row FOR UPDATE, and a foreign-key check would wait for that very lock.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "outbox_sends",
        sa.Column("outbox_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("worker", sa.String(length=120), nullable=False),
        sa.PrimaryKeyConstraint("outbox_id", name=op.f("pk_outbox_sends")),
    )


def downgrade() -> None:
    op.drop_table("outbox_sends")
