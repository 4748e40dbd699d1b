"""Incident management for systemic problems: a dedicated channel, an incident lead, a pinned brief, links."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from blocks.escalation import major_brief
from blocks.replies import note
from blocks.text import escape_mrkdwn, mention
from bot.db import unit_of_work
from bot.domain.errors import DomainError
from bot.domain.escalations import (
    AlreadyEscalated,
    channel_name,
    declare_major,
    mark_failed,
    mark_filed,
    request_escalation,
)
from bot.domain.glossary import INCIDENT_LEAD, INCIDENT_MANAGEMENT
from bot.domain.incidents import load_incident
from bot.domain.isolation import find_similar
from bot.domain.lifecycle import require_open
from bot.domain.permissions import Action
from bot.domain.triage import link_incidents
from bot.integrations.slack import SlackCallError
from bot.models import Escalation, EscalationKind, EscalationState, Incident
from bot.services.changes import deliver_pending, retry_when_stale
from bot.services.container import Services
from bot.services.rendering import queue_root_refresh, queue_thread_reply
from bot.services.roles import permitted

logger = logging.getLogger(__name__)
MAX_NAME_ATTEMPTS = 5


def check_may_declare(services: Services, user_id: str) -> None:
    """NotPermitted unless the person may declare (MAJOR_INCIDENT_DECLARERS or an admin; anyone when none is set)."""
    permitted(services, Action.DECLARE, user_id)


def check_can_declare(services: Services, incident_id: int, user_id: str) -> Incident:
    """Refuse early (before any form) when the person may not, or the incident already has its channel."""
    check_may_declare(services, user_id)
    with unit_of_work(services.session_factory) as session:
        incident = load_incident(session, incident_id, services.workspace)
        require_open(incident, f"put under {INCIDENT_MANAGEMENT}")
        if incident.is_major:
            raise DomainError(f"{incident.key} is already under {INCIDENT_MANAGEMENT}: <#{incident.major_channel_id}>.")
        return incident


def declare_major_incident(services: Services, incident_id: int, actor_id: str, lead_id: str) -> None:
    """Record it, set up the channel (each step kept, so a retry continues), then mark the incident major."""
    check_may_declare(services, actor_id)
    declared = retry_when_stale(lambda: _request_declaration(services, incident_id, actor_id, lead_id))
    incident, escalation_id, related = declared.incident, declared.escalation_id, declared.related
    invitees = {
        u
        for u in (incident.reporter_id, incident.owner_id, incident.oncall_id, lead_id, actor_id)
        if u and u[:1] in "UW"
    }
    try:
        channel_id = declared.channel_id or _create_channel(services, incident, escalation_id)
        _invite(services, channel_id, invitees)
        posted = services.workspace_slack.call(
            "chat.postMessage",
            {
                "channel": channel_id,
                **major_brief(
                    incident,
                    lead_id=lead_id,
                    related=[f"INC-{r}" for r in related],
                    now=services.clock.now(),
                    zone=services.settings.display_zone,
                ).as_args(),
            },
        )
        services.workspace_slack.call("pins.add", {"channel": channel_id, "timestamp": posted.get("ts")})
    except SlackCallError as exc:
        _record_setup_failure(services, incident_id, escalation_id, exc)
        return
    _record_declared(services, incident_id, escalation_id, actor_id, lead_id, channel_id, related)


@dataclass(frozen=True)
class _Declaration:
    incident: Incident
    escalation_id: int
    channel_id: str | None  # set when an earlier attempt already created the channel
    related: list[int]


def _request_declaration(services: Services, incident_id: int, actor_id: str, lead_id: str) -> _Declaration:
    """Record the request (or find the earlier one) and the incidents to link, in one transaction."""
    now = services.clock.now()
    with unit_of_work(services.session_factory) as session:
        incident = load_incident(session, incident_id, services.workspace)
        requested = request_escalation(
            session=session,
            incident=incident,
            kind=EscalationKind.INCIDENT_MANAGEMENT,
            requested_by=actor_id,
            now=now,
            configured=True,
            details={"lead_id": lead_id},
        )
        if requested.escalation.state == EscalationState.FILED:
            raise AlreadyEscalated(requested.escalation, incident)
        found = find_similar(session=session, incident=incident, window=services.settings.isolation_window, now=now)
        return _Declaration(
            incident=incident,
            escalation_id=requested.escalation.id,
            channel_id=requested.escalation.details.get("channel_id"),
            related=[m.incident_id for m in found.matches[:10]],
        )


def _create_channel(services: Services, incident: Incident, escalation_id: int) -> str:
    for attempt in range(1, MAX_NAME_ATTEMPTS + 1):
        try:
            created = services.workspace_slack.call("conversations.create", {"name": channel_name(incident, attempt)})
        except SlackCallError as exc:
            if exc.error == "name_taken":
                continue
            raise
        channel_id = str(created["channel"]["id"])
        with unit_of_work(services.session_factory) as session:
            escalation = session.get_one(Escalation, escalation_id)
            escalation.details = {**escalation.details, "channel_id": channel_id}
        return channel_id
    raise SlackCallError("name_taken", retryable=False)


def _invite(services: Services, channel_id: str, users: set[str]) -> None:
    if not users:
        return
    try:
        services.workspace_slack.call("conversations.invite", {"channel": channel_id, "users": ",".join(sorted(users))})
    except SlackCallError as exc:
        if exc.error not in ("already_in_channel", "cant_invite_self"):
            raise


def _record_setup_failure(services: Services, incident_id: int, escalation_id: int, exc: SlackCallError) -> None:
    logger.warning("Setting up the incident-management channel for INC-%s failed: %s", incident_id, exc.error)
    with unit_of_work(services.session_factory) as session:
        incident = load_incident(session, incident_id, services.workspace)
        escalation = session.get_one(Escalation, escalation_id)
        mark_failed(session=session, incident=incident, escalation=escalation, error=str(exc), now=services.clock.now())
        reason = escape_mrkdwn(str(exc))
        text = f"⚠️ Couldn't set up the channel for *{incident.key}*: {reason}. Fix it, then declare again."
        queue_thread_reply(services, session, incident, note(text), "escalation")
        queue_root_refresh(services, session, incident)
    deliver_pending(services, incident_id)


def _record_declared(
    services: Services,
    incident_id: int,
    escalation_id: int,
    actor_id: str,
    lead_id: str,
    channel_id: str,
    related: list[int],
) -> None:
    now = services.clock.now()
    with unit_of_work(services.session_factory) as session:
        incident = load_incident(session, incident_id, services.workspace)
        declare_major(
            session=session, incident=incident, declared_by=actor_id, lead_id=lead_id, channel_id=channel_id, now=now
        )
        escalation = session.get_one(Escalation, escalation_id)
        mark_filed(
            session=session,
            incident=incident,
            escalation=escalation,
            ref=channel_id,
            url=None,
            where="a channel",
            now=now,
            channel_id=channel_id,
        )
        linked = link_incidents(session=session, incident=incident, related_ids=related, actor_id=actor_id, now=now)
        keys = ", ".join(f"INC-{n}" for n in linked)
        who = f"{mention(actor_id)} started {INCIDENT_MANAGEMENT} for *{incident.key}*"
        text = f"🚨 {who}: <#{channel_id}>, {INCIDENT_LEAD} {mention(lead_id)}."
        queue_thread_reply(
            services, session, incident, note(text + (f" Linked {keys}." if keys else "")), "major_declared"
        )
        for related_id in linked:
            other = session.get(Incident, related_id)
            if other is not None:
                queue_thread_reply(
                    services,
                    session,
                    other,
                    note(f"🔗 Linked to *{incident.key}*, under {INCIDENT_MANAGEMENT} in <#{channel_id}>."),
                    "linked",
                )
        queue_root_refresh(services, session, incident)
    deliver_pending(services, incident_id)
