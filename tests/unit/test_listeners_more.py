"""Unit tests of the smaller listener modules — events, the message shortcut, settings and "Send to client" — with
a mocked ack, client, respond and say and patched use cases."""

from __future__ import annotations

from typing import Any
from unittest.mock import patch

import pytest
from slack_sdk.models.views import View
from sqlalchemy.exc import OperationalError

from blocks.ids import CallbackId, ClientChannelAction, HomeAction, ShortcutId
from bot.domain.errors import DomainError
from bot.domain.workspace_settings import SETTABLE
from bot.listeners import client_channel, events, settings, shortcuts
from bot.listeners.errors import DATABASE_UNREACHABLE
from bot.listeners.replays import request_key
from bot.services.intake import ShortcutMessage
from bot.services.workspace_settings import SettingsSaved
from tests.unit.listener_kit import CHANNEL, INCIDENT_ID, TEAM, TRIGGER, USER, Call, Recorder, click, ephemeral

A_VIEW = View(type="modal", callback_id="a_view", title="A view", blocks=[])


@pytest.fixture
def call() -> Call:
    return Call()


# --- events ---------------------------------------------------------------------------------------------------


def test_a_mention_is_answered_in_its_thread_with_the_command_to_use(call: Call) -> None:
    call.run(events.handle_app_mention, event={"type": "app_mention", "user": USER, "ts": "1.5", "thread_ts": "1.0"})
    call.say.assert_called_once()
    assert call.say.call_args.kwargs["thread_ts"] == "1.0"
    assert "/triage" in call.say.call_args.kwargs["text"]


def test_opening_app_home_publishes_the_home_the_service_gives(call: Call) -> None:
    with patch.object(events, "home_for", autospec=True, return_value=A_VIEW) as home_for:
        call.run(events.handle_app_home_opened, event={"type": "app_home_opened", "user": USER, "tab": "home"})
    home_for.assert_called_once_with(call.services, USER)
    call.client.views_publish.assert_called_once_with(user_id=USER, view=A_VIEW)


def test_opening_the_messages_tab_publishes_nothing(call: Call) -> None:
    with patch.object(events, "home_for", autospec=True) as home_for:
        call.run(events.handle_app_home_opened, event={"type": "app_home_opened", "user": USER, "tab": "messages"})
    home_for.assert_not_called()
    call.client.views_publish.assert_not_called()


def test_events_are_wired() -> None:
    app = Recorder()
    events.register(app)  # type: ignore[arg-type]
    events.register_revocation_log(app)  # type: ignore[arg-type]
    assert set(app.wired["event"]) == {"app_mention", "app_home_opened", "app_uninstalled", "tokens_revoked"}


# --- the "Open incident" message shortcut ------------------------------------------------------------------------


def a_shortcut() -> dict[str, Any]:
    return {
        "type": "message_action",
        "callback_id": ShortcutId.OPEN_INCIDENT.value,
        "trigger_id": TRIGGER,
        "team": {"id": TEAM, "domain": "acme"},
        "user": {"id": USER},
        "channel": {"id": CHANNEL},
        "message": {"ts": "1700000000.000100", "text": "Uploads fail at 99%", "user": "UCLIENT"},
    }


def test_the_shortcut_opens_the_form_prefilled_from_the_message(call: Call) -> None:
    form = {"type": "modal", "blocks": []}
    with patch.object(shortcuts, "form_from_message", autospec=True, return_value=form) as form_from_message:
        call.run(shortcuts.handle_open_incident, body=a_shortcut())
    call.ack.assert_called_once_with()
    form_from_message.assert_called_once_with(call.services, ShortcutMessage.of(a_shortcut()))
    assert ShortcutMessage.of(a_shortcut()).text == "Uploads fail at 99%"
    call.client.views_open.assert_called_once_with(trigger_id=TRIGGER, view=form)


@pytest.mark.parametrize(
    ("error", "told"),
    [
        (DomainError("Guests can't open incidents."), "Guests can't open incidents."),
        (OperationalError("", {}, Exception()), DATABASE_UNREACHABLE),
    ],
)
def test_a_refused_shortcut_says_why_in_a_modal(call: Call, error: Exception, told: str) -> None:
    with patch.object(shortcuts, "form_from_message", autospec=True, side_effect=error):
        call.run(shortcuts.handle_open_incident, body=a_shortcut())
    shown = call.client.views_open.call_args.kwargs["view"].to_dict()
    assert told in str(shown["blocks"])


def test_the_shortcut_is_wired() -> None:
    app = Recorder()
    shortcuts.register(app)  # type: ignore[arg-type]
    assert set(app.wired["shortcut"]) == {ShortcutId.OPEN_INCIDENT.value}


# --- settings -----------------------------------------------------------------------------------------------------


def test_triage_settings_opens_the_settings_for_who_may_change_them(call: Call) -> None:
    command = {"text": "settings", "user_id": USER, "trigger_id": TRIGGER}
    with patch.object(settings, "settings_view", autospec=True, return_value=A_VIEW) as settings_view:
        settings.handle_settings_command(call.ack, command, call.client, call.context)
    settings_view.assert_called_once_with(call.services, USER)
    call.client.views_open.assert_called_once_with(trigger_id=TRIGGER, view=A_VIEW)
    call.ack.assert_called_once_with()


def test_triage_settings_refused_is_told_to_the_asker(call: Call) -> None:
    command = {"text": "settings", "user_id": USER, "trigger_id": TRIGGER}
    refusal = DomainError("Only admins and declarers may change settings.")
    with patch.object(settings, "settings_view", autospec=True, side_effect=refusal):
        settings.handle_settings_command(call.ack, command, call.client, call.context)
    call.ack.assert_called_once_with(text=str(refusal))
    call.client.views_open.assert_not_called()


def test_saving_settings_answers_problems_on_their_inputs_or_shows_what_changed(call: Call) -> None:
    body = {"type": "view_submission", "user": {"id": USER}}
    view = {"id": "V1", "callback_id": CallbackId.SETTINGS.value, "state": {"values": {}}}
    problems = SettingsSaved(errors={SETTABLE[0].field: "Choose a channel the bot is in."})
    with patch.object(settings, "save_settings", autospec=True, return_value=problems) as save:
        call.run(settings.handle_save, body=body, view=view)
        save.assert_called_once_with(call.services, USER, {})
        call.ack.assert_called_once_with(response_action="errors", errors=problems.errors)
        save.return_value = SettingsSaved(errors={}, view=A_VIEW)
        saved = Call()
        saved.run(settings.handle_save, body=body, view=view)
    saved.ack.assert_called_once_with(response_action="update", view=A_VIEW)


def test_the_home_settings_button_opens_the_settings(call: Call) -> None:
    with patch.object(settings, "settings_view", autospec=True, return_value=A_VIEW):
        call.run(settings.handle_home_settings, body=click(HomeAction.OPEN_SETTINGS.value, ""))
    call.ack.assert_called_once_with()
    call.client.views_open.assert_called_once_with(trigger_id=TRIGGER, view=A_VIEW)


def test_settings_are_wired() -> None:
    app = Recorder()
    settings.register(app)  # type: ignore[arg-type]
    assert set(app.wired["view"]) == {CallbackId.SETTINGS.value}
    assert set(app.wired["action"]) == {HomeAction.OPEN_SETTINGS.value}


# --- "Send to client" -----------------------------------------------------------------------------------------------


def test_send_to_client_posts_the_update_once_and_sends_what_it_queued(call: Call) -> None:
    body = click(ClientChannelAction.SEND.value, "55")
    with (
        patch.object(client_channel, "send_update_to_client_channel", autospec=True, return_value=INCIDENT_ID) as send,
        patch.object(client_channel, "deliver_pending", autospec=True) as deliver,
    ):
        call.run(client_channel.handle_send_to_client, body=body)
    call.ack.assert_called_once_with()
    send.assert_called_once_with(call.services, 55, USER, once=request_key(body))
    deliver.assert_called_once_with(call.services, INCIDENT_ID)


@pytest.mark.parametrize("value", ["", "fifty-five"])
def test_send_to_client_with_an_unreadable_button_sends_nothing(call: Call, value: str) -> None:
    with patch.object(client_channel, "send_update_to_client_channel", autospec=True) as send:
        call.run(client_channel.handle_send_to_client, body=click(ClientChannelAction.SEND.value, value))
    send.assert_not_called()
    call.respond.assert_called_once_with(**ephemeral("That client update isn't available here."))


def test_send_to_client_is_wired() -> None:
    app = Recorder()
    client_channel.register(app)  # type: ignore[arg-type]
    assert set(app.wired["action"]) == {ClientChannelAction.SEND.value}
