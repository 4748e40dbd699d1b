"""Running due timers: claim one row at a time, let the domain decide if it is still wanted, post through the outbox."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session

from blocks.replies import channel_escalation, deadline_reminder, escalation_page, update_due_reminder
from blocks.text import link
from bot.db import unit_of_work
from bot.domain.acknowledgement import ACK_ESCALATION, AckEscalation, plan_ack_escalation, schedule_ack_escalation
from bot.domain.audit import record_event
from bot.domain.client_updates import CLIENT_UPDATE_DUE, update_reminder_wanted
from bot.domain.deadlines import DEADLINE_REMINDER, raise_near_deadline, reminder_wanted
from bot.domain.errors import DomainError
from bot.domain.names import channel_token, person_token
from bot.domain.oncall import OnCall, who_is_on_call
from bot.domain.oncall_sources import OnCallSource
from bot.domain.timers import claim_due_timer, finish_timer
from bot.domain.workarounds import CHECKIN_UNANSWERED, RETRY_CHECKIN, TIMEBOX_END
from bot.models import Incident, Timer
from bot.observability.context import bind_incident
from bot.observability.metrics import observe_timer_lag
from bot.services.container import Services
from bot.services.escalation.engineering import JIRA_POLL, poll_jira_status
from bot.services.names import learn_names_soon
from bot.services.oncall import read_soon
from bot.services.oncall_sources import configured_source
from bot.services.rendering import queue_channel_post, queue_root_refresh, queue_thread_reply
from bot.services.workarounds import ask_at_timebox_end, ping_unanswered, post_checkin

logger = logging.getLogger(__name__)


def worker_id() -> str:
    """Who claimed a timer: this process (computed per claim, so gunicorn workers don't report the master's pid)."""
    return f"{socket.gethostname()}:{os.getpid()}"


Handler = Callable[[Services, Session, Timer, Incident, datetime], str]


def _oncall(services: Services, session: Session, incident: Incident, now: datetime) -> OnCall | None:
    """The incident's on-call as it stands now: its rotation (in the incident's own workspace only), or what the
    outside on-call source (PagerDuty, Opsgenie) last said, its next escalation level being who is paged next."""
    workspace = services.for_request(incident.team_id).workspace
    source = configured_source(services.settings)
    if incident.oncall_team is None and source is not None and source.external:
        return _external_oncall(services, workspace, source)
    try:
        return who_is_on_call(session=session, team_name=incident.oncall_team, at=now, workspace=workspace)
    except DomainError:
        return None


def _external_oncall(services: Services, workspace: str | None, source: OnCallSource) -> OnCall | None:
    answer = services.oncall_directory.known(workspace, source) if services.oncall_directory else None
    read_soon(services, source, workspace=workspace)
    if answer is None or answer.primary is None:
        return None
    return OnCall(
        team=source.describe(),
        user_id=answer.primary,
        via_override=False,
        until=None,
        next_user_id=answer.next_person,
        escalation_channel_id=None,
    )


def escalate_unacknowledged(
    services: Services, session: Session, timer: Timer, incident: Incident, now: datetime
) -> str:
    oncall = _oncall(services, session, incident, now)
    step = plan_ack_escalation(
        incident=incident,
        level=timer.sequence,
        now=now,
        oncall_id=incident.oncall_id,
        next_user_id=oncall.next_user_id if oncall else None,
        escalation_channel_id=(oncall.escalation_channel_id if oncall else None)
        or services.settings.escalation_channel_id,
    )
    if step is None:
        return "not needed"
    minutes = round(step.waited.total_seconds() / 60)
    paged = [u for u in (step.repage_user_id, step.next_user_id) if u]
    queue_thread_reply(
        services,
        session,
        incident,
        escalation_page(incident, mentions=paged, waited_minutes=minutes, level=step.level),
        "ack_escalation",
    )
    if step.escalation_channel_id:
        hint = (
            f"Details in {link(incident.root_permalink, 'the incident thread')}."
            if incident.root_permalink
            else f"Details in the incident's thread in <#{incident.channel_id}>."
        )
        queue_channel_post(
            services,
            session,
            step.escalation_channel_id,
            channel_escalation(incident, hint, minutes),
            "ack_escalation_channel",
            incident.id,
        )
    record_event(
        session=session,
        incident=incident,
        at=now,
        actor_id="bot",
        kind="ack_escalated",
        summary=f"Unacknowledged after {minutes} min: escalation level {step.level}" + _paged_and_posted(step),
        details={"level": step.level, "paged": paged, "channel": step.escalation_channel_id},
        refs=[*paged, *([step.escalation_channel_id] if step.escalation_channel_id else [])],
    )
    if step.level == 1:
        schedule_ack_escalation(
            session=session, incident=incident, windows=services.settings.ack_window_by_severity, now=now, level=2
        )
    queue_root_refresh(services, session, incident)
    return f"level {step.level}: paged {', '.join(person_token(u) for u in paged) or 'nobody'}"


def _paged_and_posted(step: AckEscalation) -> str:
    """`; paged <@U1>, <@U2>; posted in <#C1>`: whom the step paged and where it asked for help, as references."""
    paged = [person_token(u) for u in (step.repage_user_id, step.next_user_id) if u]
    said = f"; paged {', '.join(paged)}" if paged else ""
    if step.escalation_channel_id:
        said += f"; posted in {channel_token(step.escalation_channel_id)}"
    return said


def remind_client_update(services: Services, session: Session, timer: Timer, incident: Incident, now: datetime) -> str:
    if not update_reminder_wanted(incident, timer.due_at):
        return "not needed"
    queue_thread_reply(
        services,
        session,
        incident,
        update_due_reminder(incident, timer.due_at, services.settings.display_zone),
        "update_due",
    )
    record_event(
        session=session,
        incident=incident,
        at=now,
        actor_id="bot",
        kind="client_update_due",
        summary="Client update due: owner reminded",
    )
    return "reminded"


def remind_deadline(services: Services, session: Session, timer: Timer, incident: Incident, now: datetime) -> str:
    """`⏳ INC-4: the client's deadline (court filing) is in 30 min` to the owner; maybe raise to SEV1."""
    if not reminder_wanted(incident, timer):
        return "not needed"
    raised = raise_near_deadline(session=session, incident=incident, within=services.settings.sev1_within, now=now)
    queue_thread_reply(
        services,
        session,
        incident,
        deadline_reminder(incident, now=now, zone=services.settings.display_zone, raised=raised),
        "deadline_reminder",
    )
    record_event(
        session=session,
        incident=incident,
        at=now,
        actor_id="bot",
        kind="deadline_reminder",
        summary=f"Deadline reminder: {timer.sequence} min before" + ("; raised to SEV1" if raised else ""),
    )
    queue_root_refresh(services, session, incident)
    return f"{timer.sequence} min before" + (", raised to SEV1" if raised else "")


HANDLERS: dict[str, Handler] = {
    RETRY_CHECKIN: post_checkin,
    CHECKIN_UNANSWERED: ping_unanswered,
    TIMEBOX_END: ask_at_timebox_end,
    DEADLINE_REMINDER: remind_deadline,
    ACK_ESCALATION: escalate_unacknowledged,
    CLIENT_UPDATE_DUE: remind_client_update,
    JIRA_POLL: poll_jira_status,
}


def run_due_timers(services: Services, *, limit: int = 500) -> int:
    """Handle every due timer; each in its own transaction with what it posts, so nothing is done twice."""
    handled = 0
    for _ in range(limit):
        try:
            if not _run_one(services):
                break
        except Exception:
            logger.exception("A due timer failed; it stays due and is retried on the next tick")
            break
        handled += 1
    return handled


def _run_one(services: Services) -> bool:
    now = services.clock.now()
    with unit_of_work(services.session_factory) as session:
        timer = claim_due_timer(session=session, now=now, worker=worker_id())
        if timer is None:
            return False
        kind, lag = timer.kind, (now - timer.due_at).total_seconds()
        incident = session.get(Incident, timer.incident_id) if timer.incident_id is not None else None
        handler = HANDLERS.get(timer.kind)
        if handler is None or incident is None:
            finish_timer(timer, outcome="no handler" if handler is None else "incident gone", now=now)
            return True
        with bind_incident(incident.key):
            scoped = services.for_request(incident.team_id)  # the incident's workspace, with its own settings
            outcome = handler(scoped, session, timer, incident, now)
            finish_timer(timer, outcome=outcome, now=now)
        incident_id = incident.id
    # Observed once the work is committed: a timer whose handling failed stays due and is observed when it succeeds.
    observe_timer_lag(kind, lag)
    if kind == ACK_ESCALATION and outcome != "not needed":
        learn_names_soon(scoped, incident_id)  # whom it paged, where it asked for help
    return True
