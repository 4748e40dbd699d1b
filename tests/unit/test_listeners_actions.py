"""Unit tests of the button listeners (bot/listeners/actions.py), with a mocked ack, client and respond and patched
use cases: each acknowledges at once, parses the button's value, calls its use case, and answers: a form opened,
what the change queued sent, or a refusal only the clicker sees (in the thread the button was in)."""

from __future__ import annotations

from typing import Any
from unittest.mock import Mock, patch

import pytest
from slack_sdk.models.views import View
from sqlalchemy.exc import OperationalError

from blocks.ids import IncidentAction, ReportAction, WorkaroundAction
from bot.domain.errors import DomainError
from bot.listeners import actions
from bot.listeners.errors import DATABASE_UNREACHABLE
from bot.listeners.replays import request_key
from bot.models import AttemptOutcome
from bot.services import forms, incident_actions, workarounds
from bot.services.forms import NextForm
from bot.services.records import ReportRequest
from tests.unit.listener_kit import CHANNEL, INCIDENT_ID, TRIGGER, USER, Call, Recorder, click, ephemeral

A_FORM = View(type="modal", callback_id="a_form", title="A form", blocks=[])
REFUSAL = DomainError("INC-7 is resolved; it can't be changed.")


@pytest.fixture
def call() -> Call:
    return Call()


@pytest.fixture
def deliver() -> Any:
    with patch.object(actions, "deliver_pending", autospec=True) as deliver:
        yield deliver


def press(handler: Any, call: Call, body: dict[str, Any]) -> None:
    call.run(handler, body=body)


# --- buttons that open a form ------------------------------------------------------------------------------------


@pytest.mark.parametrize("action", list(forms.BUTTON_FORMS))
def test_a_form_button_opens_the_form_the_service_gives(call: Call, deliver: Any, action: IncidentAction) -> None:
    with patch.object(forms, "button_form", autospec=True, return_value=A_FORM) as button_form:
        press(actions.open_incident_modal(action), call, click(action.value, str(INCIDENT_ID)))
    call.ack.assert_called_once_with()
    button_form.assert_called_once_with(call.services, action, INCIDENT_ID, USER)
    call.client.views_open.assert_called_once_with(trigger_id=TRIGGER, view=A_FORM)
    deliver.assert_called_once_with(call.services, INCIDENT_ID)


@pytest.mark.parametrize(
    ("error", "told"),
    [(REFUSAL, str(REFUSAL)), (OperationalError("SELECT", {}, Exception("down")), DATABASE_UNREACHABLE)],
)
def test_a_refused_form_is_told_only_to_the_clicker(call: Call, deliver: Any, error: Exception, told: str) -> None:
    with patch.object(forms, "button_form", autospec=True, side_effect=error):
        press(actions.open_incident_modal(IncidentAction.LOG_STEP), call, click("incident_log_step", "7"))
    call.ack.assert_called_once_with()
    call.respond.assert_called_once_with(**ephemeral(told))
    call.client.views_open.assert_not_called()
    deliver.assert_not_called()


def test_a_refusal_on_a_thread_reply_is_told_in_that_thread(call: Call, deliver: Any) -> None:
    with patch.object(forms, "button_form", autospec=True, side_effect=REFUSAL):
        body = click("incident_log_step", "7", thread_ts="1700000000.000100")
        press(actions.open_incident_modal(IncidentAction.LOG_STEP), call, body)
    call.client.chat_postEphemeral.assert_called_once_with(
        channel=CHANNEL, user=USER, text=str(REFUSAL), thread_ts="1700000000.000100"
    )
    call.respond.assert_not_called()


def test_a_button_pointing_at_no_incident_is_answered_without_a_use_case(call: Call, deliver: Any) -> None:
    with patch.object(forms, "button_form", autospec=True) as button_form:
        press(actions.open_incident_modal(IncidentAction.RESOLVE), call, click("incident_resolve", "INC-7"))
    call.ack.assert_called_once_with()
    button_form.assert_not_called()
    assert "no longer points at an incident" in call.respond.call_args.kwargs["text"]


# --- buttons that change the incident -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("handler", "use_case"),
    [
        (actions.handle_acknowledge, "acknowledge_incident"),
        (actions.handle_take_ownership, "take_over_incident"),
        (actions.handle_mark_systemic, "mark_systemic"),
    ],
)
def test_a_one_click_change_is_applied_then_sent(call: Call, deliver: Any, handler: Any, use_case: str) -> None:
    with patch.object(incident_actions, use_case, autospec=True) as change:
        press(handler, call, click("incident_x", str(INCIDENT_ID)))
    call.ack.assert_called_once_with()
    change.assert_called_once_with(call.services, INCIDENT_ID, USER)
    deliver.assert_called_once_with(call.services, INCIDENT_ID)


def test_a_refused_change_is_told_and_nothing_is_sent(call: Call, deliver: Any) -> None:
    with patch.object(incident_actions, "take_over_incident", autospec=True, side_effect=DomainError("You own it.")):
        press(actions.handle_take_ownership, call, click("incident_take_ownership", "7"))
    call.respond.assert_called_once_with(**ephemeral("You own it."))
    deliver.assert_not_called()


# --- workaround questions -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "outcome"),
    [(WorkaroundAction.WORKED, AttemptOutcome.WORKED), (WorkaroundAction.STILL_FAILING, AttemptOutcome.STILL_FAILING)],
)
def test_a_check_in_answer_names_the_workaround_and_the_retry(
    call: Call, deliver: Any, action: WorkaroundAction, outcome: AttemptOutcome
) -> None:
    with patch.object(workarounds, "answer_from_checkin", autospec=True, return_value=INCIDENT_ID) as answer:
        press(actions.answer_button(action), call, click(action.value, "3:2"))
    call.ack.assert_called_once_with()
    answer.assert_called_once_with(call.services, 3, 2, outcome, USER)
    deliver.assert_called_once_with(call.services, INCIDENT_ID)


def test_a_check_in_button_with_an_unreadable_value_is_answered_plainly(call: Call, deliver: Any) -> None:
    with patch.object(workarounds, "answer_from_checkin", autospec=True) as answer:
        press(actions.answer_button(WorkaroundAction.WORKED), call, click("checkin_worked", "3:x"))
    answer.assert_not_called()
    call.respond.assert_called_once_with(**ephemeral("That check-in no longer exists."))


def test_an_answered_check_in_is_told_and_nothing_is_sent(call: Call, deliver: Any) -> None:
    answered = DomainError("Retry #2 was already answered: worked.")
    with patch.object(workarounds, "answer_from_checkin", autospec=True, side_effect=answered):
        press(actions.answer_button(WorkaroundAction.WORKED), call, click("checkin_worked", "3:2"))
    call.respond.assert_called_once_with(**ephemeral(str(answered)))
    deliver.assert_not_called()


def test_error_changed_opens_the_form_for_the_new_error(call: Call) -> None:
    with patch.object(forms, "error_changed_form", autospec=True, return_value=A_FORM) as form:
        press(actions.handle_error_changed, call, click("checkin_error_changed", "3:2"))
    call.ack.assert_called_once_with()
    form.assert_called_once_with(call.services, 3, 2, USER)
    call.client.views_open.assert_called_once_with(trigger_id=TRIGGER, view=A_FORM)


def test_extending_the_time_box_is_applied_once(call: Call, deliver: Any) -> None:
    body = click("timebox_extend", "3:41")
    with patch.object(workarounds, "extend_from_timebox", autospec=True, return_value=INCIDENT_ID) as extend:
        press(actions.handle_extend_timebox, call, body)
        extend.assert_called_once_with(call.services, 3, USER, prompt=41, once=request_key(body))
        deliver.assert_called_once_with(call.services, INCIDENT_ID)
        extend.return_value = None  # the same click again
        again = Call()
        press(actions.handle_extend_timebox, again, body)
    again.ack.assert_called_once_with()
    assert deliver.call_count == 1
    again.respond.assert_not_called()


def test_stop_and_switch_opens_the_next_form_then_sends(call: Call, deliver: Any) -> None:
    events = Mock()
    events.attach_mock(call.client.views_open, "views_open")
    events.attach_mock(deliver, "deliver")
    with patch.object(
        forms, "stop_and_choose_another", autospec=True, return_value=NextForm(INCIDENT_ID, A_FORM)
    ) as stop:
        press(actions.handle_stop_workaround, call, click("timebox_stop", "3:41"))
    stop.assert_called_once_with(call.services, 3, USER, prompt=41)
    assert [c[0] for c in events.mock_calls] == ["views_open", "deliver"]
    call.client.views_open.assert_called_once_with(trigger_id=TRIGGER, view=A_FORM)


# --- the report's button --------------------------------------------------------------------------------------------


def test_posting_the_report_checks_the_period_and_answers_the_clicker(call: Call) -> None:
    with patch.object(actions, "post_report", autospec=True, return_value="Posted the report.") as post:
        press(actions.handle_post_report, call, click(ReportAction.POST_IN_CHANNEL.value, "30"))
    call.ack.assert_called_once_with()
    post.assert_called_once_with(call.services, ReportRequest(30, CHANNEL), USER)
    call.respond.assert_called_once_with(**ephemeral("Posted the report."))


def test_a_report_button_with_an_unreadable_period_posts_nothing(call: Call) -> None:
    with patch.object(actions, "post_report", autospec=True) as post:
        press(actions.handle_post_report, call, click(ReportAction.POST_IN_CHANNEL.value, "thirty"))
    post.assert_not_called()
    assert "no longer works" in call.respond.call_args.kwargs["text"]


def test_every_button_has_its_listener() -> None:
    app = Recorder()
    actions.register(app)  # type: ignore[arg-type]
    wired = set(app.wired["action"])
    assert {a.value for a in forms.BUTTON_FORMS} <= wired
    assert {a.value for a in WorkaroundAction} <= wired
    assert {
        IncidentAction.ACKNOWLEDGE.value,
        IncidentAction.TAKE_OWNERSHIP.value,
        ReportAction.POST_IN_CHANNEL.value,
    } <= wired
