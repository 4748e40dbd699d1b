"""Escalation path: the engineering handoff, a Jira issue with everything engineering needs, watched until done."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy.orm import Session

from blocks.incident import Message
from blocks.replies import note
from blocks.text import escape_mrkdwn, link, mention
from bot.db import unit_of_work
from bot.domain.audit import audit_trail
from bot.domain.escalations import (
    AlreadyEscalated,
    find_escalation,
    record_external_status,
    request_escalation,
    retry_escalation,
)
from bot.domain.handoff import HandoffForm, draft_handoff, ticket_description, ticket_summary
from bot.domain.incidents import load_incident
from bot.domain.lifecycle import require_open
from bot.domain.permissions import Action
from bot.domain.timers import schedule_timer
from bot.integrations.delivery_outcomes import DeliveryOutcomes, DeliveryPurpose
from bot.integrations.outbox import enqueue_slack_call
from bot.models import Escalation, EscalationKind, EscalationState, Incident, OutboxMessage, OutboxState, Timer
from bot.services.changes import apply_change
from bot.services.container import Services
from bot.services.escalation.tickets import announce_ticket, queue_ticket, settle, ticket_key, ticket_key_of
from bot.services.rendering import queue_root_refresh, queue_thread_reply
from bot.services.roles import actor_of

logger = logging.getLogger(__name__)
JIRA_POLL = "jira_poll"


@dataclass(frozen=True)
class HandoffDraft:
    incident: Incident
    form: HandoffForm
    priority: str


def handoff_draft(services: Services, incident_id: int) -> HandoffDraft:
    with unit_of_work(services.session_factory) as session:
        incident = load_incident(session, incident_id, services.workspace)
        require_open(incident, "escalated")
        existing = find_escalation(session=session, incident_id=incident_id, kind=EscalationKind.ENGINEERING)
        if existing is not None and existing.state != EscalationState.FAILED:
            raise AlreadyEscalated(existing, incident)
        events = audit_trail(session=session, incident_id=incident_id)
        form = draft_handoff(
            incident=incident, events=events, now=services.clock.now(), zone=services.settings.display_zone
        )
        return HandoffDraft(incident, form, services.settings.jira_priority_by_severity[incident.severity])


def hand_off_to_engineering(services: Services, incident_id: int, actor_id: str, form: HandoffForm) -> None:
    settings = services.settings

    def change(session: Session, incident: Incident, now: datetime) -> list[Message]:
        requested = request_escalation(
            session=session,
            incident=incident,
            kind=EscalationKind.ENGINEERING,
            requested_by=actor_id,
            now=now,
            configured=settings.jira_configured,
            details={
                "project": settings.jira_project,
                "priority": settings.jira_priority_by_severity[incident.severity],
            },
        )
        escalation = requested.escalation
        again = not requested.created and escalation.state == EscalationState.FAILED and settings.jira_configured
        if again:  # the form sent again after the ticket failed for good: file it again, with what it says now
            attempt = retry_escalation(
                session=session, incident=incident, escalation=escalation, requested_by=actor_id, now=now
            )
        elif not requested.created:
            raise AlreadyEscalated(escalation, incident)
        if not settings.jira_configured:
            text = (
                f"🛠️ {mention(actor_id)} handed *{incident.key}* to engineering — recorded, but Jira is not configured"
            )
            return [note(text + ", so no ticket was filed (set JIRA_URL, JIRA_USER, JIRA_API_TOKEN).")]
        queue_ticket(
            services,
            session,
            incident,
            escalation,
            settings.jira_project,
            ticket_summary(incident),
            ticket_description(incident, form, incident.root_permalink),
            ["triage-bot", incident.severity.value.lower()],
        )
        text = f"🛠️ {mention(actor_id)} is handing *{incident.key}* to engineering"
        if again:
            text += f" again (attempt {attempt})"
        return [note(f"{text}: Jira issue in *{settings.jira_project}* on its way.")]

    apply_change(
        services, incident_id, change, purpose="escalation", actor=actor_of(services, actor_id), action=Action.WORK
    )


def _after_filed(
    services: Services, session: Session, incident: Incident, escalation: Escalation, result: dict[str, Any]
) -> None:
    """Filed: link it to the thread, attach the thread's files, and watch its status."""
    announce_ticket(services, session, incident, escalation, result)
    enqueue_slack_call(
        session=session,
        key=f"{ticket_key(escalation)}:files",
        operation="attach_thread_files",
        args={},
        purpose=DeliveryPurpose.TICKET_FILES,
        now=services.clock.now(),
        incident_id=incident.id,
        target="jira",
        in_thread=True,
        needs_key_of=ticket_key(escalation),
    )
    _schedule_poll(services, session, incident, escalation)


def ticket_delivered(services: Services, session: Session, row: OutboxMessage) -> None:
    settle(
        services, session, row, EscalationKind.ENGINEERING, where="Jira", key_of=ticket_key_of, on_filed=_after_filed
    )


def files_delivered(services: Services, session: Session, row: OutboxMessage) -> None:
    incident = session.get(Incident, row.incident_id) if row.incident_id is not None else None
    if incident is not None and row.state == OutboxState.SENT and row.result:
        _note_files(services, session, incident, row.result)


def _note_files(services: Services, session: Session, incident: Incident, result: dict[str, Any]) -> None:
    attached, linked = int(result.get("attached", 0)), int(result.get("linked", 0))
    skipped = int(result.get("skipped", 0))
    key = escape_mrkdwn(str(result.get("key")))
    parts = []
    if attached or linked:
        parts.append(f"attached {attached}" + (f", linked {linked} (too large or not attachable)" if linked else ""))
    if skipped:
        parts.append(f"{skipped} file{'' if skipped == 1 else 's'} skipped: not on Slack's file host")
    partial = result.get("complete") is False  # a long thread: Slack lets the app read only so much of it
    read = f"the first {int(result.get('read', 0))} messages of this thread only (the rest was not read)"
    if parts:
        went = "went" if attached or linked else "did not go"
        where = f" from {read}" if partial else ""
        text = f"📎 Files from this thread {went} to Jira {key}: {'; '.join(parts)}{where}."
        queue_thread_reply(services, session, incident, note(text), "ticket_files")
    elif partial:
        text = f"📎 No files for Jira {key} in {read}."
        queue_thread_reply(services, session, incident, note(text), "ticket_files")


def _schedule_poll(
    services: Services, session: Session, incident: Incident, escalation: Escalation, *, after: datetime | None = None
) -> None:
    now = after or services.clock.now()
    due = now + timedelta(minutes=services.settings.jira_poll_minutes)
    schedule_timer(
        session=session,
        kind=JIRA_POLL,
        due_at=due,
        dedupe_key=f"{escalation.idempotency_key}:poll:{due.isoformat()}",
        now=services.clock.now(),
        incident_id=incident.id,
        payload={"escalation_id": escalation.id},
    )


def poll_jira_status(services: Services, session: Session, timer: Timer, incident: Incident, now: datetime) -> str:
    """Notice when engineering moves the ticket, and say so in the thread."""
    escalation = session.get(Escalation, timer.payload.get("escalation_id"))
    jira = services.jira
    if escalation is None or escalation.external_ref is None or jira is None or not incident.is_open:
        return "not needed"
    try:
        status = jira.get_status(escalation.external_ref)
    except Exception as exc:
        _schedule_poll(services, session, incident, escalation, after=now)
        return f"jira unreachable: {str(exc)[:120]}"
    changed = record_external_status(session=session, incident=incident, escalation=escalation, status=status, now=now)
    if changed:
        ticket = link(escalation.external_url, escalation.external_ref)
        message = note(f"🎫 Jira {ticket} is now *{escape_mrkdwn(status)}*.")
        queue_thread_reply(services, session, incident, message, "ticket_status")
        queue_root_refresh(services, session, incident)
    _schedule_poll(services, session, incident, escalation, after=now)
    return f"status {status}" + (" (changed)" if changed else "")


def comment_on_resolution(services: Services, session: Session, incident: Incident, text: str) -> None:
    escalation = find_escalation(session=session, incident_id=incident.id, kind=EscalationKind.ENGINEERING)
    if escalation is None or escalation.state not in (EscalationState.PENDING, EscalationState.FILED):
        return
    enqueue_slack_call(
        session=session,
        key=f"{ticket_key(escalation)}:resolved:{incident.version}",
        operation="add_comment",
        args={"body": text},
        purpose="ticket_comment",
        now=services.clock.now(),
        incident_id=incident.id,
        target="jira",
        needs_key_of=ticket_key(escalation),
    )


def register_outcomes(services: Services, outcomes: DeliveryOutcomes) -> None:
    outcomes.register(DeliveryPurpose.ENGINEERING_TICKET, partial(ticket_delivered, services))
    outcomes.register(DeliveryPurpose.TICKET_FILES, partial(files_delivered, services))
