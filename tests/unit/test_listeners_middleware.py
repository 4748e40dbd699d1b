"""Unit tests of the global middleware (bot/listeners/middleware.py): services handed to listeners, Slack's retried
events acknowledged without being acted on again, and payloads Slack could not have sent refused."""

from __future__ import annotations

import json
from typing import Any
from unittest.mock import MagicMock, Mock, patch

from slack_bolt import BoltContext, BoltRequest
from sqlalchemy.exc import OperationalError

from bot.listeners import middleware
from bot.services.deliveries import first_time_received
from tests.unit.listener_kit import TEAM, USER, a_services


def an_event(event_id: str = "Ev1") -> dict[str, Any]:
    return {"type": "event_callback", "team_id": TEAM, "event_id": event_id, "event": {"type": "app_mention"}}


def a_request(retry: str | None = None) -> BoltRequest:
    headers = {"x-slack-retry-num": [retry]} if retry else {}
    return BoltRequest(body="{}", headers=headers, mode="socket_mode")


def test_listeners_get_the_services_of_their_workspace() -> None:
    services, context, next_ = a_services(), BoltContext({"team_id": TEAM}), Mock()
    middleware.inject_services(services)(context=context, next=next_)
    next_.assert_called_once_with()
    services.for_request.assert_not_called()  # not before a listener asks: /triage acknowledges first
    assert middleware.services_of(context) is services.for_request.return_value
    assert middleware.services_of(context) is services.for_request.return_value
    services.for_request.assert_called_once_with(TEAM)


def test_an_uninstall_forgets_the_workspace_token_at_once() -> None:
    services, next_ = a_services(), Mock()
    body = {"type": "event_callback", "team_id": TEAM, "event": {"type": "app_uninstalled"}}
    middleware.forget_revoked_workspaces(services)(body=body, next=next_)
    services.workspaces.forget.assert_called_once_with(TEAM)
    next_.assert_called_once_with()


def test_a_first_event_is_acted_on_and_a_redelivery_is_only_acknowledged() -> None:
    services = a_services()
    skip = middleware.skip_repeated_events(services)
    with patch.object(middleware, "first_time_received", autospec=True, side_effect=[True, False]) as first:
        acted = Mock()
        assert skip(req=a_request(), body=an_event(), next=acted) is None
        acted.assert_called_once_with()
        again = Mock()
        response = skip(req=a_request(retry="1"), body=an_event(), next=again)
    assert [c.args for c in first.call_args_list] == [(services, "event:Ev1"), (services, "event:Ev1")]
    again.assert_not_called()
    assert response is not None and (response.status, response.body) == (200, "")


def test_other_requests_record_their_identity_with_their_effect_not_here() -> None:
    next_ = Mock()
    with patch.object(middleware, "first_time_received", autospec=True) as first:
        middleware.skip_repeated_events(a_services())(req=a_request(), body={"type": "block_actions"}, next=next_)
    first.assert_not_called()
    next_.assert_called_once_with()


def test_an_event_that_cannot_be_recorded_is_handled_anyway() -> None:
    services = MagicMock()
    services.session_factory.side_effect = OperationalError("INSERT", {}, Exception("database down"))
    assert first_time_received(services, "event:Ev1") is True


def test_a_payload_slack_could_not_have_sent_is_refused_before_any_listener() -> None:
    next_ = Mock()
    response = middleware.refuse_malformed_interactions(body={"type": "block_actions", "user": "U1"}, next=next_)
    next_.assert_not_called()
    assert response is not None and response.status == 400


def test_an_input_with_a_state_no_element_sends_is_answered_on_that_input() -> None:
    view = {
        "id": "V1",
        "callback_id": "incident_log_step_modal",
        "private_metadata": "{}",
        "blocks": [{"type": "input", "block_id": "step_description"}],
        "state": {"values": {"step_description": {"step_description": {"type": "plain_text_input", "value": 42}}}},
    }
    next_ = Mock()
    body = {"type": "view_submission", "user": {"id": USER}, "view": view}
    response = middleware.refuse_malformed_interactions(body=body, next=next_)
    next_.assert_not_called()
    assert response is not None and response.status == 200
    assert json.loads(response.body) == {
        "response_action": "errors",
        "errors": {"step_description": middleware.UNREADABLE},
    }


def test_a_well_formed_interaction_goes_on() -> None:
    next_ = Mock()
    body = {"type": "block_actions", "user": {"id": USER}, "actions": [{"action_id": "incident_acknowledge"}]}
    assert middleware.refuse_malformed_interactions(body=body, next=next_) is None
    next_.assert_called_once_with()
