"""partial indexes for claiming pending outbox rows and due timers

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 10:05:00.000000

The outbox claim orders pending rows by id and the timer claim orders unfinished timers by due time.
Under a backlog (benchmarks/checkins.py) the only usable indexes also held every sent row, so each claim
scanned and sorted the backlog: 17-20 ms per claim at 12,000 pending, 0.5 ms with these.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PENDING = sa.text("state = 'pending'")
UNFINISHED = sa.text("done_at IS NULL")


def upgrade() -> None:
    op.create_index("ix_outbox_pending_id", "outbox", ["id"], postgresql_where=PENDING, sqlite_where=PENDING)
    op.create_index(
        "ix_timers_pending_due", "timers", ["due_at", "id"], postgresql_where=UNFINISHED, sqlite_where=UNFINISHED
    )


def downgrade() -> None:
    op.drop_index("ix_timers_pending_due", table_name="timers")
    op.drop_index("ix_outbox_pending_id", table_name="outbox")
