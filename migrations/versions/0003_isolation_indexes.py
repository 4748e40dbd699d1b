"""isolation indexes: trigrams of open incidents' blockers, browser and OS by incident

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 10:00:00.000000

The Isolate step (bot.domain.isolation.find_similar) looks at every open incident, however old, and every
incident opened within the window:

* ix_incidents_open_blocker_trgm (PostgreSQL with pg_trgm): a trigram index over the blockers of open
  incidents only. The full index from 0002 also holds a year of resolved incidents, so a search through it
  reads long posting lists for common trigrams (60-100 ms at 100k incidents); comparing each open incident
  in turn costs as much. The predicate must read as the query's open-status filter, or the planner can't
  use the index.
* ix_environments_incident_browser_os (every dialect): browser and OS by incident, so ranking the candidates
  looks them up in the index alone instead of hashing the whole environments table.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN_BLOCKERS = "ix_incidents_open_blocker_trgm"
STILL_OPEN = "status IN ('new', 'investigating', 'escalated', 'mitigated')"
ENVIRONMENT_TRAITS = "ix_environments_incident_browser_os"


def upgrade() -> None:
    op.create_index(ENVIRONMENT_TRAITS, "environments", ["incident_id", "browser", "os"])
    if _has_pg_trgm():
        op.create_index(
            OPEN_BLOCKERS,
            "incidents",
            ["blocker"],
            postgresql_using="gin",
            postgresql_ops={"blocker": "gin_trgm_ops"},
            postgresql_where=sa.text(STILL_OPEN),
        )


def _has_pg_trgm() -> bool:
    """Without pg_trgm (SQLite, or no privilege to create it in 0002) blockers are compared in Python."""
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return False
    return bind.execute(sa.text("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")).first() is not None


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP INDEX IF EXISTS {OPEN_BLOCKERS}")
    op.drop_index(ENVIRONMENT_TRAITS, table_name="environments")
