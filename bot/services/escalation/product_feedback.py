"""Escalation path: product feedback for the area's product manager, in one of three tracks, as a Jira ticket."""

from __future__ import annotations

from datetime import datetime
from functools import partial

from sqlalchemy.orm import Session

from blocks.incident import Message
from blocks.replies import note
from blocks.text import escape_mrkdwn, mention, quoted, typed
from bot.domain.escalations import FeedbackForm, record_feedback, request_escalation
from bot.domain.handoff import feedback_description, feedback_summary
from bot.domain.permissions import Action
from bot.integrations.delivery_outcomes import DeliveryOutcomes, DeliveryPurpose
from bot.models import EscalationKind, Incident, OutboxMessage
from bot.services.changes import apply_change
from bot.services.container import Services
from bot.services.escalation.tickets import announce_ticket, queue_ticket, settle, ticket_key_of
from bot.services.roles import actor_of


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
            queue_ticket(
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


def ticket_delivered(services: Services, session: Session, row: OutboxMessage) -> None:
    settle(
        services,
        session,
        row,
        EscalationKind.PRODUCT_FEEDBACK,
        where="Jira",
        key_of=ticket_key_of,
        on_filed=announce_ticket,
    )


def register_outcomes(services: Services, outcomes: DeliveryOutcomes) -> None:
    outcomes.register(DeliveryPurpose.PRODUCT_FEEDBACK_TICKET, partial(ticket_delivered, services))
