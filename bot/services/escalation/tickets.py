"""What the Jira-backed escalation paths share: queueing a ticket, recording what its delivery achieved, and
filing one that failed again (the Retry button on its failure notice and on `/triage show`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from blocks.escalation import failure_notice
from blocks.incident import Message
from blocks.replies import note
from blocks.text import escape_mrkdwn, link, mention
from bot.db import unit_of_work
from bot.domain.errors import DomainError
from bot.domain.escalations import (
    KIND_LABELS,
    ensure_retryable,
    escalations_of,
    mark_failed,
    mark_filed,
    retry_attempt,
    retry_escalation,
)
from bot.domain.permissions import Action
from bot.domain.workspaces import visible_in
from bot.integrations.outbox import enqueue_slack_call
from bot.models import Escalation, EscalationKind, Incident, OutboxMessage, OutboxState
from bot.services.changes import apply_change
from bot.services.container import Services
from bot.services.rendering import queue_root_refresh, queue_thread_reply
from bot.services.roles import actor_of


def ticket_key(escalation: Escalation) -> str:
    """The outbox key of an escalation's Jira ticket (and the prefix of its link, files and comments).

    Each filing after a failure is a new outbox message, so the key names the attempt from the second on; the
    ticket's dedupe label stays the escalation's, so a ticket Jira made on an earlier attempt is found again.
    """
    attempt = retry_attempt(escalation)
    return f"{escalation.idempotency_key}:ticket" + (f":attempt-{attempt}" if attempt > 1 else "")


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
            services, session, incident, failure_notice(incident, escalation, row.last_error or ""), "escalation"
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


class RetryUnavailable(DomainError):
    def __init__(self) -> None:
        super().__init__("That escalation isn't available here. `/triage show INC-n` shows an incident's escalations.")


def incident_of_escalation(services: Services, escalation_id: int) -> int:
    """The incident of an escalation the request's workspace may see; RetryUnavailable otherwise."""
    with unit_of_work(services.session_factory) as session:
        escalation = session.get(Escalation, escalation_id)
        incident = session.get(Incident, escalation.incident_id) if escalation is not None else None
        if incident is None or not visible_in(incident, services.workspace):
            raise RetryUnavailable()
        return incident.id


def retry_ticket(
    services: Services, incident_id: int, escalation_id: int, actor_id: str, *, once: str | None = None
) -> bool:
    """File a failed Jira escalation again, as it was asked for the first time and with the settings of now.

    The clicker must be allowed to work on the incident; the retry is in the audit trail. False when the same
    click arrives again (`once`).
    """

    def change(session: Session, incident: Incident, now: datetime) -> list[Message]:
        escalation = session.get(Escalation, escalation_id)
        if escalation is None or escalation.incident_id != incident.id:
            raise RetryUnavailable()
        ensure_retryable(incident=incident, escalation=escalation)
        failed = session.scalar(select(OutboxMessage).where(OutboxMessage.idempotency_key == ticket_key(escalation)))
        ticket = _asked_again(services, incident, escalation, failed)
        attempt = retry_escalation(
            session=session, incident=incident, escalation=escalation, requested_by=actor_id, now=now
        )
        queue_ticket(services, session, incident, escalation, *ticket)
        what = KIND_LABELS[escalation.kind]
        return [note(f"🔁 {mention(actor_id)} is filing the {what} for *{incident.key}* again (attempt {attempt}).")]

    return apply_change(
        services,
        incident_id,
        change,
        purpose="escalation",
        actor=actor_of(services, actor_id),
        action=Action.WORK,
        once=once,
    )


def _asked_again(
    services: Services, incident: Incident, escalation: Escalation, failed: OutboxMessage | None
) -> tuple[str, str, str, list[str]]:
    """(project, summary, description, labels) of a failed ticket filed again: what was asked before, in the
    project the settings name now (the issue type and priority follow them too, in `queue_ticket`)."""
    settings = services.settings
    if not settings.jira_configured:
        raise DomainError("Jira is not configured (JIRA_URL, JIRA_USER, JIRA_API_TOKEN), so nothing can be filed.")
    asked: dict[str, Any] = dict(failed.payload.get("args") or {}) if failed is not None else {}
    if not asked.get("summary"):
        raise DomainError(f"What was asked for {incident.key} is gone: choose *Escalate* to ask again.")
    project = settings.jira_project if escalation.kind == EscalationKind.ENGINEERING else settings.jira_product_project
    labels = [label for label in asked.get("labels", []) if label != asked.get("dedupe_label")]
    return project, str(asked.get("summary", "")), str(asked.get("description", "")), labels
