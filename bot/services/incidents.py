"""Use cases around opening and showing incidents: the domain change and its Slack messages, in one unit of work."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View
from sqlalchemy.orm import Session

from blocks.budget import page_number
from blocks.home import home_view, members_only_home
from blocks.incident import environment_reply, incident_card, oncall_reply, source_reply
from blocks.lists import LIST_COMMAND, incident_list_blocks
from blocks.replies import correlation_reply, isolation_reply
from bot.db import unit_of_work
from bot.domain.acknowledgement import schedule_ack_escalation
from bot.domain.audit import audit_trail
from bot.domain.channels import ChannelReach
from bot.domain.correlation import correlate
from bot.domain.deadlines import schedule_deadline_reminders
from bot.domain.errors import DomainError
from bot.domain.escalations import RETRYABLE, escalations_of
from bot.domain.incidents import (
    IncidentReport,
    OpenedIncident,
    list_open_incidents,
    load_incident_by_key,
    open_incident,
)
from bot.domain.isolation import find_similar
from bot.domain.message_intake import SourceMessage
from bot.domain.oncall import on_call_now, who_is_on_call
from bot.domain.oncall_sources import OnCallSource, SourceKind
from bot.domain.permissions import Action, decide
from bot.domain.triage import ensure_steps, mark_correlation_checked, refresh_gather
from bot.integrations.outbox import enqueue_slack_call, undelivered_summary
from bot.models import EscalationState, Incident
from bot.services.changes import deliver_pending
from bot.services.channels import reach_of
from bot.services.container import Services
from bot.services.oncall import read_soon
from bot.services.oncall_sources import Paging, configured_source, paging_for
from bot.services.rendering import queue_thread_reply, render_root
from bot.services.roles import permitted, policy_of

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class OpenRequest:
    report: IncidentReport
    reporter_id: str
    channel_id: str
    submission_key: str
    team_id: str | None = None
    source: SourceMessage | None = None  # the message it was opened from ("Open incident" on a message)


@dataclass(frozen=True)
class Submission:
    """The new-incident form as submitted (its answers valid): where `/triage` was typed (`typed_in`), and the
    channel chosen on the form (None when the form did not ask for one)."""

    report: IncidentReport
    typed_in: str
    chosen: str | None
    reporter_id: str
    submission_key: str
    team_id: str | None = None
    source: SourceMessage | None = None


@dataclass(frozen=True)
class Opening:
    """What became of a submission: the incident `opened`, or None when the bot can't post in the channel it would
    live in (`reach` says why; `chosen`: that channel was the one chosen on the form, not where /triage was typed)."""

    opened: OpenedIncident | None
    reach: ChannelReach
    chosen: bool


def open_where_it_can_post(services: Services, submission: Submission) -> Opening:
    """Open the incident in the channel chosen on the form, else where `/triage` was typed, only once Slack says
    the bot can post there: an incident is never stored with nowhere to live."""
    channel_id = submission.chosen or submission.typed_in
    reach = reach_of(services, channel_id)
    if not reach.usable:
        return Opening(None, reach, chosen=bool(submission.chosen))
    request = OpenRequest(
        report=submission.report,
        reporter_id=submission.reporter_id,
        channel_id=channel_id,
        submission_key=submission.submission_key,
        team_id=submission.team_id,
        source=submission.source,
    )
    return Opening(open_and_announce(services, request), reach, chosen=bool(submission.chosen))


def after_opening(services: Services, opened: OpenedIncident) -> None:
    """Once the form has closed: send what opening queued and, for a new incident, look for what else happened
    around its start and who else is affected."""
    deliver_pending(services, opened.incident.id)
    if opened.created:
        post_findings(services, opened.incident.id, correlation=True)


def _current_oncall(services: Services, session: Session) -> Paging:
    """Whom a new incident pages: `ONCALL_SOURCE` when set, else the workspace's first rotation, else
    `ONCALL_SLACK_ID`. Never waits on an outside service (see bot.services.oncall_sources)."""
    source = configured_source(services.settings)
    fallback = services.settings.oncall_slack_id
    if source is None or source.kind == SourceKind.ROTATION:
        team_name = source.reference if source is not None else None
        try:
            oncall = who_is_on_call(
                session=session, team_name=team_name, at=services.clock.now(), workspace=services.workspace
            )
        except DomainError:
            oncall = None
        return Paging(oncall.user_id, oncall.team) if oncall is not None else Paging(fallback)
    if source.kind == SourceKind.USERGROUP:
        return Paging(source.reference)
    return _external_paging(services, source, fallback)


def _external_paging(services: Services, source: OnCallSource, fallback: str | None) -> Paging:
    directory = services.oncall_directory
    answer = directory.known(services.workspace, source) if directory is not None else None
    read_soon(services, source)
    zone = services.settings.display_zone
    return paging_for(answer, source, fallback, lambda moment: moment.astimezone(zone).strftime("%H:%M"))


def open_and_announce(services: Services, request: OpenRequest) -> OpenedIncident:
    """Store the incident and queue its root message and first thread replies, atomically."""
    now = services.clock.now()
    with unit_of_work(services.session_factory) as session:
        paging = _current_oncall(services, session)
        opened = open_incident(
            session=session,
            report=request.report,
            reporter_id=request.reporter_id,
            channel_id=request.channel_id,
            oncall_id=paging.oncall_id,
            idempotency_key=request.submission_key,
            now=now,
        )
        if opened.created:
            incident = opened.incident
            incident.oncall_team = paging.team
            incident.team_id = request.team_id
            incident.source_link = request.source.link if request.source is not None else None
            ensure_steps(session=session, incident=incident)
            refresh_gather(session=session, incident=incident, actor_id=incident.reporter_id, now=now)
            schedule_ack_escalation(
                session=session, incident=incident, windows=services.settings.ack_window_by_severity, now=now
            )
            schedule_deadline_reminders(
                session=session, incident=incident, offsets=services.settings.deadline_reminder_offsets, now=now
            )
            _queue_announcement(services, session, incident, paging.note, request.source)
    return opened


def _queue_announcement(
    services: Services, session: Session, incident: Incident, paging_note: str | None, source: SourceMessage | None
) -> None:
    session.flush()
    now = services.clock.now()
    root = render_root(services, session, incident)
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
    replies = [("source_message", source_reply(incident, source))] if source is not None else []
    for purpose, message in (
        *replies,
        ("environment_reply", environment_reply(incident)),
        ("oncall_page", oncall_reply(incident, now=now, zone=services.settings.display_zone, note=paging_note)),
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


def post_findings(services: Services, incident_id: int, *, correlation: bool) -> None:
    """After the acknowledgement: what else happened around the start (correlation) and who else is affected."""
    services.background.submit(lambda: _find_and_post(services, incident_id, correlation=correlation))


def _find_and_post(services: Services, incident_id: int, *, correlation: bool) -> None:
    status_page = services.status_page.recent_incidents() if correlation else None
    now = services.clock.now()
    with unit_of_work(services.session_factory) as session:
        incident = session.get(Incident, incident_id)
        if incident is None:
            return
        if status_page is not None:
            found = correlate(
                session=session,
                incident=incident,
                status_page=status_page,
                window=services.settings.correlation_window,
                now=now,
            )
            queue_thread_reply(services, session, incident, correlation_reply(incident, found), "correlation")
            summary = f"Correlation checked: {len(found.items)} item(s)" + (
                ""
                if found.status_page_available
                else "; no status page configured"
                if not found.status_page_configured
                else "; status page unavailable"
            )
            mark_correlation_checked(session=session, incident=incident, summary=summary, now=now)
        isolation = find_similar(session=session, incident=incident, window=services.settings.isolation_window, now=now)
        if isolation.matches or status_page is not None:
            queue_thread_reply(
                services,
                session,
                incident,
                isolation_reply(incident, isolation, services.settings.display_zone),
                "isolation",
            )
    # A delivery run of its own, queued after this commit: one already running may have passed these rows'
    # turn while the root message they reply to was still on its way.
    deliver_pending(services, incident_id)


# Open incidents read for a list: every one in practice; the pages and the count in the title come from them.
MAX_OPEN_READ = 2000


def open_incidents_blocks(services: Services, args: str = "") -> list[Block]:
    """`/triage list [page]`."""
    page = page_number(args, LIST_COMMAND)
    with unit_of_work(services.session_factory) as session:
        incidents = list_open_incidents(session=session, limit=MAX_OPEN_READ, workspace=services.workspace)
        return incident_list_blocks(incidents, now=services.clock.now(), zone=services.settings.display_zone, page=page)


def incident_card_blocks(services: Services, reference: str) -> list[Block]:
    with unit_of_work(services.session_factory) as session:
        incident = load_incident_by_key(session=session, reference=reference, workspace=services.workspace)
        return incident_card(
            incident,
            events=audit_trail(session=session, incident_id=incident.id),
            pending_deliveries=undelivered_summary(
                session=session,
                incident_id=incident.id,
                now=services.clock.now(),
                zone=services.settings.display_zone,
            ),
            now=services.clock.now(),
            zone=services.settings.display_zone,
            failed=[
                e
                for e in escalations_of(session=session, incident_id=incident.id)
                if e.state == EscalationState.FAILED and e.kind in RETRYABLE
            ],
        )


def home_for(services: Services, user_id: str) -> View:
    """The App Home tab as `user_id` should see it now (a line saying why, for someone who may not see incidents)."""
    try:
        actor = permitted(services, Action.VIEW, user_id)
    except DomainError as exc:
        return members_only_home(str(exc))
    may_configure = decide(Action.CHANGE_SETTINGS, actor, policy_of(services)).allowed
    now = services.clock.now()
    with unit_of_work(services.session_factory) as session:
        everyone = list_open_incidents(session=session, limit=MAX_OPEN_READ, workspace=services.workspace)
        mine = [i for i in everyone if user_id in (i.owner_id, i.reporter_id)]
        oncalls = on_call_now(session=session, at=now, workspace=services.workspace)
        return home_view(
            mine=mine,
            everyone=everyone,
            oncalls=oncalls,
            fallback_oncall=services.settings.oncall_slack_id,
            now=now,
            zone=services.settings.display_zone,
            may_configure=may_configure,
        )
