"""slack names: what Slack calls the people, user groups and channels the bot meets, for exports and the CLI

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-08 10:00:00.000000

The audit trail and the records keep Slack ids; exports and the CLI run without Slack and show names from here.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "slack_names",
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("slack_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("team_id", "slack_id", name=op.f("pk_slack_names")),
    )
    op.create_index(op.f("ix_slack_names_updated_at"), "slack_names", ["updated_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_slack_names_updated_at"), table_name="slack_names")
    op.drop_table("slack_names")
