"""follow-ups and key learnings; the audit trail made append-only in the database

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 10:40:00.000000

On PostgreSQL a trigger rejects UPDATE and DELETE on `events`: a correction is a new event that refers to the
old one (`refers_to_id`). TRUNCATE (the test suite's clean-up) does not fire row triggers.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY_FUNCTION = """
CREATE FUNCTION events_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the audit trail is append-only: record a correction that refers to event %', OLD.id
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql
"""
APPEND_ONLY_TRIGGER = (
    "CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events "
    "FOR EACH ROW EXECUTE FUNCTION events_append_only()"
)


def upgrade() -> None:
    op.create_table(
        "follow_ups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("owner_id", sa.String(length=40), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("created_by", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("wants_ticket", sa.Boolean(), nullable=False),
        sa.Column("ticket_key", sa.String(length=40), nullable=True),
        sa.Column("ticket_url", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name=op.f("fk_follow_ups_incident_id_incidents"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_follow_ups")),
    )
    op.create_index(op.f("ix_follow_ups_incident_id"), "follow_ups", ["incident_id"], unique=False)
    op.create_table(
        "learnings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name=op.f("fk_learnings_incident_id_incidents"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_learnings")),
    )
    op.create_index(op.f("ix_learnings_incident_id"), "learnings", ["incident_id"], unique=False)
    op.create_index(op.f("ix_learnings_created_at"), "learnings", ["created_at"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(APPEND_ONLY_FUNCTION)
        op.execute(APPEND_ONLY_TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER events_append_only ON events")
        op.execute("DROP FUNCTION events_append_only()")
    op.drop_index(op.f("ix_learnings_created_at"), table_name="learnings")
    op.drop_index(op.f("ix_learnings_incident_id"), table_name="learnings")
    op.drop_table("learnings")
    op.drop_index(op.f("ix_follow_ups_incident_id"), table_name="follow_ups")
    op.drop_table("follow_ups")
