"""Buttons on incident messages. Each answers within Slack's 3 s and never crashes on a stale message."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackClientError
from sqlalchemy.exc import SQLAlchemyError

from blocks.ids import EscalationAction, IncidentAction, ReportAction, WorkaroundAction
from blocks.view_state import whole_number
from blocks.workarounds import CHECKIN_ANSWERS
from bot.domain.errors import DomainError
from bot.domain.reports import validate_days
from bot.listeners.errors import DATABASE_UNREACHABLE
from bot.listeners.middleware import services_of
from bot.listeners.replays import request_key
from bot.services import forms
from bot.services import incident_actions as use
from bot.services import workarounds as workaround_uses
from bot.services.changes import deliver_pending
from bot.services.container import Services
from bot.services.escalation.tickets import RetryUnavailable, incident_of_escalation, retry_ticket
from bot.services.records import ReportRequest, post_report

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


def open_incident_modal(action: IncidentAction) -> Callable[..., None]:
    def handler(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond, context: BoltContext) -> None:
        services = services_of(context)

        def work(incident_id: int, user: str) -> None:
            client.views_open(
                trigger_id=body["trigger_id"], view=forms.button_form(services, action, incident_id, user)
            )

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


def checkin_of(body: dict[str, Any]) -> tuple[int, int] | None:
    """(workaround id, check-in number) from a check-in button's value."""
    value = str((body.get("actions") or [{}])[0].get("value", ""))
    typed_workaround, _, typed_number = value.partition(":")
    workaround, number = whole_number(typed_workaround), whole_number(typed_number or "0")
    return (workaround, number) if workaround is not None and number is not None else None


def answer_button(action: WorkaroundAction) -> Callable[..., None]:
    """Worked / Still failing on a check-in."""
    outcome = CHECKIN_ANSWERS[action]

    def handler(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond, context: BoltContext) -> None:
        ack()
        services, found = services_of(context), checkin_of(body)
        if found is None:
            tell(respond, "That check-in no longer exists.", body=body, client=client)
            return
        workaround_id, number = found
        try:
            incident_id = workaround_uses.answer_from_checkin(
                services, workaround_id, number, outcome, body["user"]["id"]
            )
        except DomainError as exc:
            tell(respond, str(exc), body=body, client=client)
            return
        deliver_pending(services, incident_id)

    handler.__name__ = f"answer_{outcome.value}"
    return handler


def handle_error_changed(
    ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond, context: BoltContext
) -> None:
    """Error changed on a check-in: a form asks for the new error (the answer is recorded on its submission)."""
    ack()
    services, found = services_of(context), checkin_of(body)
    if found is None:
        tell(respond, "That check-in no longer exists.", body=body, client=client)
        return
    workaround_id, number = found
    try:
        view = forms.error_changed_form(services, workaround_id, number, body["user"]["id"])
    except DomainError as exc:
        tell(respond, str(exc), body=body, client=client)
        return
    client.views_open(trigger_id=body["trigger_id"], view=view)


def handle_extend_timebox(
    ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond, context: BoltContext
) -> None:
    ack()
    services, found = services_of(context), checkin_of(body)
    if found is None:
        tell(respond, "That workaround no longer exists.", body=body, client=client)
        return
    workaround_id, prompt = found
    try:
        incident_id = workaround_uses.extend_from_timebox(
            services, workaround_id, body["user"]["id"], prompt=prompt, once=request_key(body)
        )
    except DomainError as exc:
        tell(respond, str(exc), body=body, client=client)
        return
    if incident_id is not None:  # else the same click again: done the first time
        deliver_pending(services, incident_id)


def handle_stop_workaround(
    ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond, context: BoltContext
) -> None:
    """Stop and switch: the workaround stops, and the form to start the next one opens."""
    ack()
    services, found = services_of(context), checkin_of(body)
    if found is None:
        tell(respond, "That workaround no longer exists.", body=body, client=client)
        return
    workaround_id, prompt = found
    try:
        stopped = forms.stop_and_choose_another(services, workaround_id, body["user"]["id"], prompt=prompt)
        client.views_open(trigger_id=body["trigger_id"], view=stopped.view)
    except DomainError as exc:
        tell(respond, str(exc), body=body, client=client)
        return
    deliver_pending(services, stopped.incident_id)


def handle_retry_escalation(
    ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond, context: BoltContext
) -> None:
    """Retry on a failed Jira escalation (its failure notice, `/triage show`): the clicker, the workspace and the
    escalation's state are checked again; the same click twice files once."""
    ack()
    services = services_of(context)
    escalation_id = whole_number(str((body.get("actions") or [{}])[0].get("value", "")))
    try:
        if escalation_id is None:
            raise RetryUnavailable()
        incident_id = incident_of_escalation(services, escalation_id)
        retry_ticket(services, incident_id, escalation_id, body["user"]["id"], once=request_key(body))
    except DomainError as exc:
        tell(respond, str(exc), body=body, client=client)
        return
    except SQLAlchemyError:
        logger.exception("Retry of escalation %s could not be handled: database error", escalation_id)
        tell(respond, DATABASE_UNREACHABLE, body=body, client=client)
        return
    deliver_pending(services, incident_id)


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
    app.action(EscalationAction.RETRY.value)(handle_retry_escalation)
    for action in forms.BUTTON_FORMS:
        app.action(action.value)(open_incident_modal(action))
    app.action(WorkaroundAction.WORKED.value)(answer_button(WorkaroundAction.WORKED))
    app.action(WorkaroundAction.STILL_FAILING.value)(answer_button(WorkaroundAction.STILL_FAILING))
    app.action(WorkaroundAction.ERROR_CHANGED.value)(handle_error_changed)
    app.action(WorkaroundAction.EXTEND.value)(handle_extend_timebox)
    app.action(WorkaroundAction.STOP.value)(handle_stop_workaround)
