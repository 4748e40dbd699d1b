"""Escalation use cases: each path is recorded with the incident and queued in the outbox, so none is ever lost."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from blocks.escalation import FeedbackForm, internal_notice
from blocks.incident import Message
from blocks.replies import note
from blocks.text import escape_mrkdwn, link, mention, quoted, typed
from bot.db import unit_of_work
from bot.domain.audit import audit_trail
from bot.domain.escalations import (
    KIND_TITLES,
    AlreadyEscalated,
    escalations_of,
    find_escalation,
    mark_failed,
    mark_filed,
    record_external_status,
    record_feedback,
    request_escalation,
)
from bot.domain.handoff import (
    HandoffForm,
    draft_handoff,
    feedback_description,
    feedback_summary,
    ticket_description,
    ticket_summary,
)
from bot.domain.lifecycle import require_open
from bot.domain.permissions import Action
from bot.domain.timers import schedule_timer
from bot.integrations.outbox import enqueue_slack_call
from bot.models import (
    Escalation,
    EscalationKind,
    EscalationState,
    Incident,
    OutboxMessage,
    OutboxState,
    Timer,
)
from bot.services.changes import apply_change, load_incident
from bot.services.container import Services
from bot.services.rendering import queue_root_refresh, queue_thread_reply
from bot.services.roles import actor_of

logger = logging.getLogger(__name__)
JIRA_POLL = "jira_poll"


def _ticket_key(escalation: Escalation) -> str:
    return f"{escalation.idempotency_key}:ticket"


def notice_key(incident: Incident) -> str:
    return f"{incident.key}:internal_notice"


# --- internal team notification -------------------------------------------------------------


def notify_internal_channel(services: Services, incident_id: int, actor_id: str) -> None:
    channel = services.settings.internal_channel_id

    def change(session: Session, incident: Incident, now: datetime) -> list[Message]:
        requested = request_escalation(
            session=session,
            incident=incident,
            kind=EscalationKind.INTERNAL,
            requested_by=actor_id,
            now=now,
            configured=channel is not None,
        )
        if not requested.created:
            raise AlreadyEscalated(requested.escalation, incident)
        if channel is None:
            text = f"📣 {mention(actor_id)} asked to notify the internal channel, but `INTERNAL_CHANNEL_ID` is not set"
            return [note(text + ": recorded, not posted.")]
        message = internal_notice(incident, now=now, zone=services.settings.display_zone)
        enqueue_slack_call(
            session=session,
            key=notice_key(incident),
            operation="chat.postMessage",
            args={"channel": channel, **message.as_args(), "unfurl_links": False},
            purpose="internal_notice",
            now=now,
            incident_id=incident.id,
        )
        return [note(f"📣 {mention(actor_id)} is notifying <#{channel}> about *{incident.key}*.")]

    apply_change(
        services, incident_id, change, purpose="escalation", actor=actor_of(services, actor_id), action=Action.WORK
    )


def follow_up_notice(services: Services, session: Session, incident: Incident, text: str) -> None:
    """Later status changes go to the internal notice's thread, once there is one."""
    escalation = find_escalation(session=session, incident_id=incident.id, kind=EscalationKind.INTERNAL)
    if escalation is None or escalation.state not in (EscalationState.PENDING, EscalationState.FILED):
        return
    enqueue_slack_call(
        session=session,
        key=f"{notice_key(incident)}:{incident.key}:{incident.version}:{text[:40]}",
        operation="chat.postMessage",
        args=note(text).as_args(),
        purpose="internal_follow_up",
        now=services.clock.now(),
        incident_id=incident.id,
        reply_to=notice_key(incident),
    )


# --- engineering handoff (Jira) -----------------------------------------------------------------


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
        if not requested.created:
            raise AlreadyEscalated(requested.escalation, incident)
        if not settings.jira_configured:
            text = (
                f"🛠️ {mention(actor_id)} handed *{incident.key}* to engineering — recorded, but Jira is not configured"
            )
            return [note(text + ", so no ticket was filed (set JIRA_URL, JIRA_USER, JIRA_API_TOKEN).")]
        _queue_ticket(
            services,
            session,
            incident,
            requested.escalation,
            settings.jira_project,
            ticket_summary(incident),
            ticket_description(incident, form, incident.root_permalink),
            ["triage-bot", incident.severity.value.lower()],
        )
        text = f"🛠️ {mention(actor_id)} is handing *{incident.key}* to engineering"
        return [note(f"{text}: Jira issue in *{settings.jira_project}* on its way.")]

    apply_change(
        services, incident_id, change, purpose="escalation", actor=actor_of(services, actor_id), action=Action.WORK
    )


def _queue_ticket(
    services: Services,
    session: Session,
    incident: Incident,
    escalation: Escalation,
    project: str,
    summary: str,
    description: str,
    labels: list[str],
) -> None:
    settings = services.settings
    now = services.clock.now()
    dedupe = escalation.idempotency_key.lower().replace(":", "-").replace("_", "-")
    engineering = escalation.kind == EscalationKind.ENGINEERING
    args = {
        "project": project,
        "summary": summary,
        "description": description,
        "issue_type": settings.jira_issue_type if engineering else settings.jira_product_issue_type,
        "priority": settings.jira_priority_by_severity[incident.severity] if engineering else None,
        "labels": [*labels, dedupe],
        "dedupe_label": dedupe,
        "project_setting": "JIRA_PROJECT" if engineering else "JIRA_PRODUCT_PROJECT",
        "issue_type_setting": "JIRA_ISSUE_TYPE" if engineering else "JIRA_PRODUCT_ISSUE_TYPE",
    }
    enqueue_slack_call(
        session=session,
        key=_ticket_key(escalation),
        operation="create_ticket",
        args=args,
        purpose=f"{escalation.kind.value}_ticket",
        now=now,
        incident_id=incident.id,
        target="jira",
    )


# --- product feedback ----------------------------------------------------------------------------


def file_feedback(services: Services, incident_id: int, actor_id: str, form: FeedbackForm, submission: str) -> None:
    assert form.track is not None and form.area is not None, "validated by the listener"
    track, area = form.track, form.area
    settings = services.settings
    pm = settings.product_area_pms.get(area)

    def change(session: Session, incident: Incident, now: datetime) -> list[Message]:
        requested = request_escalation(
            session=session,
            incident=incident,
            kind=EscalationKind.PRODUCT_FEEDBACK,
            requested_by=actor_id,
            now=now,
            configured=settings.jira_configured,
            details={"track": track.value, "area": area, "pm": pm},
            submission=submission,
        )
        if not requested.created:
            return []
        record_feedback(
            session=session,
            incident=incident,
            escalation=requested.escalation,
            track=track,
            area=area,
            pm_user_id=pm,
            use_case=form.use_case,
            created_by=actor_id,
            now=now,
        )
        if settings.jira_configured:
            _queue_ticket(
                services,
                session,
                incident,
                requested.escalation,
                settings.jira_product_project,
                feedback_summary(incident, track.value, area),
                feedback_description(incident, form.use_case, incident.root_permalink),
                ["product-feedback", track.value, area.lower().replace(" ", "-")],
            )
        who = (
            mention(pm)
            if pm
            else f"nobody (no product manager is configured for '{escape_mrkdwn(area)}' in PRODUCT_AREAS)"
        )
        filed = (
            "a ticket is on its way"
            if settings.jira_configured
            else "recorded; Jira is not configured, so no ticket was filed"
        )
        head = f"💡 {mention(actor_id)} filed *{track.value.capitalize()}* feedback for *{typed(area, 150)}*"
        return [note(f"{head} — PM: {who}; {filed}.\n{quoted(form.use_case, 1500)}")]

    apply_change(
        services, incident_id, change, purpose="escalation", actor=actor_of(services, actor_id), action=Action.WORK
    )


# --- what the outbox delivered ---------------------------------------------------------------------


def on_delivered(services: Services, session: Session, row: OutboxMessage) -> None:
    """Record what an outbound call achieved, in the same transaction that marks it delivered."""
    if row.incident_id is None:
        return
    incident = session.get(Incident, row.incident_id)
    if incident is None:
        return
    if row.purpose == "root_message" and row.state == OutboxState.SENT and row.result:
        enqueue_slack_call(
            session=session,
            key=f"{incident.key}:permalink",
            operation="chat.getPermalink",
            args={"channel": row.result.get("channel"), "message_ts": row.result.get("ts")},
            purpose="root_permalink",
            now=services.clock.now(),
            incident_id=incident.id,
        )
    elif row.purpose == "root_permalink" and row.state == OutboxState.SENT and row.result:
        incident.root_permalink = row.result.get("permalink")
    elif row.purpose == "ticket_files" and row.state == OutboxState.SENT and row.result:
        _note_files(services, session, incident, row.result)
    elif row.purpose == "internal_notice":
        _settle(
            services,
            session,
            incident,
            EscalationKind.INTERNAL,
            row,
            where=f"<#{(row.result or {}).get('channel', '')}>",
        )
    elif row.purpose in ("engineering_ticket", "product_feedback_ticket"):
        kind = EscalationKind.ENGINEERING if row.purpose == "engineering_ticket" else EscalationKind.PRODUCT_FEEDBACK
        _settle(services, session, incident, kind, row, where="Jira")


def _settle(
    services: Services, session: Session, incident: Incident, kind: EscalationKind, row: OutboxMessage, *, where: str
) -> None:
    now = services.clock.now()
    escalation = next(
        (
            e
            for e in _escalations(session, incident.id, kind)
            if row.idempotency_key in (_ticket_key(e), notice_key(incident))
        ),
        None,
    )
    if escalation is None:
        return
    if row.state == OutboxState.PENDING:
        _note_retrying(services, session, incident, escalation, row)
        return
    if row.state == OutboxState.FAILED:
        mark_failed(
            session=session, incident=incident, escalation=escalation, error=row.last_error or "failed", now=now
        )
        queue_thread_reply(
            services,
            session,
            incident,
            note(f"⚠️ {KIND_TITLES[kind]} for *{incident.key}* failed: {escape_mrkdwn(row.last_error or '')}"),
            "escalation",
        )
    else:
        result = row.result or {}
        ref = result.get("key") or result.get("ts") or ""
        mark_filed(
            session=session,
            incident=incident,
            escalation=escalation,
            ref=ref,
            url=result.get("url"),
            where=where,
            now=now,
        )
        if kind == EscalationKind.INTERNAL:
            escalation.external_ref, escalation.external_url = result.get("channel"), None
            escalation.details = {**escalation.details, "ts": result.get("ts")}
        else:
            _after_ticket(services, session, incident, escalation, result)
    queue_root_refresh(services, session, incident)


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


def _note_retrying(
    services: Services, session: Session, incident: Incident, escalation: Escalation, row: OutboxMessage
) -> None:
    """The outside system is failing: say "pending — retrying" on the root (once), keep the error for `/triage show`."""
    first = escalation.last_error is None
    escalation.last_error = row.last_error
    if first:
        queue_root_refresh(services, session, incident)


def _after_ticket(
    services: Services, session: Session, incident: Incident, escalation: Escalation, result: dict[str, str]
) -> None:
    key, url = result.get("key", ""), result.get("url", "")
    filed = f"🎫 Jira {link(url, key)} filed for *{incident.key}*."
    if result.get("note"):  # e.g. filed without a priority the project's scheme lacks
        filed += f"\n⚠️ {escape_mrkdwn(result['note'])}."
    queue_thread_reply(services, session, incident, note(filed), "ticket_filed")
    if incident.root_permalink:
        enqueue_slack_call(
            session=session,
            key=f"{_ticket_key(escalation)}:link",
            operation="add_remote_link",
            args={"url": incident.root_permalink, "title": f"Slack: {incident.key}"},
            purpose="ticket_link",
            now=services.clock.now(),
            incident_id=incident.id,
            target="jira",
            needs_key_of=_ticket_key(escalation),
        )
    if escalation.kind == EscalationKind.ENGINEERING:
        enqueue_slack_call(
            session=session,
            key=f"{_ticket_key(escalation)}:files",
            operation="attach_thread_files",
            args={},
            purpose="ticket_files",
            now=services.clock.now(),
            incident_id=incident.id,
            target="jira",
            in_thread=True,
            needs_key_of=_ticket_key(escalation),
        )
        _schedule_poll(services, session, incident, escalation)


def _escalations(session: Session, incident_id: int, kind: EscalationKind) -> list[Escalation]:
    return [e for e in escalations_of(session=session, incident_id=incident_id) if e.kind == kind]


# --- Jira status, resolution comments ----------------------------------------------------------------


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
        key=f"{_ticket_key(escalation)}:resolved:{incident.version}",
        operation="add_comment",
        args={"body": text},
        purpose="ticket_comment",
        now=services.clock.now(),
        incident_id=incident.id,
        target="jira",
        needs_key_of=_ticket_key(escalation),
    )
