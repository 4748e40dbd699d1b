"""What the Jira-backed escalation paths share: queueing a ticket, and recording what its delivery achieved."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from blocks.replies import note
from blocks.text import escape_mrkdwn, link
from bot.domain.escalations import KIND_TITLES, escalations_of, mark_failed, mark_filed
from bot.integrations.outbox import enqueue_slack_call
from bot.models import Escalation, EscalationKind, Incident, OutboxMessage, OutboxState
from bot.services.container import Services
from bot.services.rendering import queue_root_refresh, queue_thread_reply


def ticket_key(escalation: Escalation) -> str:
    """The outbox key of an escalation's Jira ticket (and the prefix of its link, files and comments)."""
    return f"{escalation.idempotency_key}:ticket"


def ticket_key_of(_incident: Incident, escalation: Escalation) -> str:
    return ticket_key(escalation)


def queue_ticket(
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
        key=ticket_key(escalation),
        operation="create_ticket",
        args=args,
        purpose=f"{escalation.kind.value}_ticket",
        now=now,
        incident_id=incident.id,
        target="jira",
    )


def settle(
    services: Services,
    session: Session,
    row: OutboxMessage,
    kind: EscalationKind,
    *,
    where: str,
    key_of: Callable[[Incident, Escalation], str],
    on_filed: Callable[[Services, Session, Incident, Escalation, dict[str, Any]], None],
) -> None:
    """Record an escalation's delivery: pending (retrying, said once), failed for good (said), or filed."""
    incident = session.get(Incident, row.incident_id) if row.incident_id is not None else None
    if incident is None:
        return
    now = services.clock.now()
    escalation = next(
        (
            e
            for e in escalations_of(session=session, incident_id=incident.id)
            if e.kind == kind and row.idempotency_key == key_of(incident, e)
        ),
        None,
    )
    if escalation is None:
        return
    if row.state == OutboxState.PENDING:
        note_retrying(services, session, incident, escalation, row)
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
        channel = result.get("channel") if kind == EscalationKind.INTERNAL else None
        mark_filed(
            session=session,
            incident=incident,
            escalation=escalation,
            ref=ref,
            url=result.get("url"),
            where=where,
            now=now,
            channel_id=channel if isinstance(channel, str) and channel else None,
        )
        on_filed(services, session, incident, escalation, result)
    queue_root_refresh(services, session, incident)


def note_retrying(
    services: Services, session: Session, incident: Incident, escalation: Escalation, row: OutboxMessage
) -> None:
    """The outside system is failing: say "pending — retrying" on the root (once), keep the error for `/triage show`."""
    first = escalation.last_error is None
    escalation.last_error = row.last_error
    if first:
        queue_root_refresh(services, session, incident)


def announce_ticket(
    services: Services, session: Session, incident: Incident, escalation: Escalation, result: dict[str, str]
) -> None:
    """Say the ticket was filed, and link it back to the Slack thread."""
    key, url = result.get("key", ""), result.get("url", "")
    filed = f"🎫 Jira {link(url, key)} filed for *{incident.key}*."
    if result.get("note"):  # e.g. filed without a priority the project's scheme lacks
        filed += f"\n⚠️ {escape_mrkdwn(result['note'])}."
    queue_thread_reply(services, session, incident, note(filed), "ticket_filed")
    if incident.root_permalink:
        enqueue_slack_call(
            session=session,
            key=f"{ticket_key(escalation)}:link",
            operation="add_remote_link",
            args={"url": incident.root_permalink, "title": f"Slack: {incident.key}"},
            purpose="ticket_link",
            now=services.clock.now(),
            incident_id=incident.id,
            target="jira",
            needs_key_of=ticket_key(escalation),
        )
