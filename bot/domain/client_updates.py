"""Client updates ("stabilize trust"): a plain-language draft, the update as sent, and when the next is due."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.domain.audit import record_event
from bot.domain.errors import DomainError, FieldProblems
from bot.domain.lifecycle import require_open
from bot.domain.names import channel_token
from bot.domain.timers import schedule_timer
from bot.domain.triage import StepKind, StepOutcome
from bot.models import Event, Incident, IncidentStatus, Severity

CLIENT_UPDATE_DUE = "client_update_due"
MAX_UPDATE_CHARS = 2500

DOING = {
    IncidentStatus.NEW: "Our team has picked this up and is gathering the details needed to reproduce it.",
    IncidentStatus.INVESTIGATING: "Our engineers are actively investigating and working to reproduce the problem.",
    IncidentStatus.ESCALATED: "We have escalated this to our engineering team, who are working on it now.",
    IncidentStatus.MITIGATED: "A workaround is in place while we work on the permanent fix.",
    IncidentStatus.RESOLVED: "The issue is resolved; we are confirming everything works as expected.",
    IncidentStatus.CLOSED: "The issue is resolved.",
}


def client_update_problems(text: str) -> FieldProblems:
    """An update is recorded as the client received it: it can't be empty."""
    return {} if text else {"text": "Write the update the client received."}


# What the team found, said for the client: the finding itself (a log line, "proxy returns 413", a hypothesis)
# stays internal; the person sending the update writes in whatever detail the client should have.
PROGRESS = {
    StepKind.REPRODUCTION: "We have reproduced the problem on our side.",
    StepKind.HYPOTHESIS: "We have identified a likely cause.",
}


def _progress(events: list[Event]) -> list[str]:
    """Client-facing sentences for what the audit trail confirms, never its internal wording."""
    confirmed = {e.kind for e in events if (e.details or {}).get("outcome") == StepOutcome.CONFIRMED.value}
    return [sentence for kind, sentence in PROGRESS.items() if kind.value in confirmed]


def draft_client_update(
    *, incident: Incident, events: list[Event], now: datetime, zone: ZoneInfo, cadence: Mapping[Severity, timedelta]
) -> str:
    """A human, plain-language update for the client: what they told us, how far we are, what we are doing and
    when we write next. Nothing internal is copied from the audit trail (see PROGRESS)."""
    next_by = (now + cadence[incident.severity]).astimezone(zone).strftime("%H:%M %Z")
    opening = [f"Hi {incident.client.name} team,", "", f"An update on “{incident.title}”.", ""]  # no key: internal
    closing = [f"What we are doing: {DOING[incident.status]}"]
    if incident.deadline_at is not None:
        deadline = incident.deadline_at.astimezone(zone).strftime("%a %d %b %H:%M %Z")
        context = f" ({incident.deadline_context})" if incident.deadline_context else ""
        closing.append(f"Your deadline{context} is {deadline}, and we are treating it as our priority.")
    closing += ["", f"We will update you again by {next_by}, sooner if anything changes."]
    blocker = incident.blocker.strip()
    said = blocker if blocker.endswith((".", "!", "?")) else blocker + "."
    known = " ".join([f"What we know: {said}", *_progress(events)])
    room = MAX_UPDATE_CHARS - len("\n".join([*opening, "", *closing]))
    if len(known) > room:
        known = known[: max(room - 1, 0)].rstrip() + "…"
    return "\n".join([*opening, known, *closing])


def record_client_update(
    *,
    session: Session,
    incident: Incident,
    actor_id: str,
    text: str,
    now: datetime,
    cadence: Mapping[Severity, timedelta],
) -> datetime:
    """Store the update as sent and schedule the reminder for the next one; returns when it is due."""
    require_open(incident, "updated")
    next_due = _next_update_due(session, incident, now, cadence)
    record_event(
        session=session,
        incident=incident,
        at=now,
        actor_id=actor_id,
        kind="client_update",
        summary=f"Client update sent; next due {next_due:%H:%M} UTC",
        details={"text": text, "next_due": next_due.isoformat()},
    )
    return next_due


def _next_update_due(
    session: Session, incident: Incident, now: datetime, cadence: Mapping[Severity, timedelta]
) -> datetime:
    """The next client update is due a cadence after this one; the owner is reminded then."""
    next_due = now + cadence[incident.severity]
    incident.next_update_due_at = next_due
    incident.updated_at = now
    schedule_timer(
        session=session,
        kind=CLIENT_UPDATE_DUE,
        due_at=next_due,
        dedupe_key=f"{incident.key}:update:{next_due.isoformat()}",
        now=now,
        incident_id=incident.id,
    )
    return next_due


class UpdateNotSendable(DomainError):
    """This client update can't be sent to the client (not an update of this incident, or already sent)."""


@dataclass(frozen=True)
class SentUpdate:
    text: str
    next_due: datetime


def latest_client_update(session: Session, incident: Incident) -> Event | None:
    query = (
        select(Event)
        .where(Event.incident_id == incident.id, Event.kind == "client_update")
        .order_by(Event.at.desc(), Event.id.desc())
    )
    return session.scalars(query).first()


def send_update_to_client(
    *,
    session: Session,
    incident: Incident,
    update_event_id: int,
    channel_id: str,
    actor_id: str,
    now: datetime,
    cadence: Mapping[Severity, timedelta],
) -> SentUpdate:
    """Record that a person sent this recorded update to the client's own channel; the next is due from now.

    Only the incident's own recorded updates, each once; its text is the client-facing text the person wrote.
    """
    require_open(incident, "updated")
    update = session.get(Event, update_event_id)
    if update is None or update.incident_id != incident.id or update.kind != "client_update":
        raise UpdateNotSendable("That client update isn't available here.")
    sent = session.scalar(
        select(Event)
        .where(Event.incident_id == incident.id, Event.kind == "client_update_sent")
        .where(Event.refers_to_id == update.id)
    )
    if sent is not None:
        raise UpdateNotSendable(f"This update was already sent to the client by <@{sent.actor_id}>.")
    text = str((update.details or {}).get("text") or "")
    next_due = _next_update_due(session, incident, now, cadence)
    record_event(
        session=session,
        incident=incident,
        at=now,
        actor_id=actor_id,
        kind="client_update_sent",
        summary=f"Client update #{update.id} sent to the client in {channel_token(channel_id)}; "
        f"next due {next_due:%H:%M} UTC",
        details={"channel": channel_id, "next_due": next_due.isoformat()},
        refers_to=update,
        refs=[channel_id],
    )
    return SentUpdate(text, next_due)


def update_reminder_wanted(incident: Incident, due_at: datetime) -> bool:
    """Remind only for the latest promised update of an open incident (a newer update supersedes this one)."""
    return incident.is_open and incident.next_update_due_at == due_at
