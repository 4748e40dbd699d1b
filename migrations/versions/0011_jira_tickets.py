"""jira tickets: the key of each issue the bot files, kept the moment Jira answers (search is only a second line)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 10:00:00.000000

Jira Cloud's search is eventually consistent: a label search can miss an issue created a moment ago, so the key
(and a create whose answer was lost) is recorded here, by the ticket's dedupe label.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "jira_tickets",
        sa.Column("label", sa.String(length=255), nullable=False),
        sa.Column("project", sa.String(length=100), nullable=False),
        sa.Column("key", sa.String(length=120), nullable=True),
        sa.Column("issue_id", sa.String(length=40), nullable=True),
        sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("filed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("label", name=op.f("pk_jira_tickets")),
    )
    op.create_index(op.f("ix_jira_tickets_filed_at"), "jira_tickets", ["filed_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_jira_tickets_filed_at"), table_name="jira_tickets")
    op.drop_table("jira_tickets")
