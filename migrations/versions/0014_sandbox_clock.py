"""sandbox clock: how far `triage-bot sandbox` has fast-forwarded, so the CLI reads its database at its time

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-08 12:00:00.000000

One row, written by the sandbox whenever its clock moves; a real bot's database never has one.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sandbox_clock",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("offset_us", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sandbox_clock")),
    )


def downgrade() -> None:
    op.drop_table("sandbox_clock")
