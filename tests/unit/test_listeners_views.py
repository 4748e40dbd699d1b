"""Unit tests of the modal-submission listeners (bot/listeners/views.py), with a mocked ack and patched use cases:
each parses the form, answers a bad one with `response_action: errors` on its inputs (nothing applied), else calls
its use case with what was typed, acknowledges, and sends what the change queued."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from unittest.mock import ANY, MagicMock, Mock, patch

import pytest
from slack_sdk.models.views import View
from sqlalchemy.exc import OperationalError

from blocks.escalation import declare_modal, engineering_modal, escalate_modal, feedback_modal
from blocks.ids import CallbackId, IncidentModal
from blocks.incident_modals import (
    add_details_modal,
    change_status_modal,
    client_update_modal,
    isolate_modal,
    log_step_modal,
)
from blocks.new_incident import ModalContext, cannot_post_there, new_incident_modal
from blocks.resolution import resolve_modal
from blocks.workarounds import error_changed_modal, progress_modal, start_workaround_modal
from bot.domain.channels import ChannelReach
from bot.domain.errors import DomainError
from bot.domain.escalations import FeedbackForm
from bot.domain.handoff import HandoffForm
from bot.domain.incidents import ReportField
from bot.domain.isolation import Isolation, SimilarIncident
from bot.domain.triage import NOT_OFFERED, LoggedStep, ScopeDecision, StepKind, StepOutcome
from bot.domain.workarounds import StartForm
from bot.listeners import views
from bot.listeners.replays import request_key
from bot.models import (
    AttemptOutcome,
    EscalationKind,
    FeedbackTrack,
    IncidentStatus,
    Scope,
    Severity,
    Workaround,
    WorkaroundKind,
)
from bot.services import forms, incident_actions, incidents, resolution, workarounds
from bot.services.escalation import engineering, product_feedback
from bot.services.escalation import incident_management as major_incident
from bot.services.incidents import Opening, Submission
from tests.builders import an_incident
from tests.conftest import T0
from tests.unit.listener_kit import CHANNEL, INCIDENT_ID, TEAM, USER, VIEW_ID, Call, Recorder, metadata, submission

INCIDENT = an_incident()
NEW_INCIDENT = {
    "client": "Hartley & Moss LLP",
    "title": "Exhibit upload fails at 99%",
    "severity": "SEV1",
    "deadline": int((T0 + timedelta(hours=2)).timestamp()),
    "blocker": "The 250 MB exhibit bundle stops at 99%.",
    "frequency": "every time",
}


@pytest.fixture
def call() -> Call:
    return Call()


@pytest.fixture
def deliver() -> Any:
    with patch.object(views, "deliver_pending", autospec=True) as deliver:
        yield deliver


def submit(handler: Any, call: Call, body: dict[str, Any], view: dict[str, Any]) -> None:
    call.run(handler, body=body, view=view)


def errors_acked(call: Call) -> dict[str, str]:
    """The `errors` of the one acknowledgement, which must have been `response_action: errors`."""
    call.ack.assert_called_once()
    assert call.ack.call_args.kwargs["response_action"] == "errors"
    errors: dict[str, str] = call.ack.call_args.kwargs["errors"]
    return errors


# --- the new-incident form ---------------------------------------------------------------------------------------


def new_incident_form(*, unreachable: ChannelReach | None = None) -> dict[str, Any]:
    return new_incident_modal(channel_id=CHANNEL, unreachable=unreachable)


@pytest.fixture
def opening() -> Any:
    with (
        patch.object(incidents, "open_where_it_can_post", autospec=True) as open_it,
        patch.object(incidents, "after_opening", autospec=True) as after,
    ):
        yield open_it, after


def test_a_valid_new_incident_is_opened_then_acknowledged_then_posted(call: Call, opening: Any) -> None:
    open_it, after = opening
    opened = MagicMock(name="opened")
    open_it.return_value = Opening(opened, ChannelReach.POSTABLE, chosen=False)
    events = Mock()
    events.attach_mock(call.ack, "ack")
    events.attach_mock(after, "after_opening")
    submit(views.handle_new_incident, call, *submission(new_incident_form(), NEW_INCIDENT))
    open_it.assert_called_once_with(call.services, ANY)
    sent: Submission = open_it.call_args.args[1]
    assert (sent.typed_in, sent.chosen, sent.reporter_id, sent.team_id) == (CHANNEL, None, USER, TEAM)
    assert sent.submission_key == f"view:{TEAM}:{VIEW_ID}"
    assert (sent.report.title, sent.report.severity, sent.report.client_name) == (
        "Exhibit upload fails at 99%",
        Severity.SEV1,
        "Hartley & Moss LLP",
    )
    assert [c[0] for c in events.mock_calls] == ["ack", "after_opening"]
    call.ack.assert_called_once_with()
    after.assert_called_once_with(call.services, opened)


def test_a_new_incident_with_problems_is_answered_on_its_inputs_and_not_opened(call: Call, opening: Any) -> None:
    open_it, after = opening
    submit(views.handle_new_incident, call, *submission(new_incident_form(), {**NEW_INCIDENT, "title": None}))
    assert set(errors_acked(call)) == {ReportField.TITLE.value}
    open_it.assert_not_called()
    after.assert_not_called()


def test_a_form_asking_for_a_channel_needs_one(call: Call, opening: Any) -> None:
    form = new_incident_form(unreachable=ChannelReach.NOT_A_MEMBER)
    submit(views.handle_new_incident, call, *submission(form, {**NEW_INCIDENT, "post_in": None}))
    assert errors_acked(call) == {"post_in": "Choose a channel for the incident."}
    opening[0].assert_not_called()


def test_a_chosen_channel_the_bot_cannot_post_in_is_an_error_on_the_choice(call: Call, opening: Any) -> None:
    open_it, after = opening
    open_it.return_value = Opening(None, ChannelReach.ARCHIVED, chosen=True)
    form = new_incident_form(unreachable=ChannelReach.NOT_A_MEMBER)
    submit(views.handle_new_incident, call, *submission(form, {**NEW_INCIDENT, "post_in": "COTHER"}))
    assert open_it.call_args.args[1].chosen == "COTHER"
    assert errors_acked(call) == {"post_in": cannot_post_there(ChannelReach.ARCHIVED)}
    after.assert_not_called()


def test_when_the_bot_cannot_post_where_triage_was_typed_the_form_asks_for_a_channel(call: Call, opening: Any) -> None:
    opening[0].return_value = Opening(None, ChannelReach.NOT_A_MEMBER, chosen=False)
    submit(views.handle_new_incident, call, *submission(new_incident_form(), NEW_INCIDENT))
    call.ack.assert_called_once_with(response_action="update", view=ANY)
    asked = call.ack.call_args.kwargs["view"]
    assert "post_in" in {b.get("block_id") for b in asked["blocks"]}
    opening[1].assert_not_called()


def test_a_new_incident_the_database_cannot_store_keeps_the_form_open(call: Call, opening: Any) -> None:
    opening[0].side_effect = OperationalError("INSERT", {}, Exception("down"))
    submit(views.handle_new_incident, call, *submission(new_incident_form(), NEW_INCIDENT))
    assert errors_acked(call) == {"title": views.SAVE_FAILED}
    opening[1].assert_not_called()


def test_a_form_whose_metadata_is_unreadable_is_answered_on_its_title(call: Call, opening: Any) -> None:
    submit(views.handle_new_incident, call, *submission(new_incident_form(), NEW_INCIDENT, metadata="{}"))
    assert set(errors_acked(call)) == {"title"}
    opening[0].assert_not_called()
    assert ModalContext.load(json.dumps({"channel_id": CHANNEL})).channel_id == CHANNEL


# --- forms about one incident: answer_incident_modal ---------------------------------------------------------------


def test_a_logged_step_is_applied_once_then_acknowledged_then_sent(call: Call, deliver: Any) -> None:
    values = {"step_kind": "reproduction", "step_description": "Uploaded a 300 MB file", "step_outcome": "confirmed"}
    body, view = submission(log_step_modal(INCIDENT), values)
    with patch.object(incident_actions, "log_incident_step", autospec=True) as log:
        submit(views.handle_log_step, call, body, view)
    step = LoggedStep(StepKind.REPRODUCTION, "Uploaded a 300 MB file", StepOutcome.CONFIRMED)
    log.assert_called_once_with(call.services, INCIDENT_ID, USER, step, once=request_key(body))
    call.ack.assert_called_once_with()
    deliver.assert_called_once_with(call.services, INCIDENT_ID)


def test_an_empty_step_is_answered_on_its_inputs_and_nothing_is_applied(call: Call, deliver: Any) -> None:
    values = {"step_kind": None, "step_description": "", "step_outcome": None}
    with patch.object(incident_actions, "log_incident_step", autospec=True) as log:
        submit(views.handle_log_step, call, *submission(log_step_modal(INCIDENT), values))
    assert errors_acked(call) == {
        "step_description": "Say what was done or supposed.",
        "step_kind": "Choose what it is.",
        "step_outcome": "Choose the outcome.",
    }
    log.assert_not_called()
    deliver.assert_not_called()


@pytest.mark.parametrize(
    ("error", "shown"),
    [
        (DomainError("INC-7 is resolved; it can't be changed."), "INC-7 is resolved; it can't be changed."),
        (OperationalError("UPDATE", {}, Exception("down")), views.SAVE_FAILED),
    ],
)
def test_a_refused_or_unsaved_change_is_shown_on_the_form(
    call: Call, deliver: Any, error: Exception, shown: str
) -> None:
    values = {"step_kind": "hypothesis", "step_description": "Proxy timeout", "step_outcome": "inconclusive"}
    with patch.object(incident_actions, "log_incident_step", autospec=True, side_effect=error):
        submit(views.handle_log_step, call, *submission(log_step_modal(INCIDENT), values))
    assert errors_acked(call) == {"step_description": shown}
    deliver.assert_not_called()


def test_a_status_change_is_applied(call: Call, deliver: Any) -> None:
    values = {"status": "investigating", "severity": "SEV1", "reason": "Court filing at 17:00"}
    with patch.object(incident_actions, "change_status_and_severity", autospec=True) as change:
        submit(views.handle_change_status, call, *submission(change_status_modal(INCIDENT), values))
    request = change.call_args.args[3]
    assert change.call_args.args[:3] == (call.services, INCIDENT_ID, USER)
    assert (request.status, request.severity, request.reason) == (
        IncidentStatus.INVESTIGATING,
        Severity.SEV1,
        "Court filing at 17:00",
    )
    call.ack.assert_called_once_with()
    deliver.assert_called_once_with(call.services, INCIDENT_ID)


def test_details_are_stored_then_sent_then_looked_around(call: Call, deliver: Any) -> None:
    form = add_details_modal(INCIDENT, ["browser"])
    with (
        patch.object(incident_actions, "add_incident_details", autospec=True, return_value={}) as add,
        patch.object(incidents, "post_findings", autospec=True) as findings,
    ):
        submit(views.handle_add_details, call, *submission(form, {"browser": "Firefox 128"}))
    assert add.call_args.args[:3] == (call.services, INCIDENT_ID, USER)
    assert add.call_args.args[3].environment.browser == "Firefox 128"
    call.ack.assert_called_once_with()
    deliver.assert_called_once_with(call.services, INCIDENT_ID)
    findings.assert_called_once_with(call.services, INCIDENT_ID, correlation=False)


def test_details_with_problems_are_answered_on_their_inputs(call: Call, deliver: Any) -> None:
    problems = {ReportField.FILE_SIZE: "Enter a size such as 250 MB."}
    with patch.object(incident_actions, "add_incident_details", autospec=True, return_value=problems):
        submit(views.handle_add_details, call, *submission(add_details_modal(INCIDENT, []), {"file_size": "big"}))
    assert errors_acked(call) == {"file_size": "Enter a size such as 250 MB."}
    deliver.assert_not_called()


def an_isolate_form() -> View:
    similar = SimilarIncident(12, "INC-12", "Acme", "Uploads fail", "new", T0, ("region eu-west",), 0.4)
    return isolate_modal(INCIDENT, Isolation([similar], timedelta(hours=2), 1, "One other", likely_systemic=False))


def test_a_scope_decision_links_only_incidents_the_form_offered(call: Call, deliver: Any) -> None:
    with patch.object(incident_actions, "decide_scope", autospec=True) as decide:
        submit(views.handle_isolate, call, *submission(an_isolate_form(), {"scope": "systemic", "related": ["12"]}))
        decide.assert_called_once_with(call.services, INCIDENT_ID, USER, ScopeDecision(Scope.SYSTEMIC, [12]))
        call.ack.assert_called_once_with()

        other = Call()
        body, view = submission(an_isolate_form(), {"scope": "systemic"}, metadata=metadata(offered=[14]))
        view["state"]["values"]["related"] = {"related": {"type": "checkboxes", "selected_options": [{"value": "12"}]}}
        submit(views.handle_isolate, other, body, view)
    assert errors_acked(other) == {"related": NOT_OFFERED}
    assert decide.call_count == 1


def test_a_client_update_needs_its_text(call: Call, deliver: Any) -> None:
    form = client_update_modal(INCIDENT, "Draft", "16:00")
    with patch.object(incident_actions, "send_client_update", autospec=True) as send:
        submit(views.handle_client_update, call, *submission(form, {"update_text": ""}))
        assert errors_acked(call) == {"update_text": "Write the update the client received."}
        send.assert_not_called()
        sent = Call()
        submit(views.handle_client_update, sent, *submission(form, {"update_text": "We found the cause."}))
    send.assert_called_once_with(sent.services, INCIDENT_ID, USER, "We found the cause.")
    sent.ack.assert_called_once_with()


# --- escalation ----------------------------------------------------------------------------------------------------


def test_the_path_chooser_asks_the_service_what_follows(call: Call, deliver: Any) -> None:
    next_form = View(type="modal", callback_id="engineering", title="Engineering", blocks=[])
    with patch.object(forms, "escalation_path_form", autospec=True, return_value=next_form) as path_form:
        submit(
            views.handle_escalate, call, *submission(escalate_modal(INCIDENT, []), {"escalation_path": "engineering"})
        )
    path_form.assert_called_once_with(call.services, INCIDENT_ID, EscalationKind.ENGINEERING, USER)
    call.ack.assert_called_once_with(response_action="update", view=next_form)
    deliver.assert_not_called()


def test_a_path_with_nothing_more_to_ask_closes_the_form_and_sends(call: Call, deliver: Any) -> None:
    with patch.object(forms, "escalation_path_form", autospec=True, return_value=None):
        submit(views.handle_escalate, call, *submission(escalate_modal(INCIDENT, []), {"escalation_path": "internal"}))
    call.ack.assert_called_once_with()
    deliver.assert_called_once_with(call.services, INCIDENT_ID)


def test_no_path_or_a_refused_one_is_answered_on_the_chooser(call: Call, deliver: Any) -> None:
    form = escalate_modal(INCIDENT, [])
    refusal = DomainError("INC-7 is already escalated to engineering: ENG-12.")
    with patch.object(forms, "escalation_path_form", autospec=True, side_effect=refusal) as path_form:
        submit(views.handle_escalate, call, *submission(form, {"escalation_path": None}))
        assert errors_acked(call) == {"escalation_path": "Choose a path."}
        path_form.assert_not_called()
        refused = Call()
        submit(views.handle_escalate, refused, *submission(form, {"escalation_path": "engineering"}))
    assert errors_acked(refused) == {"escalation_path": str(refusal)}
    deliver.assert_not_called()


def test_the_engineering_handoff_needs_what_engineering_acts_on(call: Call, deliver: Any) -> None:
    form = engineering_modal(INCIDENT, HandoffForm("1. ", "", "", "", "", ""), "High", "ENG", jira_configured=True)
    filled = {"reproduction": "1. Upload", "expected": "Done", "actual": "99%", "impact": "Filing due"}
    with patch.object(engineering, "hand_off_to_engineering", autospec=True) as hand_off:
        submit(views.handle_engineering, call, *submission(form, {}))
        assert set(errors_acked(call)) == {"reproduction", "expected", "actual", "impact"}
        hand_off.assert_not_called()
        sent = Call()
        submit(views.handle_engineering, sent, *submission(form, filled))
    expected_form = HandoffForm("1. Upload", "Done", "99%", "", "", "Filing due")
    hand_off.assert_called_once_with(sent.services, INCIDENT_ID, USER, expected_form)
    sent.ack.assert_called_once_with()


def test_feedback_is_filed_for_a_listed_area_with_the_submission_as_its_identity(call: Call, deliver: Any) -> None:
    form = feedback_modal(INCIDENT, ["uploads"], "Upload a bundle")
    values = {"track": "stability", "area": "uploads", "use_case": "Upload a bundle"}
    with patch.object(product_feedback, "file_feedback", autospec=True) as file_it:
        submit(views.handle_feedback, call, *submission(form, values))
    feedback = FeedbackForm(FeedbackTrack.STABILITY, "uploads", "Upload a bundle")
    file_it.assert_called_once_with(call.services, INCIDENT_ID, USER, feedback, VIEW_ID)
    call.ack.assert_called_once_with()


def test_feedback_for_an_area_no_longer_configured_is_refused_on_the_area(call: Call, deliver: Any) -> None:
    form = feedback_modal(INCIDENT, ["uploads", "billing"], "")
    values = {"track": "messaging", "area": "billing", "use_case": "Invoices"}
    with patch.object(product_feedback, "file_feedback", autospec=True) as file_it:
        submit(views.handle_feedback, call, *submission(form, values))  # the settings list only "uploads"
    assert errors_acked(call) == {"area": "Choose a product area from the list."}
    file_it.assert_not_called()


def test_declaring_checks_before_closing_and_sets_up_after(call: Call) -> None:
    with (
        patch.object(major_incident, "check_can_declare", autospec=True) as check,
        patch.object(major_incident, "declare_major_incident", autospec=True) as declare,
    ):
        events = Mock()
        events.attach_mock(call.ack, "ack")
        events.attach_mock(declare, "declare")
        submit(views.handle_declare, call, *submission(declare_modal(INCIDENT, None), {"lead": "ULEAD"}))
    check.assert_called_once_with(call.services, INCIDENT_ID, USER)
    assert [c[0] for c in events.mock_calls] == ["ack", "declare"]
    declare.assert_called_once_with(call.services, INCIDENT_ID, USER, "ULEAD")


def test_declaring_without_a_lead_or_permission_is_answered_on_the_lead(call: Call) -> None:
    refusal = DomainError("Only admins and declarers may declare a major incident.")
    with (
        patch.object(major_incident, "check_can_declare", autospec=True, side_effect=refusal),
        patch.object(major_incident, "declare_major_incident", autospec=True) as declare,
    ):
        submit(views.handle_declare, call, *submission(declare_modal(INCIDENT, None), {"lead": None}))
        assert errors_acked(call) == {"lead": "Choose the incident lead."}
        refused = Call()
        submit(views.handle_declare, refused, *submission(declare_modal(INCIDENT, None), {"lead": "ULEAD"}))
    assert errors_acked(refused) == {"lead": str(refusal)}
    declare.assert_not_called()


# --- resolve and workarounds ----------------------------------------------------------------------------------------


def test_a_resolution_is_checked_on_the_form_then_applied(call: Call, deliver: Any) -> None:
    form = resolve_modal(INCIDENT)
    with patch.object(resolution, "resolve", autospec=True) as resolve:
        submit(views.handle_resolve, call, *submission(form, {"root_cause": "", "resolution": "Proxy raised"}))
        assert errors_acked(call) == {"root_cause": "Say what caused it (or what is known so far)."}
        resolve.assert_not_called()
        done = Call()
        submit(views.handle_resolve, done, *submission(form, {"root_cause": "Proxy timeout", "resolution": "Raised"}))
    resolved = resolve.call_args.args[3]
    assert resolve.call_args.args[:3] == (done.services, INCIDENT_ID, USER)
    assert (resolved.root_cause, resolved.resolution) == ("Proxy timeout", "Raised")
    done.ack.assert_called_once_with()


def test_a_workaround_is_started_from_a_complete_form(call: Call, deliver: Any) -> None:
    values = {"workaround_kind": "batching", "description": "Batches of 50", "client_expectation": "By 16:00"}
    with patch.object(workarounds, "start", autospec=True) as start:
        submit(views.handle_start_workaround, call, *submission(start_workaround_modal(INCIDENT), values))
        started = start.call_args.args[3]
        assert isinstance(started, StartForm)
        assert (started.kind, started.description, started.client_expectation) == (
            WorkaroundKind.BATCHING,
            "Batches of 50",
            "By 16:00",
        )
        call.ack.assert_called_once_with()
        missing = Call()
        submit(
            views.handle_start_workaround, missing, *submission(start_workaround_modal(INCIDENT), {"description": ""})
        )
    assert set(errors_acked(missing)) == {"description", "client_expectation"}
    assert start.call_count == 1


def test_a_changed_error_answers_the_check_in_the_button_named(call: Call, deliver: Any) -> None:
    form = error_changed_modal(INCIDENT, 3, 2)
    with patch.object(workarounds, "answer", autospec=True) as answer:
        submit(views.handle_error_changed, call, *submission(form, {"error_text": ""}))
        assert errors_acked(call) == {"error_text": "Paste the error as it shows now."}
        answer.assert_not_called()
        sent = Call()
        submit(views.handle_error_changed, sent, *submission(form, {"error_text": "HTTP 502"}))
    answer.assert_called_once_with(sent.services, INCIDENT_ID, 3, 2, AttemptOutcome.ERROR_CHANGED, USER, "HTTP 502")
    sent.ack.assert_called_once_with()


def test_progress_is_saved_on_the_workaround_of_the_form(call: Call, deliver: Any) -> None:
    workaround = Workaround(id=3, incident_id=INCIDENT_ID, kind=WorkaroundKind.BATCHING, description="Batches")
    form = progress_modal(INCIDENT, workaround)
    with patch.object(workarounds, "save_progress", autospec=True) as save:
        submit(views.handle_progress, call, *submission(form, {"batches_done": "4", "batches_total": "10"}))
    assert save.call_args.args[:4] == (call.services, INCIDENT_ID, 3, USER)
    assert (save.call_args.args[4].batches_done, save.call_args.args[4].batches_total) == (4, 10)
    call.ack.assert_called_once_with()
    deliver.assert_called_once_with(call.services, INCIDENT_ID)


def test_every_modal_has_its_listener() -> None:
    app = Recorder()
    views.register(app)  # type: ignore[arg-type]
    assert set(app.wired["view"]) == {CallbackId.NEW_INCIDENT.value} | {m.value for m in IncidentModal}
