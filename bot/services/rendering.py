"""Rendering an incident's messages from stored state, and queuing them in the outbox."""

from __future__ import annotations

import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from blocks.escalation import escalation_line, lead_line
from blocks.incident import Dashboard, Message, NextCheckin, root_message
from blocks.workarounds import workaround_line
from bot.domain.acknowledgement import ACK_ESCALATION
from bot.domain.client_updates import CLIENT_UPDATE_DUE, update_reminder_wanted
from bot.domain.deadlines import DEADLINE_REMINDER, reminder_wanted
from bot.domain.escalations import escalations_of
from bot.domain.timers import upcoming_timers
from bot.domain.triage import checklist, linked_incident_ids
from bot.domain.workarounds import RETRY_CHECKIN, TIMEBOX_END, active_workarounds, attempts_of
from bot.integrations.outbox import ROOT_EDIT, enqueue_slack_call, request_root_refresh
from bot.models import Incident, OutboxMessage, Timer
from bot.services.container import Services

PROMPT_ANSWERED = "prompt_answered"
ANSWERED = ":answered"
CHECKIN_LABELS = {
    ACK_ESCALATION: "acknowledge by",
    CLIENT_UPDATE_DUE: "client update due",
    DEADLINE_REMINDER: "deadline reminder",
    RETRY_CHECKIN: "retry check-in",
    TIMEBOX_END: "time box ends",
}


def _will_fire(incident: Incident, timer: Timer) -> bool:
    """Whether a pending timer will still do something when it falls due (what its handler asks the domain)."""
    if timer.kind == CLIENT_UPDATE_DUE:
        return update_reminder_wanted(incident, timer.due_at)
    if timer.kind == DEADLINE_REMINDER:
        return reminder_wanted(incident, timer)
    if timer.kind == ACK_ESCALATION:
        return incident.acknowledged_at is None
    return True


def next_checkin(session: Session, incident: Incident) -> NextCheckin | None:
    """The next reminder or check-in that will really happen: none once the incident is resolved or closed."""
    if not incident.is_open:
        return None
    upcoming = upcoming_timers(session=session, incident_id=incident.id, kinds=CHECKIN_LABELS.keys())
    timer = next((t for t in upcoming if _will_fire(incident, t)), None)
    return NextCheckin(CHECKIN_LABELS[timer.kind], timer.due_at) if timer is not None else None


def dashboard_for(session: Session, incident: Incident, *, now: datetime, zone: ZoneInfo) -> Dashboard:
    checkin = next_checkin(session, incident)
    linked = linked_incident_ids(session=session, incident_id=incident.id)
    running = active_workarounds(session=session, incident_id=incident.id)
    return Dashboard(
        steps=checklist(session=session, incident=incident),
        next_checkin=checkin,
        linked_keys=[f"INC-{n}" for n in linked],
        escalation_lines=[escalation_line(e) for e in escalations_of(session=session, incident_id=incident.id)],
        major_line=lead_line(incident),
        workaround_lines=[
            workaround_line(w, attempts=len(attempts_of(session=session, workaround_id=w.id)), now=now, zone=zone)
            for w in running
        ],
    )


def render_root(services: Services, session: Session, incident: Incident) -> Message:
    return root_message(
        incident,
        now=services.clock.now(),
        zone=services.settings.display_zone,
        dashboard=dashboard_for(session, incident, now=services.clock.now(), zone=services.settings.display_zone),
    )


def queue_root_refresh(services: Services, session: Session, incident: Incident) -> None:
    """Edit the root message to show the incident as it is when the edit goes out (rendered by the dispatcher)."""
    request_root_refresh(
        session=session,
        incident_id=incident.id,
        key=f"{incident.key}:{ROOT_EDIT}:{uuid.uuid4().hex}",
        now=services.clock.now(),
    )


def queue_thread_reply(
    services: Services, session: Session, incident: Incident, message: Message, purpose: str
) -> None:
    enqueue_slack_call(
        session=session,
        key=f"{incident.key}:{purpose}:{uuid.uuid4().hex}",
        operation="chat.postMessage",
        args=message.as_args(),
        purpose=purpose,
        now=services.clock.now(),
        incident_id=incident.id,
        in_thread=True,
        fresh_key=True,
    )


def queue_prompt(
    services: Services, session: Session, incident: Incident, message: Message, purpose: str, key: str
) -> None:
    """A thread reply with buttons, under a key of its own so that its answer can edit it (`queue_prompt_answer`)."""
    enqueue_slack_call(
        session=session,
        key=key,
        operation="chat.postMessage",
        args=message.as_args(),
        purpose=purpose,
        now=services.clock.now(),
        incident_id=incident.id,
        in_thread=True,
    )


def queue_prompt_answer(
    session: Session, incident: Incident, prompt_key: str, message: Message, *, now: datetime
) -> None:
    """Replace a prompt's buttons with its answer: chat.update of the message posted as `prompt_key`, once."""
    enqueue_slack_call(
        session=session,
        key=answer_key(prompt_key),
        operation="chat.update",
        args=message.as_args(),
        purpose=PROMPT_ANSWERED,
        now=now,
        incident_id=incident.id,
        edit_of=prompt_key,
    )


def answer_key(prompt_key: str) -> str:
    return f"{prompt_key}{ANSWERED}"


def unanswered_prompts(session: Session, incident: Incident, prefix: str) -> list[str]:
    """Keys of the incident's prompts posted under `prefix` whose buttons no answer has replaced yet."""
    keys = set(
        session.scalars(
            select(OutboxMessage.idempotency_key).where(
                OutboxMessage.incident_id == incident.id,
                OutboxMessage.idempotency_key.startswith(prefix, autoescape=True),
            )
        )
    )
    return sorted(k for k in keys if not k.endswith(ANSWERED) and answer_key(k) not in keys)


def queue_channel_post(
    services: Services, session: Session, channel_id: str, message: Message, purpose: str, incident_id: int
) -> None:
    enqueue_slack_call(
        session=session,
        key=f"INC-{incident_id}:{purpose}:{uuid.uuid4().hex}",
        operation="chat.postMessage",
        args={"channel": channel_id, **message.as_args()},
        purpose=purpose,
        now=services.clock.now(),
        incident_id=incident_id,
        fresh_key=True,
    )
