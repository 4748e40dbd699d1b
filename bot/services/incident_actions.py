"""Use cases behind an incident's buttons and modals: one domain change, its thread reply, the root kept current."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from blocks.client_channel import client_message, update_recorded, update_sent
from blocks.incident import Message
from blocks.incident_modals import StatusChange
from blocks.replies import QUOTE_CHARS, note
from blocks.text import escape_mrkdwn, mention, quoted
from bot.db import unit_of_work
from bot.domain.acknowledgement import ACK_ESCALATION
from bot.domain.audit import audit_trail
from bot.domain.client_updates import (
    UpdateNotSendable,
    draft_client_update,
    latest_client_update,
    record_client_update,
    send_update_to_client,
)
from bot.domain.durations import took
from bot.domain.errors import DomainError
from bot.domain.incidents import DetailsReport, ReportField, load_incident, update_details, validate_details
from bot.domain.isolation import Isolation, find_similar
from bot.domain.lifecycle import acknowledge, change_severity, change_status, require_open, take_ownership
from bot.domain.permissions import Action, IncidentRoles, require
from bot.domain.timers import cancel_timers
from bot.domain.triage import (
    KIND_LABELS,
    OUTCOME_LABELS,
    LoggedStep,
    ScopeDecision,
    log_step,
    missing_environment,
    refresh_gather,
    set_scope,
)
from bot.domain.workspace_settings import channel_of_client
from bot.models import Event, Incident, IncidentStatus, Scope
from bot.services.changes import apply_change
from bot.services.container import Services
from bot.services.escalation.engineering import comment_on_resolution
from bot.services.escalation.internal_notice import follow_up_notice
from bot.services.rendering import queue_channel_post, queue_thread_reply
from bot.services.roles import actor_of, allow, policy_of
from bot.services.workarounds import stop_all_for

logger = logging.getLogger(__name__)
RESOLVING = (IncidentStatus.RESOLVED, IncidentStatus.CLOSED)


def acknowledge_incident(services: Services, incident_id: int, actor_id: str) -> None:
    def change(session: Session, incident: Incident, now: datetime) -> list[Message]:
        acknowledge(session=session, incident=incident, actor_id=actor_id, now=now)
        cancel_timers(session=session, incident_id=incident.id, kinds=[ACK_ESCALATION], now=now, outcome="acknowledged")
        waited = took(now - incident.opened_at)
        return [note(f"✅ {mention(actor_id)} acknowledged *{incident.key}* {waited} and owns it.")]

    apply_change(
        services,
        incident_id,
        change,
        purpose="acknowledged",
        actor=actor_of(services, actor_id),
        action=Action.ACKNOWLEDGE,
    )


def take_over_incident(services: Services, incident_id: int, actor_id: str) -> None:
    def change(session: Session, incident: Incident, now: datetime) -> list[Message]:
        before = incident.owner_id
        if not take_ownership(session=session, incident=incident, actor_id=actor_id, now=now):
            raise DomainError(f"You already own {incident.key}.")
        cancel_timers(session=session, incident_id=incident.id, kinds=[ACK_ESCALATION], now=now, outcome="acknowledged")
        previous = f" from {mention(before)}" if before and before != actor_id else ""
        return [note(f"🙋 {mention(actor_id)} took over *{incident.key}*{previous}.")]

    apply_change(
        services,
        incident_id,
        change,
        purpose="owner_changed",
        actor=actor_of(services, actor_id),
        action=Action.TAKE_OWNERSHIP,
    )


def change_status_and_severity(services: Services, incident_id: int, actor_id: str, request: StatusChange) -> None:
    actor = actor_of(services, actor_id)

    def change(session: Session, incident: Incident, now: datetime) -> list[Message]:
        if request.severity is not None and request.severity != incident.severity:
            allow(services, Action.CHANGE_SEVERITY, actor, incident)
        if request.status in RESOLVING and request.status != incident.status:
            allow(services, Action.RESOLVE, actor, incident)
        replies = []
        reason = f" — {escape_mrkdwn(request.reason)}" if request.reason else ""
        if request.severity is not None and request.severity != incident.severity:
            before = incident.severity
            change_severity(
                session=session,
                incident=incident,
                to=request.severity,
                actor_id=actor_id,
                now=now,
                reason=request.reason,
            )
            replies.append(
                note(f"📶 {mention(actor_id)} changed severity {before.value} → *{request.severity.value}*{reason}")
            )
        if request.status is not None and request.status != incident.status:
            before_status = incident.status
            after = f"{incident.key} status {before_status.value} → {request.status.value}"
            change_status(
                session=session, incident=incident, to=request.status, actor_id=actor_id, now=now, reason=request.reason
            )
            replies.append(
                note(f"🔁 {mention(actor_id)} moved status {before_status.value} → *{request.status.value}*{reason}")
            )
            follow_up_notice(services, session, incident, f"🔁 {after}{reason}")
            if request.status == IncidentStatus.RESOLVED:
                comment_on_resolution(services, session, incident, f"Resolved in Slack by the support team: {after}.")
                stopped = stop_all_for(session, incident, actor_id, now, "incident resolved")
                if stopped:
                    replies.append(
                        note(f"⏹️ {stopped} workaround(s) and their check-ins stopped: *{incident.key}* is resolved.")
                    )
        if not replies:
            raise DomainError(
                f"Nothing changed: {incident.key} is already {incident.status.value}, {incident.severity.value}."
            )
        return replies

    apply_change(services, incident_id, change, purpose="status_changed", actor=actor, action=Action.WORK)


def log_incident_step(
    services: Services, incident_id: int, actor_id: str, step: LoggedStep, *, once: str | None = None
) -> bool:
    """Record the step and post it in the thread; False when the request `once` was already applied."""
    assert step.kind is not None and step.outcome is not None, "validated on the form (step_problems)"
    kind, outcome = step.kind, step.outcome

    def change(session: Session, incident: Incident, now: datetime) -> list[Message]:
        logged = log_step(
            session=session,
            incident=incident,
            actor_id=actor_id,
            kind=kind,
            description=step.description,
            outcome=outcome,
            now=now,
        )
        what = f"{KIND_LABELS[kind].lower()} — *{OUTCOME_LABELS[outcome]}*"
        text = f"📝 {mention(actor_id)} logged a {what}:\n{quoted(step.description, QUOTE_CHARS)}"
        if logged.completed_investigate:
            text += "\n✅ *Investigate* is done."
        if logged.missing_environment:
            text += (
                f"\n⚠️ Investigate can't be marked done until the environment is recorded: missing "
                f"{', '.join(logged.missing_environment)}. Use *Add details*."
            )
        return [note(text)]

    return apply_change(
        services,
        incident_id,
        change,
        purpose="step_logged",
        actor=actor_of(services, actor_id),
        action=Action.WORK,
        once=once,
    )


def add_incident_details(
    services: Services, incident_id: int, actor_id: str, details: DetailsReport
) -> dict[ReportField, str]:
    """Problems per field (nothing stored), or {} once the details are stored (then run isolation again)."""
    problems = validate_details(details)
    if problems:
        return problems

    def change(session: Session, incident: Incident, now: datetime) -> list[Message]:
        changed = update_details(session=session, incident=incident, actor_id=actor_id, details=details, now=now)
        gathered = refresh_gather(session=session, incident=incident, actor_id=actor_id, now=now)
        if not changed:
            return []
        text = f"🧾 {mention(actor_id)} updated the details: {', '.join(changed)}."
        missing = missing_environment(incident)
        text += "\n✅ *Immediate Action* is done: the environment is recorded." if gathered else ""
        text += f"\nStill missing: {', '.join(missing)}." if missing else ""
        return [note(text)]

    apply_change(
        services, incident_id, change, purpose="details_added", actor=actor_of(services, actor_id), action=Action.WORK
    )
    return {}


def isolation_for(services: Services, incident_id: int) -> tuple[Incident, Isolation]:
    with unit_of_work(services.session_factory) as session:
        incident = load_incident(session, incident_id, services.workspace)
        require_open(incident, "isolated")
        found = find_similar(
            session=session, incident=incident, window=services.settings.isolation_window, now=services.clock.now()
        )
        return incident, found


def decide_scope(services: Services, incident_id: int, actor_id: str, decision: ScopeDecision) -> None:
    assert decision.scope is not None, "validated on the form (scope_problems)"
    scope = decision.scope

    def change(session: Session, incident: Incident, now: datetime) -> list[Message]:
        linked = set_scope(
            session=session,
            incident=incident,
            scope=scope,
            actor_id=actor_id,
            now=now,
            related_ids=decision.related_ids,
        )
        keys = ", ".join(f"INC-{n}" for n in linked)
        text = f"🧩 {mention(actor_id)} set the scope of *{incident.key}* to *{scope.value}*" + (
            f" and linked {keys}." if keys else "."
        )
        _note_linked(services, session, incident, linked, scope)
        return [note(text)]

    apply_change(
        services, incident_id, change, purpose="scope_set", actor=actor_of(services, actor_id), action=Action.WORK
    )


def _note_linked(services: Services, session: Session, incident: Incident, linked: list[int], scope: Scope) -> None:
    for related_id in linked:
        related = session.get(Incident, related_id)
        if related is not None:
            message = note(
                f"🔗 Linked to *{incident.key}* ({scope.value}): same cause. See its thread for the investigation."
            )
            queue_thread_reply(services, session, related, message, "linked")


def mark_systemic(services: Services, incident_id: int, actor_id: str) -> None:
    """The one-click path from an isolation finding: systemic, with every match linked."""
    _, found = isolation_for(services, incident_id)
    decide_scope(
        services,
        incident_id,
        actor_id,
        ScopeDecision(scope=Scope.SYSTEMIC, related_ids=[m.incident_id for m in found.matches[:10]]),
    )


@dataclass(frozen=True)
class UpdateDraft:
    incident: Incident
    text: str
    next_due_label: str


def draft_update(services: Services, incident_id: int) -> UpdateDraft:
    now, zone = services.clock.now(), services.settings.display_zone
    cadence = services.settings.update_cadence_by_severity
    with unit_of_work(services.session_factory) as session:
        incident = load_incident(session, incident_id, services.workspace)
        require_open(incident, "updated")
        text = draft_client_update(
            incident=incident,
            events=audit_trail(session=session, incident_id=incident_id),
            now=now,
            zone=zone,
            cadence=cadence,
        )
        due = (now + cadence[incident.severity]).astimezone(zone).strftime("%H:%M %Z")
        return UpdateDraft(incident, text, due)


def send_client_update(services: Services, incident_id: int, actor_id: str, text: str) -> None:
    """Record a client update (the person sends it themselves, or with "Send to client" when the client has a
    channel in this workspace)."""

    def change(session: Session, incident: Incident, now: datetime) -> list[Message]:
        due = record_client_update(
            session=session,
            incident=incident,
            actor_id=actor_id,
            text=text,
            now=now,
            cadence=services.settings.update_cadence_by_severity,
        )
        session.flush()
        update = latest_client_update(session, incident)
        channel = channel_of_client(session, services.settings_key, incident.client_id)
        return [
            update_recorded(
                actor_id=actor_id,
                text=text,
                due=due,
                zone=services.settings.display_zone,
                update_id=update.id if update is not None else None,
                client_channel=channel,
            )
        ]

    apply_change(
        services, incident_id, change, purpose="client_update", actor=actor_of(services, actor_id), action=Action.WORK
    )


def send_update_to_client_channel(
    services: Services, update_id: int, actor_id: str, once: str | None = None
) -> int | None:
    """ "Send to client": post a recorded update (its words only) in the client's own channel, once; recorded in
    the audit trail, and the next update is due from now. For the owner or lead, who recorded it, declarers and
    admins; an update of another workspace's incident is not available here. Returns the incident's id, or None
    when this very request was already applied."""
    with unit_of_work(services.session_factory) as session:
        update = session.get(Event, update_id)
        if update is None or update.kind != "client_update":
            raise UpdateNotSendable("That client update isn't available here.")
        incident_id, author = update.incident_id, update.actor_id
    actor = actor_of(services, actor_id)

    def change(session: Session, incident: Incident, now: datetime) -> list[Message]:
        require(
            Action.SEND_TO_CLIENT, actor, policy_of(services), incident=IncidentRoles.of(incident), entry_author=author
        )
        channel = channel_of_client(session, services.settings_key, incident.client_id)
        if channel is None:
            raise DomainError("This client has no channel of its own here: an admin can set one in `/triage settings`.")
        sent = send_update_to_client(
            session=session,
            incident=incident,
            update_event_id=update_id,
            channel_id=channel,
            actor_id=actor_id,
            now=now,
            cadence=services.settings.update_cadence_by_severity,
        )
        queue_channel_post(services, session, channel, client_message(sent.text), "client_channel_update", incident.id)
        return [
            update_sent(actor_id=actor_id, channel_id=channel, due=sent.next_due, zone=services.settings.display_zone)
        ]

    applied = apply_change(
        services, incident_id, change, purpose="client_update_sent", actor=actor, action=Action.WORK, once=once
    )
    return incident_id if applied else None
