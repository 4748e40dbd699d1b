"""Escalation path: a concise notice in the internal support/engineering channel (`INTERNAL_CHANNEL_ID`)."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy.orm import Session

from blocks.escalation import internal_notice
from blocks.incident import Message
from blocks.replies import note
from blocks.text import mention
from bot.domain.escalations import AlreadyEscalated, escalations_of, find_escalation, request_escalation
from bot.domain.permissions import Action
from bot.integrations.delivery_outcomes import DeliveryOutcomes, DeliveryPurpose
from bot.integrations.outbox import enqueue_slack_call
from bot.models import Escalation, EscalationKind, EscalationState, Incident, OutboxMessage, OutboxState
from bot.services.changes import apply_change
from bot.services.container import Services
from bot.services.escalation.tickets import settle
from bot.services.roles import actor_of


def notice_key(incident: Incident) -> str:
    return f"{incident.key}:internal_notice"


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
            purpose=DeliveryPurpose.INTERNAL_NOTICE,
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


def _notice_key_of(incident: Incident, _escalation: Escalation) -> str:
    return notice_key(incident)


def _keep_where_posted(
    services: Services, session: Session, incident: Incident, escalation: Escalation, result: dict[str, Any]
) -> None:
    escalation.external_ref, escalation.external_url = result.get("channel"), None
    escalation.details = {**escalation.details, "ts": result.get("ts")}
    _ask_notice_permalink(session, incident, escalation, services.clock.now())


def _ask_notice_permalink(session: Session, incident: Incident, escalation: Escalation, now: datetime) -> None:
    """Ask Slack for the notice's permalink, so the summary and exports can link to the message."""
    channel, ts = escalation.external_ref, escalation.details.get("ts")
    if not channel or not isinstance(ts, str):
        return
    enqueue_slack_call(
        session=session,
        key=f"{incident.key}:notice-permalink:{escalation.id}",
        operation="chat.getPermalink",
        args={"channel": channel, "message_ts": ts},
        purpose=DeliveryPurpose.NOTICE_PERMALINK,
        now=now,
        incident_id=incident.id,
    )


def keep_notice_permalink(session: Session, row: OutboxMessage) -> None:
    incident = session.get(Incident, row.incident_id) if row.incident_id is not None else None
    if incident is None or row.state != OutboxState.SENT or not row.result:
        return
    args = (row.payload or {}).get("args") or {}
    message = (args.get("message_ts"), args.get("channel"))
    permalink = row.result.get("permalink")
    for escalation in escalations_of(session=session, incident_id=incident.id):
        posted = (escalation.details.get("ts"), escalation.external_ref) == message
        if escalation.kind == EscalationKind.INTERNAL and posted:
            escalation.external_url = permalink if isinstance(permalink, str) else None


def notice_delivered(services: Services, session: Session, row: OutboxMessage) -> None:
    # The summary names the channel the notice went to (bot.domain.escalations.mark_filed); "Slack" only if none.
    kind = EscalationKind.INTERNAL
    settle(services, session, row, kind, where="Slack", key_of=_notice_key_of, on_filed=_keep_where_posted)


def register_outcomes(services: Services, outcomes: DeliveryOutcomes) -> None:
    outcomes.register(DeliveryPurpose.INTERNAL_NOTICE, partial(notice_delivered, services))
    outcomes.register(DeliveryPurpose.NOTICE_PERMALINK, keep_notice_permalink)
