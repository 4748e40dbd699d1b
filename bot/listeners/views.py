"""Modal submissions."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk.models.views import View
from sqlalchemy.exc import SQLAlchemyError

from blocks.escalation import (
    OTHER_AREA,
    declare_modal,
    engineering_modal,
    feedback_modal,
    read_feedback,
    read_handoff,
    read_lead,
    read_path,
)
from blocks.ids import CallbackId, IncidentModal, ModalField, NewIncidentBlock
from blocks.incident_modals import (
    incident_id_of,
    metadata_id,
    offered_ids,
    read_client_update,
    read_isolation,
    read_log_step,
    read_status_change,
)
from blocks.new_incident import (
    ModalContext,
    cannot_post_there,
    field_errors,
    new_incident_modal,
    read_details,
    read_new_incident,
    read_post_in,
)
from blocks.resolution import read_resolve_form, resolve_form_errors
from blocks.view_state import UnreadableInput
from blocks.workarounds import read_error_text, read_progress, read_start_workaround
from bot.db import unit_of_work
from bot.domain.errors import DomainError
from bot.domain.incidents import validate_report
from bot.listeners.middleware import services_of
from bot.listeners.replays import request_key
from bot.models import AttemptOutcome, EscalationKind
from bot.services import escalations as escalate
from bot.services import incident_actions as use
from bot.services import major_incident as major
from bot.services import resolution as resolution_uses
from bot.services import workarounds as workaround_uses
from bot.services.changes import deliver_pending, load_incident
from bot.services.channels import reach_of
from bot.services.container import Services
from bot.services.incidents import OpenRequest, deliver_for, open_and_announce, post_findings

logger = logging.getLogger(__name__)

SAVE_FAILED = "Couldn't save the incident just now (database unavailable). Your answers are still here: submit again."


def handle_new_incident(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    """Validate, check the bot can post there, store, acknowledge, then post — the modal closes only once the
    incident is safely stored with a channel to live in."""
    services = services_of(context)
    try:
        values = view["state"]["values"]
        report = read_new_incident(values)
        problems = field_errors(validate_report(report, now=services.clock.now()))
        modal = ModalContext.load(view["private_metadata"])
        typed_in, source = modal.channel_id, modal.source
        chosen = read_post_in(values)
    except UnreadableInput as exc:
        problems = {exc.block_id: exc.message}
    if problems:
        ack(response_action="errors", errors=problems)
        return
    if chosen == "":
        ack(response_action="errors", errors={NewIncidentBlock.POST_IN.value: "Choose a channel for the incident."})
        return
    channel_id = chosen or typed_in
    reach = reach_of(services, channel_id)
    if not reach.usable:
        if chosen:
            ack(response_action="errors", errors={NewIncidentBlock.POST_IN.value: cannot_post_there(reach)})
        else:  # the bot was removed, or Slack couldn't say when the form opened: ask for a channel now
            ack(
                response_action="update",
                view=new_incident_modal(channel_id=typed_in, unreachable=reach, source=source),
            )
        return
    request = OpenRequest(
        report=report,
        reporter_id=body["user"]["id"],
        channel_id=channel_id,
        submission_key=f"view:{context.team_id}:{view['id']}",
        team_id=context.team_id,
        source=source,
    )
    try:
        opened = open_and_announce(services, request)
    except SQLAlchemyError:
        logger.exception("Storing a new incident failed")
        ack(response_action="errors", errors={NewIncidentBlock.TITLE.value: SAVE_FAILED})
        return
    ack()
    deliver_for(services, opened.incident)
    if opened.created:
        post_findings(services, opened.incident.id, correlation=True)


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
    errors = {}
    if not step.description:
        errors[ModalField.STEP_DESCRIPTION.value] = "Say what was done or supposed."
    if step.kind is None:
        errors[ModalField.STEP_KIND.value] = "Choose what it is."
    if step.outcome is None:
        errors[ModalField.STEP_OUTCOME.value] = "Choose the outcome."
    user, once = body["user"]["id"], request_key(body)
    answer_incident_modal(
        ack,
        view,
        context,
        ModalField.STEP_DESCRIPTION.value,
        lambda s, i: use.log_incident_step(s, i, user, step, once=once),
        problems=errors,
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
        ack(response_action="errors", errors={NewIncidentBlock.WORKFLOW.value: str(exc)[:300]})
        return
    if problems:
        ack(response_action="errors", errors=field_errors(problems))
        return
    ack()
    deliver_pending(services, incident_id)
    post_findings(services, incident_id, correlation=False)


NOT_OFFERED = "Link only incidents from this list."


def handle_isolate(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    """Related incidents must be among those the form offered (kept in its private_metadata); the domain links
    only incidents of the same workspace whatever the form says."""
    decision = read_isolation(view["state"]["values"])
    if decision.scope is None:
        ack(response_action="errors", errors={ModalField.SCOPE.value: "Choose how far it reaches."})
        return
    if not set(decision.related_ids) <= offered_ids(view["private_metadata"]):
        ack(response_action="errors", errors={ModalField.RELATED.value: NOT_OFFERED})
        return
    user = body["user"]["id"]
    answer_incident_modal(
        ack, view, context, ModalField.SCOPE.value, lambda s, i: use.decide_scope(s, i, user, decision)
    )


def handle_client_update(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    text = read_client_update(view["state"]["values"])
    if not text:
        ack(response_action="errors", errors={ModalField.UPDATE_TEXT.value: "Write the update the client received."})
        return
    user = body["user"]["id"]
    answer_incident_modal(
        ack, view, context, ModalField.UPDATE_TEXT.value, lambda s, i: use.send_client_update(s, i, user, text)
    )


def handle_escalate(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    """The path chooser: the internal notice goes at once; the other paths continue in their own form."""
    services = services_of(context)
    incident_id = incident_id_of(view["private_metadata"])
    path = read_path(view["state"]["values"])
    user = body["user"]["id"]
    if path is None:
        ack(response_action="errors", errors={ModalField.PATH.value: "Choose a path."})
        return
    try:
        next_view = _next_escalation_view(services, incident_id, path, user)
    except DomainError as exc:
        ack(response_action="errors", errors={ModalField.PATH.value: str(exc)[:300]})
        return
    if next_view is None:
        ack()
        deliver_pending(services, incident_id)
        return
    ack(response_action="update", view=next_view)


def _next_escalation_view(services: Services, incident_id: int, path: EscalationKind, user: str) -> View | None:
    if path == EscalationKind.INTERNAL:
        escalate.notify_internal_channel(services, incident_id, user)
        return None
    if path == EscalationKind.ENGINEERING:
        draft = escalate.handoff_draft(services, incident_id)
        return engineering_modal(
            draft.incident,
            draft.form,
            draft.priority,
            services.settings.jira_project,
            jira_configured=services.settings.jira_configured,
        )
    if path == EscalationKind.PRODUCT_FEEDBACK:
        with unit_of_work(services.session_factory) as session:
            incident = load_incident(session, incident_id, services.workspace)
            return feedback_modal(incident, list(services.settings.product_area_pms), incident.blocker[:2000])
    incident = major.check_can_declare(services, incident_id, user)
    return declare_modal(incident, incident.owner_id)


def handle_engineering(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    form = read_handoff(view["state"]["values"])
    required = {
        ModalField.REPRODUCTION: form.reproduction,
        ModalField.EXPECTED: form.expected,
        ModalField.ACTUAL: form.actual,
        ModalField.IMPACT: form.impact,
    }
    missing = {f.value: "Engineering needs this to act." for f, text in required.items() if not text.strip(" 1.")}
    user = body["user"]["id"]
    answer_incident_modal(
        ack,
        view,
        context,
        ModalField.REPRODUCTION.value,
        lambda s, i: escalate.hand_off_to_engineering(s, i, user, form),
        problems=missing,
    )


def handle_feedback(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    form = read_feedback(view["state"]["values"])
    errors = {}
    if form.track is None:
        errors[ModalField.TRACK.value] = "Choose Stability, Messaging or Monitoring."
    if not form.area:
        errors[ModalField.AREA.value] = "Choose the product area."
    elif form.area not in (*services_of(context).settings.product_area_pms, OTHER_AREA):
        errors[ModalField.AREA.value] = "Choose a product area from the list."
    if not form.use_case:
        errors[ModalField.USE_CASE.value] = "Describe what the client was trying to do."
    user, submission = body["user"]["id"], view["id"]
    answer_incident_modal(
        ack,
        view,
        context,
        ModalField.USE_CASE.value,
        lambda s, i: escalate.file_feedback(s, i, user, form, submission),
        problems=errors,
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
    if lead is None:
        ack(response_action="errors", errors={ModalField.LEAD.value: "Choose the incident lead."})
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
    errors = {}
    if form.kind is None:
        errors[ModalField.WORKAROUND_KIND.value] = "Choose a workaround."
    if not form.description:
        errors[ModalField.DESCRIPTION.value] = "Say what exactly will be tried."
    if not form.client_expectation:
        errors[ModalField.EXPECTATION.value] = "Say what the client was told to expect."
    user = body["user"]["id"]
    answer_incident_modal(
        ack,
        view,
        context,
        ModalField.DESCRIPTION.value,
        lambda s, i: workaround_uses.start(s, i, user, form),
        problems=errors,
    )


def handle_error_changed(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    error = read_error_text(view["state"]["values"])
    if not error:
        ack(response_action="errors", errors={ModalField.ERROR_TEXT.value: "Paste the error as it shows now."})
        return
    meta, user = view["private_metadata"], body["user"]["id"]
    workaround_id, number = metadata_id(meta, "workaround_id"), metadata_id(meta, "number")
    answer_incident_modal(
        ack,
        view,
        context,
        ModalField.ERROR_TEXT.value,
        lambda s, i: workaround_uses.answer(s, i, workaround_id, number, AttemptOutcome.ERROR_CHANGED, user, error),
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
