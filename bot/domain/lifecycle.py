"""The incident's status lifecycle, acknowledgement and ownership: who, when, from → to, always recorded."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from bot.domain.audit import record_event
from bot.domain.durations import took
from bot.domain.errors import DomainError
from bot.domain.names import person_token
from bot.models import Incident, IncidentStatus, Severity

S = IncidentStatus
ALLOWED_TRANSITIONS: dict[IncidentStatus, tuple[IncidentStatus, ...]] = {
    S.NEW: (S.INVESTIGATING, S.ESCALATED, S.MITIGATED, S.RESOLVED),
    S.INVESTIGATING: (S.ESCALATED, S.MITIGATED, S.RESOLVED),
    S.ESCALATED: (S.INVESTIGATING, S.MITIGATED, S.RESOLVED),
    S.MITIGATED: (S.INVESTIGATING, S.ESCALATED, S.RESOLVED),
    S.RESOLVED: (S.INVESTIGATING, S.CLOSED),
    S.CLOSED: (),
}


class IllegalTransition(DomainError):
    def __init__(self, incident: Incident, to: IncidentStatus) -> None:
        allowed = ", ".join(s.value for s in ALLOWED_TRANSITIONS[incident.status]) or "none (it is closed)"
        super().__init__(f"{incident.key} is {incident.status.value}; it can't go to {to.value}. Allowed: {allowed}.")


class IncidentClosed(DomainError):
    def __init__(self, incident: Incident, action: str) -> None:
        super().__init__(f"{incident.key} is {incident.status.value}, so it can't be {action} any more.")


class AlreadyAcknowledged(DomainError):
    def __init__(self, incident: Incident) -> None:
        super().__init__(
            f"{incident.key} was already acknowledged by <@{incident.owner_id}>. Use *Take ownership* to take it over."
        )


def require_open(incident: Incident, action: str) -> None:
    if not incident.is_open:
        raise IncidentClosed(incident, action)


def _touch(incident: Incident, now: datetime) -> None:
    incident.updated_at = now


def change_status(
    *, session: Session, incident: Incident, to: IncidentStatus, actor_id: str, now: datetime, reason: str | None = None
) -> bool:
    """Move along the lifecycle; False when it already is there, IllegalTransition when the move is not allowed."""
    if incident.status == to:
        return False
    if to not in ALLOWED_TRANSITIONS[incident.status]:
        raise IllegalTransition(incident, to)
    before = incident.status
    incident.status = to
    _stamp_milestone(incident, to, now)
    _touch(incident, now)
    summary = f"Status {before.value} → {to.value}" + (f": {reason}" if reason else "")
    record_event(
        session=session,
        incident=incident,
        at=now,
        actor_id=actor_id,
        kind="status_changed",
        summary=summary,
        details={"from": before.value, "to": to.value, "reason": reason},
    )
    return True


def _stamp_milestone(incident: Incident, to: IncidentStatus, now: datetime) -> None:
    """First time an incident is mitigated / resolved / closed; reopening clears the later stamps."""
    if to == S.MITIGATED and incident.mitigated_at is None:
        incident.mitigated_at = now
    elif to == S.RESOLVED:
        incident.resolved_at = now
    elif to == S.CLOSED:
        incident.closed_at = now
    elif to == S.INVESTIGATING and incident.resolved_at is not None:
        incident.resolved_at = None


def change_severity(
    *, session: Session, incident: Incident, to: Severity, actor_id: str, now: datetime, reason: str | None = None
) -> bool:
    require_open(incident, "re-rated")
    if incident.severity == to:
        return False
    before = incident.severity
    incident.severity = to
    _touch(incident, now)
    record_event(
        session=session,
        incident=incident,
        at=now,
        actor_id=actor_id,
        kind="severity_changed",
        summary=f"Severity {before.value} → {to.value}" + (f": {reason}" if reason else ""),
        details={"from": before.value, "to": to.value, "reason": reason},
    )
    return True


def acknowledge(*, session: Session, incident: Incident, actor_id: str, now: datetime) -> None:
    """The first person to acknowledge owns the incident; time to acknowledge starts the clock on trust."""
    require_open(incident, "acknowledged")
    if incident.acknowledged_at is not None:
        raise AlreadyAcknowledged(incident)
    incident.acknowledged_at = now
    incident.owner_id = actor_id
    _touch(incident, now)
    record_event(
        session=session,
        incident=incident,
        at=now,
        actor_id=actor_id,
        kind="acknowledged",
        summary=f"Acknowledged {took(now - incident.opened_at)} and took ownership",
        details={"seconds_to_acknowledge": round((now - incident.opened_at).total_seconds())},
    )
    if incident.status == S.NEW:
        change_status(session=session, incident=incident, to=S.INVESTIGATING, actor_id=actor_id, now=now)


def take_ownership(*, session: Session, incident: Incident, actor_id: str, now: datetime) -> bool:
    """Hand the incident to `actor_id`; False when they already own it."""
    require_open(incident, "taken over")
    if incident.acknowledged_at is None:
        acknowledge(session=session, incident=incident, actor_id=actor_id, now=now)
        return True
    if incident.owner_id == actor_id:
        return False
    before = incident.owner_id
    incident.owner_id = actor_id
    _touch(incident, now)
    record_event(
        session=session,
        incident=incident,
        at=now,
        actor_id=actor_id,
        kind="owner_changed",
        summary="Took over ownership" + (f" from {person_token(before)}" if before else ""),
        details={"from": before, "to": actor_id},
        refs=[before] if before else [],
    )
    return True
