"""Resolving an incident: root cause, resolution, follow-up items and key learnings, recorded in the audit trail."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.domain.audit import record_event
from bot.domain.errors import DomainError
from bot.domain.lifecycle import change_status
from bot.domain.names import person_token
from bot.models import FollowUp, Incident, IncidentStatus, Learning

MAX_TEXT = 3000
MAX_FOLLOW_UP = 500
MAX_LEARNINGS = 10


@dataclass(frozen=True)
class FollowUpItem:
    description: str
    owner_id: str
    due_on: date | None = None
    wants_ticket: bool = False


@dataclass(frozen=True)
class ResolutionReport:
    """What the resolve modal asks; validated by `resolution_problems` before it is applied."""

    root_cause: str
    resolution: str
    follow_ups: tuple[FollowUpItem, ...] = ()
    learnings: tuple[str, ...] = ()
    file_feedback: bool = False


class AlreadyResolved(DomainError):
    def __init__(self, incident: Incident) -> None:
        super().__init__(
            f"{incident.key} is already {incident.status.value}: nothing changed. "
            "To resolve it again, reopen it first (Status → investigating)."
        )


def learnings_from(text: str) -> tuple[str, ...]:
    """One learning per non-empty line; list bullets typed by habit are dropped."""
    lines = (line.strip().lstrip("-•*").strip() for line in text.splitlines())
    return tuple(line for line in lines if line)


def resolution_problems(report: ResolutionReport) -> dict[str, str]:
    """Field name → what is wrong; empty when the report can be applied."""
    problems: dict[str, str] = {}
    if not report.root_cause.strip():
        problems["root_cause"] = "Say what caused it (or what is known so far)."
    elif len(report.root_cause) > MAX_TEXT:
        problems["root_cause"] = f"Keep the root cause under {MAX_TEXT} characters."
    if not report.resolution.strip():
        problems["resolution"] = "Say what resolved it for the client."
    elif len(report.resolution) > MAX_TEXT:
        problems["resolution"] = f"Keep the resolution under {MAX_TEXT} characters."
    if len(report.learnings) > MAX_LEARNINGS:
        problems["learnings"] = f"At most {MAX_LEARNINGS} learnings, one per line."
    return problems


def follow_up_problems(description: str, owner_id: str | None, due_on: date | None, today: date) -> dict[str, str]:
    """Problems with one follow-up row of the modal, keyed "description", "owner" or "due"."""
    problems: dict[str, str] = {}
    if (owner_id or due_on) and not description.strip():
        problems["description"] = "Say what needs doing, or clear the owner and date."
    if description.strip() and not owner_id:
        problems["owner"] = "Every follow-up needs an owner."
    if len(description) > MAX_FOLLOW_UP:
        problems["description"] = f"Keep it under {MAX_FOLLOW_UP} characters."
    if due_on is not None and due_on < today:
        problems["due"] = "That date is in the past."
    return problems


@dataclass(frozen=True)
class Resolved:
    follow_ups: list[FollowUp]
    learnings: list[Learning]


def resolve_incident(
    *, session: Session, incident: Incident, report: ResolutionReport, actor_id: str, now: datetime
) -> Resolved:
    """Record the root cause and resolution, move to resolved, add follow-ups and learnings; all audited."""
    if not incident.is_open:
        raise AlreadyResolved(incident)
    incident.root_cause = report.root_cause.strip()
    incident.resolution = report.resolution.strip()
    change_status(session=session, incident=incident, to=IncidentStatus.RESOLVED, actor_id=actor_id, now=now)
    record_event(
        session=session,
        incident=incident,
        at=now,
        actor_id=actor_id,
        kind="resolved",
        summary=f"Resolved. Root cause: {incident.root_cause} — Resolution: {incident.resolution}",
        details={"root_cause": incident.root_cause, "resolution": incident.resolution},
    )
    follow_ups = [_add_follow_up(session, incident, item, actor_id, now) for item in report.follow_ups]
    learnings = [_add_learning(session, incident, text, actor_id, now) for text in report.learnings]
    session.flush()
    return Resolved(follow_ups, learnings)


def _add_follow_up(session: Session, incident: Incident, item: FollowUpItem, actor_id: str, now: datetime) -> FollowUp:
    follow_up = FollowUp(
        incident_id=incident.id,
        description=item.description.strip(),
        owner_id=item.owner_id,
        due_on=item.due_on,
        wants_ticket=item.wants_ticket,
        created_by=actor_id,
        created_at=now,
    )
    session.add(follow_up)
    due = f", due {item.due_on.isoformat()}" if item.due_on else ""
    record_event(
        session=session,
        incident=incident,
        at=now,
        actor_id=actor_id,
        kind="follow_up_added",
        summary=f"Follow-up for {person_token(item.owner_id)}{due}: {follow_up.description}",
        details={"owner": item.owner_id, "due_on": item.due_on.isoformat() if item.due_on else None},
        refs=[item.owner_id],
    )
    return follow_up


def _add_learning(session: Session, incident: Incident, text: str, actor_id: str, now: datetime) -> Learning:
    learning = Learning(incident_id=incident.id, text=text, created_by=actor_id, created_at=now)
    session.add(learning)
    record_event(
        session=session, incident=incident, at=now, actor_id=actor_id, kind="learning", summary=f"Key learning: {text}"
    )
    return learning


def follow_ups_of(*, session: Session, incident_id: int) -> list[FollowUp]:
    return list(session.scalars(select(FollowUp).where(FollowUp.incident_id == incident_id).order_by(FollowUp.id)))


def record_follow_up_ticket(follow_up: FollowUp, *, key: str, url: str | None) -> None:
    follow_up.ticket_key, follow_up.ticket_url = key, url
