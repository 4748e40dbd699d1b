"""Busy or quiet: how many Slack calls a workspace has waiting, the class the outbox metrics are labelled by."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.models import Incident, OutboxMessage, OutboxState

BUSY_WORKSPACE_QUEUE = 100  # a workspace with more Slack calls waiting than this counts as busy
RECOUNT_SECONDS = 5.0  # how long a count serves the deliveries that follow it


def workspace_class(waiting: int) -> str:
    return "busy" if waiting > BUSY_WORKSPACE_QUEUE else "quiet"


def speaking_for() -> ColumnElement[str | None]:
    """The workspace an outbox row speaks for: its incident's, else the one it was queued for (join Incident)."""
    return func.coalesce(Incident.team_id, OutboxMessage.payload["workspace"].as_string())


def waiting_slack_calls(session: Session) -> dict[str | None, int]:
    """Slack calls not yet delivered, per workspace (None: calls for the single-workspace token)."""
    team = speaking_for()
    rows = session.execute(
        select(team, func.count())
        .select_from(OutboxMessage)
        .outerjoin(Incident, Incident.id == OutboxMessage.incident_id)
        .where(OutboxMessage.state == OutboxState.PENDING, OutboxMessage.target == "slack")
        .group_by(team)
    ).all()
    return {team: int(count) for team, count in rows}


class WorkspaceLoad:
    """Each workspace's class as last counted; counted again (one grouped query) at most every RECOUNT_SECONDS."""

    def __init__(
        self, session_factory: sessionmaker[Session], *, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.session_factory = session_factory
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._counted_at: float | None = None
        self._waiting: dict[str | None, int] = {}

    def class_of(self, team: str | None) -> str:
        now = self._monotonic()
        with self._lock:
            if self._counted_at is None or now - self._counted_at >= RECOUNT_SECONDS:
                with self.session_factory() as session:
                    self._waiting = waiting_slack_calls(session)
                self._counted_at = now
            return workspace_class(self._waiting.get(team, 0))
