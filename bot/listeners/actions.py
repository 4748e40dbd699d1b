"""Buttons on incident messages. Each answers within Slack's 3 s and never crashes on a stale message."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackClientError
from slack_sdk.models.views import View
from sqlalchemy.exc import SQLAlchemyError

from blocks.escalation import escalate_modal, feedback_modal
from blocks.ids import IncidentAction, ReportAction, WorkaroundAction
from blocks.incident_modals import (
    add_details_modal,
    change_status_modal,
    client_update_modal,
    isolate_modal,
    log_step_modal,
)
from blocks.resolution import resolve_modal
from blocks.view_state import whole_number
from blocks.workarounds import error_changed_modal, progress_modal, start_workaround_modal
from bot.db import unit_of_work
from bot.domain.errors import DomainError
from bot.domain.escalations import escalations_of
from bot.domain.lifecycle import require_open
from bot.domain.permissions import Action
from bot.domain.reports import validate_days
from bot.domain.triage import missing_environment
from bot.domain.workarounds import active_workarounds
from bot.listeners.errors import DATABASE_UNREACHABLE
from bot.listeners.middleware import services_of
from bot.listeners.replays import request_key
from bot.models import AttemptOutcome
from bot.services import incident_actions as use
from bot.services import resolution as resolution_uses
from bot.services import workarounds as workaround_uses
from bot.services.changes import deliver_pending, load_incident
from bot.services.container import Services
from bot.services.records import ReportRequest, post_report
from bot.services.roles import permit_on_incident
from bot.services.workarounds import incident_of_workaround

logger = logging.getLogger(__name__)


def incident_id_of(body: dict[str, Any]) -> int | None:
    value = (body.get("actions") or [{}])[0].get("value", "")
    return whole_number(str(value))


def tell(respond: Respond, text: str, *, body: dict[str, Any] | None = None, client: WebClient | None = None) -> None:
    """An answer only the clicker sees, where they are looking, leaving the message they clicked untouched.

    A click on a thread reply is answered in that thread (chat.postEphemeral with thread_ts): an answer through
    the response_url would show at the foot of the channel instead, away from the thread.
    """
    thread_ts = thread_of(body) if body is not None else None
    channel = channel_of(body) if body is not None else None
    if body is not None and client is not None and thread_ts and channel:
        try:
            client.chat_postEphemeral(channel=channel, user=body["user"]["id"], text=text, thread_ts=thread_ts)
            return
        except SlackClientError as exc:
            logger.warning("Could not answer in the thread (%s); answering through the response URL", exc)
    respond(text=text, response_type="ephemeral", replace_original=False)


def thread_of(body: dict[str, Any]) -> str | None:
    """The thread the clicked message is a reply in (None for a top-level message, a modal or an ephemeral one)."""
    container = body.get("container") or {}
    if container.get("is_ephemeral"):
        return None
    thread_ts = container.get("thread_ts") or (body.get("message") or {}).get("thread_ts")
    return thread_ts if isinstance(thread_ts, str) and thread_ts else None


def run_for_incident(
    ack: Ack,
    body: dict[str, Any],
    respond: Respond,
    services: Services,
    work: Callable[[int, str], None],
    client: WebClient | None = None,
) -> None:
    """Acknowledge, then do the work; domain refusals (stale button, wrong state) become an ephemeral answer."""
    ack()
    incident_id = incident_id_of(body)
    if incident_id is None:
        text = "That button no longer points at an incident. `/triage list` shows the open ones."
        tell(respond, text, body=body, client=client)
        return
    try:
        work(incident_id, body["user"]["id"])
    except DomainError as exc:
        tell(respond, str(exc), body=body, client=client)
        return
    except SQLAlchemyError:
        logger.exception("A button on INC-%s could not be handled: database error", incident_id)
        tell(respond, DATABASE_UNREACHABLE, body=body, client=client)
        return
    deliver_pending(services, incident_id)


def _modal_view(services: Services, action: IncidentAction, incident_id: int, user_id: str) -> View:
    """The form the button opens, once the person may do what it is for (refused before any form opens)."""
    permit_on_incident(
        services, Action.RESOLVE if action == IncidentAction.RESOLVE else Action.WORK, user_id, incident_id
    )
    if action == IncidentAction.ISOLATE:
        incident, found = use.isolation_for(services, incident_id)
        return isolate_modal(incident, found)
    if action == IncidentAction.ESCALATE:
        with unit_of_work(services.session_factory) as session:
            incident = load_incident(session, incident_id, services.workspace)
            require_open(incident, "escalated")
            existing = escalations_of(session=session, incident_id=incident_id)
            return escalate_modal(incident, existing, jira_configured=services.settings.jira_configured)
    if action in (IncidentAction.START_WORKAROUND, IncidentAction.WORKAROUND_PROGRESS):
        with unit_of_work(services.session_factory) as session:
            incident = load_incident(session, incident_id, services.workspace)
            require_open(incident, "given a workaround")
            running = active_workarounds(session=session, incident_id=incident_id)
            if action == IncidentAction.WORKAROUND_PROGRESS and running:
                return progress_modal(incident, running[0])
            return start_workaround_modal(incident)
    if action == IncidentAction.CLIENT_UPDATE:
        draft = use.draft_update(services, incident_id)
        return client_update_modal(draft.incident, draft.text, draft.next_due_label)
    if action == IncidentAction.RESOLVE:
        incident, stopping = resolution_uses.resolvable(services, incident_id)
        return resolve_modal(incident, stopping=stopping)
    if action == IncidentAction.FILE_FEEDBACK:  # also after resolving: feedback is how an incident closes the loop
        with unit_of_work(services.session_factory) as session:
            incident = load_incident(session, incident_id, services.workspace)
            return feedback_modal(incident, list(services.settings.product_area_pms), incident.blocker[:2000])
    with unit_of_work(services.session_factory) as session:
        incident = load_incident(session, incident_id, services.workspace)
        require_open(incident, "changed")
        if action == IncidentAction.LOG_STEP:
            return log_step_modal(incident)
        if action == IncidentAction.CHANGE_STATUS:
            return change_status_modal(incident)
        return add_details_modal(incident, missing_environment(incident))


def open_incident_modal(action: IncidentAction) -> Callable[..., None]:
    def handler(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond, context: BoltContext) -> None:
        services = services_of(context)

        def work(incident_id: int, user: str) -> None:
            client.views_open(trigger_id=body["trigger_id"], view=_modal_view(services, action, incident_id, user))

        run_for_incident(ack, body, respond, services, work, client)

    handler.__name__ = f"open_{action.name.lower()}_modal"
    return handler


def handle_acknowledge(
    ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond, context: BoltContext
) -> None:
    services = services_of(context)
    run_for_incident(
        ack,
        body,
        respond,
        services,
        lambda incident_id, user: use.acknowledge_incident(services, incident_id, user),
        client,
    )


def handle_take_ownership(
    ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond, context: BoltContext
) -> None:
    services = services_of(context)
    run_for_incident(
        ack,
        body,
        respond,
        services,
        lambda incident_id, user: use.take_over_incident(services, incident_id, user),
        client,
    )


def handle_mark_systemic(
    ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond, context: BoltContext
) -> None:
    services = services_of(context)
    run_for_incident(
        ack, body, respond, services, lambda incident_id, user: use.mark_systemic(services, incident_id, user), client
    )


MODAL_BUTTONS = (
    IncidentAction.ADD_DETAILS,
    IncidentAction.LOG_STEP,
    IncidentAction.CHANGE_STATUS,
    IncidentAction.ISOLATE,
    IncidentAction.CLIENT_UPDATE,
    IncidentAction.ESCALATE,
    IncidentAction.START_WORKAROUND,
    IncidentAction.WORKAROUND_PROGRESS,
    IncidentAction.RESOLVE,
    IncidentAction.FILE_FEEDBACK,
)


def checkin_of(body: dict[str, Any]) -> tuple[int, int] | None:
    """(workaround id, check-in number) from a check-in button's value."""
    value = str((body.get("actions") or [{}])[0].get("value", ""))
    typed_workaround, _, typed_number = value.partition(":")
    workaround, number = whole_number(typed_workaround), whole_number(typed_number or "0")
    return (workaround, number) if workaround is not None and number is not None else None


def answer_button(outcome: AttemptOutcome) -> Callable[..., None]:
    def handler(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond, context: BoltContext) -> None:
        ack()
        services, found = services_of(context), checkin_of(body)
        if found is None:
            tell(respond, "That check-in no longer exists.", body=body, client=client)
            return
        workaround_id, number = found
        try:
            incident_id = incident_of_workaround(services, workaround_id)
            workaround_uses.answer(services, incident_id, workaround_id, number, outcome, body["user"]["id"], None)
        except DomainError as exc:
            tell(respond, str(exc), body=body, client=client)
            return
        deliver_pending(services, incident_id)

    handler.__name__ = f"answer_{outcome.value}"
    return handler


def handle_error_changed(
    ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond, context: BoltContext
) -> None:
    ack()
    services, found = services_of(context), checkin_of(body)
    if found is None:
        tell(respond, "That check-in no longer exists.", body=body, client=client)
        return
    workaround_id, number = found
    try:
        incident_id = incident_of_workaround(services, workaround_id)
        permit_on_incident(services, Action.WORK, body["user"]["id"], incident_id)
        with unit_of_work(services.session_factory) as session:
            incident = load_incident(session, incident_id, services.workspace)
            answered = workaround_uses.answer_to(services, session, incident, workaround_id, number)
            if answered is not None:
                raise DomainError(answered)
            view = error_changed_modal(incident, workaround_id, number)
    except DomainError as exc:
        tell(respond, str(exc), body=body, client=client)
        return
    client.views_open(trigger_id=body["trigger_id"], view=view)


def timebox_button(stop: bool) -> Callable[..., None]:
    def handler(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond, context: BoltContext) -> None:
        ack()
        services, found = services_of(context), checkin_of(body)
        if found is None:
            tell(respond, "That workaround no longer exists.", body=body, client=client)
            return
        (workaround_id, prompt), user = found, body["user"]["id"]
        try:
            incident_id = incident_of_workaround(services, workaround_id)
            if stop:
                workaround_uses.stop(services, incident_id, workaround_id, user, prompt=prompt)
                client.views_open(
                    trigger_id=body["trigger_id"],
                    view=_modal_view(services, IncidentAction.START_WORKAROUND, incident_id, user),
                )
            elif not workaround_uses.extend_timebox(
                services, incident_id, workaround_id, user, prompt=prompt, once=request_key(body)
            ):
                return  # the same click again: done the first time
        except DomainError as exc:
            tell(respond, str(exc), body=body, client=client)
            return
        deliver_pending(services, incident_id)

    handler.__name__ = "stop_workaround" if stop else "extend_timebox"
    return handler


def channel_of(body: dict[str, Any]) -> str | None:
    """The channel the clicked message was shown in (an ephemeral message has no other trace of it)."""
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")
    return channel if isinstance(channel, str) and channel else None


def handle_post_report(ack: Ack, body: dict[str, Any], respond: Respond, context: BoltContext) -> None:
    """Post the report in the channel: the clicker, the channel and the period are all checked again."""
    ack()
    services = services_of(context)
    days, channel = whole_number(str((body.get("actions") or [{}])[0].get("value", ""))), channel_of(body)
    if days is None or channel is None:
        tell(respond, "That button no longer works. Ask again with `/triage report 30d`.")
        return
    try:
        answer = post_report(services, ReportRequest(validate_days(days), channel), body["user"]["id"])
    except DomainError as exc:
        answer = str(exc)
    tell(respond, answer)


def register(app: App) -> None:
    app.action(ReportAction.POST_IN_CHANNEL.value)(handle_post_report)
    app.action(IncidentAction.ACKNOWLEDGE.value)(handle_acknowledge)
    app.action(IncidentAction.TAKE_OWNERSHIP.value)(handle_take_ownership)
    app.action(IncidentAction.MARK_SYSTEMIC.value)(handle_mark_systemic)
    for action in MODAL_BUTTONS:
        app.action(action.value)(open_incident_modal(action))
    app.action(WorkaroundAction.WORKED.value)(answer_button(AttemptOutcome.WORKED))
    app.action(WorkaroundAction.STILL_FAILING.value)(answer_button(AttemptOutcome.STILL_FAILING))
    app.action(WorkaroundAction.ERROR_CHANGED.value)(handle_error_changed)
    app.action(WorkaroundAction.EXTEND.value)(timebox_button(stop=False))
    app.action(WorkaroundAction.STOP.value)(timebox_button(stop=True))
