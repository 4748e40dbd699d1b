"""workarounds and attempts

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 09:18:37.909842
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "workarounds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "retry_cycle",
                "batching",
                "format_change",
                "manual_override",
                name="workaroundkind",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column(
            "state",
            sa.Enum("active", "worked", "stopped", name="workaroundstate", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("client_expectation", sa.Text(), nullable=False),
        sa.Column("owner_id", sa.String(length=40), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("interval_minutes", sa.Integer(), nullable=True),
        sa.Column("batches_done", sa.Integer(), nullable=True),
        sa.Column("batches_total", sa.Integer(), nullable=True),
        sa.Column("failing_element", sa.String(length=300), nullable=True),
        sa.Column("progress_note", sa.Text(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stop_reason", sa.String(length=300), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name=op.f("fk_workarounds_incident_id_incidents"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workarounds")),
    )
    with op.batch_alter_table("workarounds", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_workarounds_incident_id"), ["incident_id"], unique=False)

    op.create_table(
        "attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workaround_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.String(length=40), nullable=False),
        sa.Column(
            "outcome",
            sa.Enum("worked", "still_failing", "error_changed", name="attemptoutcome", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("error_text", sa.Text(), nullable=True),
        sa.Column("error_changed", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workaround_id"],
            ["workarounds.id"],
            name=op.f("fk_attempts_workaround_id_workarounds"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attempts")),
        sa.UniqueConstraint("workaround_id", "number", name=op.f("uq_attempts_workaround_id")),
    )


def downgrade() -> None:
    op.drop_table("attempts")
    with op.batch_alter_table("workarounds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_workarounds_incident_id"))

    op.drop_table("workarounds")
