"""The audit trail: every domain change appends one event; events are never edited."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import Event, Incident


def record_event(
    *,
    session: Session,
    incident: Incident,
    at: datetime,
    actor_id: str,
    kind: str,
    summary: str,
    details: dict[str, Any] | None = None,
    refers_to: Event | None = None,
) -> Event:
    event = Event(
        incident=incident,
        at=at,
        actor_id=actor_id,
        kind=kind,
        summary=summary,
        details=details or {},
        refers_to_id=refers_to.id if refers_to else None,
    )
    session.add(event)
    return event


def audit_trail(*, session: Session, incident_id: int) -> list[Event]:
    """The incident's events, oldest first."""
    return list(session.scalars(select(Event).where(Event.incident_id == incident_id).order_by(Event.at, Event.id)))
