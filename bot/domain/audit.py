"""The audit trail: every domain change appends one event; events are never edited."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.domain.errors import DomainError
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
    refs: Sequence[str] = (),
) -> Event:
    """Append one event. `refs` are the Slack ids the summary names as `<@U…>` / `<#C…>` (bot.domain.names): only
    those are shown as mentions and names, never something typed that looks like one."""
    listed = list(dict.fromkeys(r for r in refs if r))
    event = Event(
        incident=incident,
        at=at,
        actor_id=actor_id,
        kind=kind,
        summary=summary,
        details={**(details or {}), "refs": listed} if listed else (details or {}),
        refers_to_id=refers_to.id if refers_to else None,
    )
    session.add(event)
    return event


def audit_trail(*, session: Session, incident_id: int) -> list[Event]:
    """The incident's events, oldest first."""
    return list(session.scalars(select(Event).where(Event.incident_id == incident_id).order_by(Event.at, Event.id)))


MAX_CORRECTION = 2000


def audit_entry(*, session: Session, incident: Incident, number: int) -> Event:
    """Entry `number` of the trail (1-based, oldest first, as shown); DomainError when there is none."""
    trail = audit_trail(session=session, incident_id=incident.id)
    if not 1 <= number <= len(trail):
        raise DomainError(f"{incident.key} has no audit entry #{number}: its trail has {len(trail)} entries.")
    return trail[number - 1]


def record_correction(
    *, session: Session, incident: Incident, number: int, text: str, actor_id: str, now: datetime
) -> Event:
    """Correct entry `number` of the trail (1-based, oldest first, as shown) with a new event that refers to it."""
    corrected = audit_entry(session=session, incident=incident, number=number)
    text = text.strip()
    if not text:
        raise DomainError(f"Say what was wrong: `/triage correct {incident.key} {number} what it should say`.")
    if len(text) > MAX_CORRECTION:
        raise DomainError(f"Keep a correction under {MAX_CORRECTION} characters.")
    return record_event(
        session=session,
        incident=incident,
        at=now,
        actor_id=actor_id,
        kind="correction",
        summary=f"Correction to #{number}: {text}",
        details={"corrects": number},
        refers_to=corrected,
    )
