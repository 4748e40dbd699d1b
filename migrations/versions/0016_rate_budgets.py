"""rate budgets: Slack calls paced by shared token buckets; outbox rows with a priority, a channel lane and a wait

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 11:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rate_budgets",
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("tokens", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("paused_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_rate_budgets")),
    )
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("priority", sa.Integer(), server_default=sa.text("5"), nullable=False))
        batch.add_column(sa.Column("lane", sa.String(length=80), nullable=True))
        batch.add_column(sa.Column("limited_until", sa.DateTime(timezone=True), nullable=True))
        batch.create_index("ix_outbox_lane", ["lane"], unique=False)
    op.create_index(
        "ix_outbox_pending_priority_id",
        "outbox",
        ["priority", "id"],
        unique=False,
        postgresql_where=sa.text("state = 'pending'"),
        sqlite_where=sa.text("state = 'pending'"),
    )


def downgrade() -> None:
    op.drop_index(
        "ix_outbox_pending_priority_id",
        table_name="outbox",
        postgresql_where=sa.text("state = 'pending'"),
        sqlite_where=sa.text("state = 'pending'"),
    )
    with op.batch_alter_table("outbox") as batch:
        batch.drop_index("ix_outbox_lane")
        batch.drop_column("limited_until")
        batch.drop_column("lane")
        batch.drop_column("priority")
    op.drop_table("rate_budgets")
