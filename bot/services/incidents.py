"""Use cases around one incident: the domain change and its Slack messages, in one unit of work."""

from __future__ import annotations

from dataclasses import dataclass

from slack_sdk.models.blocks import Block
from sqlalchemy.orm import Session

from bot.blocks.incident import environment_reply, incident_card, oncall_reply, root_message
from bot.blocks.lists import incident_list_blocks
from bot.db import unit_of_work
from bot.domain.audit import audit_trail
from bot.domain.incidents import IncidentReport, OpenedIncident, get_incident, list_open_incidents, open_incident
from bot.integrations.outbox import enqueue_slack_call, undelivered_summary
from bot.models import Incident
from bot.services.container import Services


@dataclass(frozen=True)
class OpenRequest:
    report: IncidentReport
    reporter_id: str
    channel_id: str
    submission_key: str


def open_and_announce(services: Services, request: OpenRequest) -> OpenedIncident:
    """Store the incident and queue its root message and first thread replies, atomically."""
    now = services.clock.now()
    with unit_of_work(services.session_factory) as session:
        opened = open_incident(
            session=session,
            report=request.report,
            reporter_id=request.reporter_id,
            channel_id=request.channel_id,
            oncall_id=services.settings.oncall_slack_id,
            idempotency_key=request.submission_key,
            now=now,
        )
        if opened.created:
            _queue_announcement(services, session, opened.incident)
    return opened


def _queue_announcement(services: Services, session: Session, incident: Incident) -> None:
    now = services.clock.now()
    zone = services.settings.display_zone
    root = root_message(incident, now=now, zone=zone)
    enqueue_slack_call(
        session=session,
        key=f"{incident.key}:root",
        operation="chat.postMessage",
        args={"channel": incident.channel_id, **root.as_args(), "unfurl_links": False},
        purpose="root_message",
        now=now,
        incident_id=incident.id,
        records_root=True,
    )
    for purpose, message in (
        ("environment_reply", environment_reply(incident)),
        ("oncall_page", oncall_reply(incident, now=now, zone=zone)),
    ):
        enqueue_slack_call(
            session=session,
            key=f"{incident.key}:{purpose}",
            operation="chat.postMessage",
            args=message.as_args(),
            purpose=purpose,
            now=now,
            incident_id=incident.id,
            in_thread=True,
        )


def deliver_for(services: Services, incident: Incident) -> None:
    """Try the incident's queued Slack calls now; what fails stays queued for the scheduler's tick."""
    services.outbox.deliver_due(incident_id=incident.id)


def open_incidents_blocks(services: Services) -> list[Block]:
    with unit_of_work(services.session_factory) as session:
        incidents = list_open_incidents(session=session)
        return incident_list_blocks(incidents, now=services.clock.now(), zone=services.settings.display_zone)


def incident_card_blocks(services: Services, reference: str) -> list[Block]:
    with unit_of_work(services.session_factory) as session:
        incident = get_incident(session=session, reference=reference)
        return incident_card(
            incident,
            events=audit_trail(session=session, incident_id=incident.id),
            pending_deliveries=undelivered_summary(session=session, incident_id=incident.id),
            now=services.clock.now(),
            zone=services.settings.display_zone,
        )
