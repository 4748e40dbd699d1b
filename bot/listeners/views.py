"""Modal submissions."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, BoltContext
from sqlalchemy.exc import SQLAlchemyError

from blocks.escalation import (
    declare_errors,
    feedback_errors,
    handoff_errors,
    path_errors,
    read_feedback,
    read_handoff,
    read_lead,
    read_path,
)
from blocks.ids import CallbackId, IncidentModal, ModalField, NewIncidentBlock, WorkaroundAction
from blocks.incident_modals import (
    client_update_errors,
    incident_id_of,
    isolation_errors,
    log_step_errors,
    metadata_id,
    read_client_update,
    read_isolation,
    read_log_step,
    read_status_change,
)
from blocks.new_incident import (
    ModalContext,
    cannot_post_there,
    field_errors,
    new_incident_errors,
    new_incident_modal,
    read_details,
    read_new_incident,
    read_post_in,
)
from blocks.resolution import read_resolve_form, resolve_form_errors
from blocks.view_state import UnreadableInput
from blocks.workarounds import (
    CHECKIN_ANSWERS,
    error_changed_errors,
    read_error_text,
    read_progress,
    read_start_workaround,
    start_workaround_errors,
)
from bot.domain.errors import DomainError
from bot.domain.incidents import ReportField
from bot.listeners.middleware import services_of
from bot.listeners.replays import request_key
from bot.services import forms, incidents
from bot.services import incident_actions as use
from bot.services import resolution as resolution_uses
from bot.services import workarounds as workaround_uses
from bot.services.changes import deliver_pending
from bot.services.container import Services
from bot.services.escalation import engineering, product_feedback
from bot.services.escalation import incident_management as major
from bot.services.incidents import Submission

logger = logging.getLogger(__name__)

SAVE_FAILED = "Couldn't save the incident just now (database unavailable). Your answers are still here: submit again."


def handle_new_incident(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    """Validate, check the bot can post there, store, acknowledge, then post — the modal closes only once the
    incident is safely stored with a channel to live in."""
    services = services_of(context)
    try:
        values = view["state"]["values"]
        report, chosen = read_new_incident(values), read_post_in(values)
        modal = ModalContext.load(view["private_metadata"])
        typed_in, source = modal.channel_id, modal.source
    except UnreadableInput as exc:
        ack(response_action="errors", errors={exc.block_id: exc.message})
        return
    problems = new_incident_errors(report, chosen, now=services.clock.now())
    if problems:
        ack(response_action="errors", errors=problems)
        return
    submission = Submission(
        report=report,
        typed_in=typed_in,
        chosen=chosen,
        reporter_id=body["user"]["id"],
        submission_key=f"view:{context.team_id}:{view['id']}",
        team_id=context.team_id,
        source=source,
    )
    try:
        opening = incidents.open_where_it_can_post(services, submission)
    except SQLAlchemyError:
        logger.exception("Storing a new incident failed")
        ack(response_action="errors", errors={ReportField.TITLE.value: SAVE_FAILED})
        return
    if opening.opened is None and opening.chosen:
        ack(response_action="errors", errors={NewIncidentBlock.POST_IN.value: cannot_post_there(opening.reach)})
        return
    if opening.opened is None:  # the bot was removed, or Slack couldn't say when the form opened: ask for a channel
        view_now = new_incident_modal(channel_id=typed_in, unreachable=opening.reach, source=source)
        ack(response_action="update", view=view_now)
        return
    ack()
    incidents.after_opening(services, opening.opened)


def answer_incident_modal(
    ack: Ack,
    view: dict[str, Any],
    context: BoltContext,
    error_block: str,
    change: Callable[[Services, int], object],
    *,
    problems: dict[str, str] | None = None,
) -> None:
    """Apply the change before closing the modal, so a refusal is shown on the form, never lost.

    `problems` (block id -> message) found while reading the form are answered first, and nothing is applied.
    """
    if problems:
        ack(response_action="errors", errors=problems)
        return
    services = services_of(context)
    incident_id = incident_id_of(view["private_metadata"])
    try:
        change(services, incident_id)
    except DomainError as exc:
        ack(response_action="errors", errors={error_block: str(exc)[:300]})
        return
    except SQLAlchemyError:
        logger.exception("Saving a change to INC-%s failed", incident_id)
        ack(response_action="errors", errors={error_block: SAVE_FAILED})
        return
    ack()
    deliver_pending(services, incident_id)


def handle_log_step(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    step = read_log_step(view["state"]["values"])
    user, once = body["user"]["id"], request_key(body)
    answer_incident_modal(
        ack,
        view,
        context,
        ModalField.STEP_DESCRIPTION.value,
        lambda s, i: use.log_incident_step(s, i, user, step, once=once),
        problems=log_step_errors(step),
    )


def handle_change_status(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    request = read_status_change(view["state"]["values"])
    user = body["user"]["id"]
    answer_incident_modal(
        ack, view, context, ModalField.STATUS.value, lambda s, i: use.change_status_and_severity(s, i, user, request)
    )


def handle_add_details(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    services = services_of(context)
    incident_id = incident_id_of(view["private_metadata"])
    details = read_details(view["state"]["values"])
    try:
        problems = use.add_incident_details(services, incident_id, body["user"]["id"], details)
    except DomainError as exc:
        ack(response_action="errors", errors={ReportField.WORKFLOW.value: str(exc)[:300]})
        return
    if problems:
        ack(response_action="errors", errors=field_errors(problems))
        return
    ack()
    deliver_pending(services, incident_id)
    incidents.post_findings(services, incident_id, correlation=False)


def handle_isolate(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    decision, user = read_isolation(view["state"]["values"]), body["user"]["id"]
    answer_incident_modal(
        ack,
        view,
        context,
        ModalField.SCOPE.value,
        lambda s, i: use.decide_scope(s, i, user, decision),
        problems=isolation_errors(decision, view["private_metadata"]),
    )


def handle_client_update(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    text, user = read_client_update(view["state"]["values"]), body["user"]["id"]
    answer_incident_modal(
        ack,
        view,
        context,
        ModalField.UPDATE_TEXT.value,
        lambda s, i: use.send_client_update(s, i, user, text),
        problems=client_update_errors(text),
    )


def handle_escalate(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    """The path chooser: the internal notice goes at once; the other paths continue in their own form."""
    services = services_of(context)
    incident_id = incident_id_of(view["private_metadata"])
    path = read_path(view["state"]["values"])
    user = body["user"]["id"]
    problems = path_errors(path)
    if problems or path is None:  # (no path is always a problem; `is None` is for the type checker)
        ack(response_action="errors", errors=problems)
        return
    try:
        next_view = forms.escalation_path_form(services, incident_id, path, user)
    except DomainError as exc:
        ack(response_action="errors", errors={ModalField.PATH.value: str(exc)[:300]})
        return
    if next_view is None:
        ack()
        deliver_pending(services, incident_id)
        return
    ack(response_action="update", view=next_view)


def handle_engineering(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    form = read_handoff(view["state"]["values"])
    user = body["user"]["id"]
    answer_incident_modal(
        ack,
        view,
        context,
        ModalField.REPRODUCTION.value,
        lambda s, i: engineering.hand_off_to_engineering(s, i, user, form),
        problems=handoff_errors(form),
    )


def handle_feedback(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    form = read_feedback(view["state"]["values"])
    areas = services_of(context).settings.product_area_pms
    user, submission = body["user"]["id"], view["id"]
    answer_incident_modal(
        ack,
        view,
        context,
        ModalField.USE_CASE.value,
        lambda s, i: product_feedback.file_feedback(s, i, user, form, submission),
        problems=feedback_errors(form, areas),
    )


def handle_resolve(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    """Every field is checked on the form; the resolution is stored before the modal closes."""
    services = services_of(context)
    user = body["user"]["id"]
    form = read_resolve_form(view["state"]["values"], resolver_id=user)
    errors = resolve_form_errors(form, today=services.clock.now().astimezone(services.settings.display_zone).date())
    answer_incident_modal(
        ack,
        view,
        context,
        ModalField.ROOT_CAUSE.value,
        lambda s, i: resolution_uses.resolve(s, i, user, form),
        problems=errors,
    )


def handle_declare(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    """Permission is checked before the form closes; the channel is set up after (several Slack calls)."""
    services = services_of(context)
    incident_id = incident_id_of(view["private_metadata"])
    lead, user = read_lead(view["state"]["values"]), body["user"]["id"]
    problems = declare_errors(lead)
    if problems or lead is None:  # (no lead is always a problem; `is None` is for the type checker)
        ack(response_action="errors", errors=problems)
        return
    try:
        major.check_can_declare(services, incident_id, user)
    except DomainError as exc:
        ack(response_action="errors", errors={ModalField.LEAD.value: str(exc)[:300]})
        return
    ack()
    major.declare_major_incident(services, incident_id, user, lead)


def handle_start_workaround(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    form = read_start_workaround(view["state"]["values"])
    user = body["user"]["id"]
    answer_incident_modal(
        ack,
        view,
        context,
        ModalField.DESCRIPTION.value,
        lambda s, i: workaround_uses.start(s, i, user, form),
        problems=start_workaround_errors(form),
    )


ERROR_CHANGED = CHECKIN_ANSWERS[WorkaroundAction.ERROR_CHANGED]  # the modal the check-in's button opened


def handle_error_changed(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    error = read_error_text(view["state"]["values"])
    meta, user = view["private_metadata"], body["user"]["id"]
    workaround_id, number = metadata_id(meta, "workaround_id"), metadata_id(meta, "number")
    answer_incident_modal(
        ack,
        view,
        context,
        ModalField.ERROR_TEXT.value,
        lambda s, i: workaround_uses.answer(s, i, workaround_id, number, ERROR_CHANGED, user, error),
        problems=error_changed_errors(error),
    )


def handle_progress(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    form = read_progress(view["state"]["values"])
    workaround_id, user = metadata_id(view["private_metadata"], "workaround_id"), body["user"]["id"]
    answer_incident_modal(
        ack,
        view,
        context,
        ModalField.PROGRESS_NOTE.value,
        lambda s, i: workaround_uses.save_progress(s, i, workaround_id, user, form),
    )


def register(app: App) -> None:
    app.view(CallbackId.NEW_INCIDENT.value)(handle_new_incident)
    app.view(IncidentModal.LOG_STEP.value)(handle_log_step)
    app.view(IncidentModal.CHANGE_STATUS.value)(handle_change_status)
    app.view(IncidentModal.ADD_DETAILS.value)(handle_add_details)
    app.view(IncidentModal.ISOLATE.value)(handle_isolate)
    app.view(IncidentModal.CLIENT_UPDATE.value)(handle_client_update)
    app.view(IncidentModal.ESCALATE.value)(handle_escalate)
    app.view(IncidentModal.ENGINEERING.value)(handle_engineering)
    app.view(IncidentModal.FEEDBACK.value)(handle_feedback)
    app.view(IncidentModal.DECLARE.value)(handle_declare)
    app.view(IncidentModal.START_WORKAROUND.value)(handle_start_workaround)
    app.view(IncidentModal.ERROR_CHANGED.value)(handle_error_changed)
    app.view(IncidentModal.PROGRESS.value)(handle_progress)
    app.view(IncidentModal.RESOLVE.value)(handle_resolve)
