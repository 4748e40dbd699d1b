"""Resolving an incident: the record, what it stops, the Jira follow-ups, the summary in the thread."""

from __future__ import annotations

from datetime import datetime
from functools import partial

from sqlalchemy.orm import Session

from blocks.incident import Message
from blocks.replies import note
from blocks.resolution import ResolveForm, feedback_offer, follow_up_ticket_note, resolved_reply
from blocks.summary import summary_messages
from blocks.text import escape_mrkdwn
from bot.db import unit_of_work
from bot.domain.handoff import follow_up_description, follow_up_summary, resolution_comment
from bot.domain.incidents import load_incident
from bot.domain.lifecycle import require_open
from bot.domain.names import names_for
from bot.domain.permissions import Action
from bot.domain.resolution import ResolutionReport, record_follow_up_ticket, resolve_incident
from bot.domain.summary import build_summary
from bot.domain.workarounds import active_workarounds
from bot.integrations.delivery_outcomes import DeliveryOutcomes, DeliveryPurpose
from bot.integrations.outbox import enqueue_slack_call
from bot.models import FollowUp, Incident, OutboxMessage, OutboxState
from bot.services.changes import apply_change
from bot.services.container import Services
from bot.services.escalation.engineering import comment_on_resolution
from bot.services.escalation.internal_notice import follow_up_notice
from bot.services.rendering import queue_thread_reply
from bot.services.roles import actor_of
from bot.services.workarounds import stop_all_for


def resolvable(services: Services, incident_id: int) -> tuple[Incident, list[str]]:
    """The incident to resolve and what resolving it will stop; refuses one that is not open."""
    with unit_of_work(services.session_factory) as session:
        incident = load_incident(session, incident_id, services.workspace)
        require_open(incident, "resolved")
        running = active_workarounds(session=session, incident_id=incident_id)
        return incident, [w.description for w in running]


def resolve(services: Services, incident_id: int, actor_id: str, form: ResolveForm) -> None:
    """Apply the resolve modal; resolving an incident that is no longer open is refused with a clear message."""
    report = ResolutionReport(
        root_cause=form.root_cause,
        resolution=form.resolution,
        follow_ups=form.follow_up_items(),
        learnings=form.learnings,
        file_feedback=form.file_feedback,
    )

    def change(session: Session, incident: Incident, now: datetime) -> list[Message]:
        resolved = resolve_incident(session=session, incident=incident, report=report, actor_id=actor_id, now=now)
        stopped = stop_all_for(session, incident, actor_id, now, "incident resolved")
        follow_up_notice(
            services, session, incident, f"✅ {incident.key} resolved: {escape_mrkdwn(incident.resolution or '')}"
        )
        comment_on_resolution(services, session, incident, resolution_comment(incident))
        jira = services.settings.jira_configured
        replies = [
            resolved_reply(
                incident, actor_id, resolved.follow_ups, len(resolved.learnings), stopped, jira_configured=jira
            )
        ]
        for follow_up in resolved.follow_ups:
            if follow_up.wants_ticket and jira:
                _queue_follow_up_ticket(services, session, incident, follow_up, now)
        session.flush()
        summary = build_summary(session=session, incident_id=incident.id, now=now)
        replies += summary_messages(summary, zone=services.settings.display_zone)
        if report.file_feedback:
            replies.append(feedback_offer(incident))
        return replies

    apply_change(
        services, incident_id, change, purpose="resolved", actor=actor_of(services, actor_id), action=Action.RESOLVE
    )


def _follow_up_ticket_key(incident: Incident, follow_up: FollowUp) -> str:
    return f"{incident.key}:follow_up:{follow_up.id}:ticket"


def _name(session: Session, incident: Incident, slack_id: str) -> str | None:
    """The name the bot knows for `slack_id` (someone it met before), else None: the ticket then names the id."""
    return names_for(session, [slack_id], team_id=incident.team_id).get(slack_id)


def _queue_follow_up_ticket(
    services: Services, session: Session, incident: Incident, follow_up: FollowUp, now: datetime
) -> None:
    dedupe = f"triage-{incident.key.lower()}-follow-up-{follow_up.id}"
    enqueue_slack_call(
        session=session,
        key=_follow_up_ticket_key(incident, follow_up),
        operation="create_ticket",
        args={
            "project": services.settings.jira_project,
            "summary": follow_up_summary(incident, follow_up.description),
            "description": follow_up_description(incident, follow_up, _name(session, incident, follow_up.owner_id)),
            "issue_type": services.settings.jira_follow_up_issue_type,
            "priority": None,
            "labels": ["triage-bot", "follow-up", dedupe],
            "dedupe_label": dedupe,
            "issue_type_setting": "JIRA_FOLLOW_UP_ISSUE_TYPE",
        },
        purpose=DeliveryPurpose.FOLLOW_UP_TICKET,
        now=now,
        incident_id=incident.id,
        target="jira",
    )


def follow_up_ticket_delivered(services: Services, session: Session, row: OutboxMessage) -> None:
    """A follow-up's ticket was filed (its key is stored and told in the thread) or failed for good (told too)."""
    if row.target != "jira" or row.incident_id is None:
        return
    incident = session.get(Incident, row.incident_id)
    follow_up = session.get(FollowUp, int(row.idempotency_key.split(":")[2]))
    if incident is None or follow_up is None:
        return
    if row.state == OutboxState.SENT and row.result:
        key, url = str(row.result.get("key", "")), row.result.get("url")
        record_follow_up_ticket(follow_up, key=key, url=url)
        queue_thread_reply(services, session, incident, follow_up_ticket_note(follow_up, key, url), "follow_up_filed")
    elif row.state == OutboxState.FAILED:
        what, error = escape_mrkdwn(follow_up.description), escape_mrkdwn(row.last_error or "unknown error")
        text = f"⚠️ The Jira ticket for follow-up “{what}” could not be filed: {error}"
        queue_thread_reply(services, session, incident, note(text), "follow_up_ticket_failed")


def register_outcomes(services: Services, outcomes: DeliveryOutcomes) -> None:
    outcomes.register(DeliveryPurpose.FOLLOW_UP_TICKET, partial(follow_up_ticket_delivered, services))
