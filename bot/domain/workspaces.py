"""Slack workspaces: with OAuth installs one database holds several, and none sees another's incidents."""

from __future__ import annotations

import re

from sqlalchemy import ColumnElement, true, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from bot.domain.errors import DomainError
from bot.models import Incident

_TEAM_ID = re.compile(r"^T[A-Z0-9]{2,31}$")


def scoped(
    column: ColumnElement[str | None] | InstrumentedAttribute[str | None], workspace: str | None
) -> ColumnElement[bool]:
    """Rows whose workspace `column` is `workspace`; every row when `workspace` is None (a single-workspace install)."""
    return column == workspace if workspace is not None else true()


def in_workspace(workspace: str | None) -> ColumnElement[bool]:
    """Incidents of one workspace (team id); every incident when `workspace` is None (a single-workspace install)."""
    return scoped(Incident.team_id, workspace)


def same_workspace(incident: Incident) -> ColumnElement[bool]:
    """Incidents of the workspace `incident` was opened in (every incident for one recorded without a workspace)."""
    return in_workspace(incident.team_id)


def visible_in(incident: Incident, workspace: str | None) -> bool:
    """Whether a request from `workspace` may see `incident` (any may when requests are not scoped)."""
    return workspace is None or incident.team_id == workspace


def parse_team_id(text: str) -> str:
    """A Slack team id as typed (`T01ABCDEF`, surrounding spaces ignored); DomainError when it is not one."""
    team_id = text.strip()
    if not _TEAM_ID.match(team_id):
        raise DomainError(f"'{team_id}' is not a Slack team id such as T01ABCDEF.")
    return team_id


def adopt_unassigned(session: Session, team_id: str) -> int:
    """Give every incident recorded without a workspace to `team_id`; how many there were.

    For switching a single-workspace install to OAuth installs: afterwards that workspace sees its history.
    """
    team_id = parse_team_id(team_id)
    # Delivery metadata rather than a change to the incident: its version (optimistic lock) is left alone.
    adopted = session.execute(update(Incident).where(Incident.team_id.is_(None)).values(team_id=team_id))
    return int(adopted.rowcount)  # type: ignore[attr-defined]
