"""Slack workspaces: with OAuth installs one database holds several, and none sees another's incidents."""

from __future__ import annotations

from sqlalchemy import ColumnElement, true

from bot.models import Incident


def in_workspace(workspace: str | None) -> ColumnElement[bool]:
    """Incidents of one workspace (team id); every incident when `workspace` is None (a single-workspace install)."""
    return Incident.team_id == workspace if workspace is not None else true()


def same_workspace(incident: Incident) -> ColumnElement[bool]:
    """Incidents of the workspace `incident` was opened in (every incident for one recorded without a workspace)."""
    return in_workspace(incident.team_id)


def visible_in(incident: Incident, workspace: str | None) -> bool:
    """Whether a request from `workspace` may see `incident` (any may when requests are not scoped)."""
    return workspace is None or incident.team_id == workspace
