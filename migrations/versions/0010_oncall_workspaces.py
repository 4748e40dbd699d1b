"""on-call rotations per workspace: each team's Slack workspace and leads; overrides record who cancelled them

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 10:00:00.000000

Team names were unique across the database; now per workspace (a partial unique index keeps the names of a
single-workspace install's teams, which have no workspace, unique among themselves).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WITHOUT_WORKSPACE = sa.text("workspace IS NULL")


def upgrade() -> None:
    with op.batch_alter_table("oncall_teams") as batch:
        batch.add_column(sa.Column("workspace", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("leads", sa.JSON(), server_default=sa.text("'[]'"), nullable=False))
        batch.drop_constraint("uq_oncall_teams_name", type_="unique")
        batch.create_unique_constraint("uq_oncall_teams_workspace", ["workspace", "name"])
        batch.create_index(
            "uq_oncall_teams_name_without_workspace",
            ["name"],
            unique=True,
            postgresql_where=WITHOUT_WORKSPACE,
            sqlite_where=WITHOUT_WORKSPACE,
        )
    with op.batch_alter_table("oncall_overrides") as batch:
        batch.add_column(sa.Column("cancelled_by", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("oncall_overrides") as batch:
        batch.drop_column("cancelled_at")
        batch.drop_column("cancelled_by")
    # Teams of different workspaces may share a name now: name the later ones after their workspace, so that names
    # can be unique across the database again and no rotation is lost.
    op.execute(
        "UPDATE oncall_teams SET name = SUBSTR(name, 1, 60) || ' (' || workspace || ')' "
        "WHERE workspace IS NOT NULL AND EXISTS "
        "(SELECT 1 FROM oncall_teams other WHERE other.name = oncall_teams.name AND other.id < oncall_teams.id)"
    )
    with op.batch_alter_table("oncall_teams") as batch:
        batch.drop_index("uq_oncall_teams_name_without_workspace")
        batch.drop_constraint("uq_oncall_teams_workspace", type_="unique")
        batch.create_unique_constraint("uq_oncall_teams_name", ["name"])
        batch.drop_column("leads")
        batch.drop_column("workspace")
