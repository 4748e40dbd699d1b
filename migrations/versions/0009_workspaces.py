"""workspaces: the Slack team of each incident, and slack_sdk's OAuth installation and state tables

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 13:40:00.000000

The OAuth tables are slack_sdk's own (SQLAlchemyInstallationStore / SQLAlchemyOAuthStateStore): they are built
from the library's table definitions, so the stores find exactly the columns they expect, and created here so that
one replica creates them under the migration lock. Autogenerate leaves them alone (`bot.migrate.LIBRARY_TABLES`).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _library_tables() -> sa.MetaData:
    metadata = sa.MetaData()
    SQLAlchemyInstallationStore.build_installations_table(metadata, "slack_installations")
    SQLAlchemyInstallationStore.build_bots_table(metadata, "slack_bots")
    SQLAlchemyOAuthStateStore.build_oauth_states_table(metadata, "slack_oauth_states")
    return metadata


def upgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("team_id", sa.String(length=32), nullable=True))
        batch.create_index("ix_incidents_team_id", ["team_id"])
    _library_tables().create_all(op.get_bind(), checkfirst=True)


def downgrade() -> None:
    _library_tables().drop_all(op.get_bind(), checkfirst=True)
    with op.batch_alter_table("incidents") as batch:
        batch.drop_index("ix_incidents_team_id")
        batch.drop_column("team_id")
