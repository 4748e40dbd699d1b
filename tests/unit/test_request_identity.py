"""A request's identity: the same for every delivery of one request, different for any other request."""

from __future__ import annotations

import copy
from typing import Any

from bot.listeners.replays import request_key


def a_click(**action: Any) -> dict[str, Any]:
    return {
        "type": "block_actions",
        "team": {"id": "T1"},
        "user": {"id": "UAGENT"},
        "trigger_id": "1.2.abc",
        "container": {"type": "message", "message_ts": "1700000000.000100", "channel_id": "C1"},
        "actions": [{"action_id": "timebox_extend", "block_id": "b1", "action_ts": "1700000100.000200", **action}],
    }


def a_submission(values: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "view_submission",
        "team": {"id": "T1"},
        "user": {"id": "UAGENT"},
        "trigger_id": "9.9.xyz",
        "view": {"id": "V1", "callback_id": "incident_log_step", "state": {"values": values}},
    }


def a_command(trigger_id: str = "5.6.def", text: str = "correct INC-1 2 x") -> dict[str, Any]:
    return {"command": "/triage", "text": text, "team_id": "T1", "user_id": "UAGENT", "trigger_id": trigger_id}


STEP = {"step_description": {"step_description": {"type": "plain_text_input", "value": "proxy timeout"}}}


def test_every_delivery_of_one_request_has_its_identity() -> None:
    for body in (a_click(), a_submission(STEP), a_command(), {"type": "event_callback", "event_id": "Ev1"}):
        assert request_key(body) == request_key(copy.deepcopy(body)) is not None


def test_another_click_is_another_request() -> None:
    click = request_key(a_click())
    assert request_key(a_click(action_ts="1700000100.000300")) != click
    assert request_key({**a_click(), "user": {"id": "UONCALL"}}) != click, "someone else clicking the same button"
    assert request_key({**a_click(), "trigger_id": "1.2.other"}) != click
    assert request_key(a_click(action_id="timebox_stop")) != click
    assert request_key({**a_click(), "container": {"type": "message", "message_ts": "2.0"}}) != click
    assert request_key({**a_click(), "team": {"id": "T2"}}) != click


def test_a_form_is_the_same_request_only_with_the_same_answers() -> None:
    first = request_key(a_submission(STEP))
    reordered = dict(reversed(list({**STEP, "step_kind": {"step_kind": {"type": "static_select"}}}.items())))
    assert request_key(a_submission({"step_kind": {"step_kind": {"type": "static_select"}}, **STEP})) == (
        request_key(a_submission(reordered))
    ), "the order of the keys does not matter"
    corrected = {"step_description": {"step_description": {"type": "plain_text_input", "value": "proxy timeouts"}}}
    assert request_key(a_submission(corrected)) != first, "a corrected form is a new request"
    assert request_key({**a_submission(STEP), "trigger_id": "other"}) == first, "a double submit is the same request"


def test_a_command_is_known_by_its_trigger() -> None:
    assert request_key(a_command()) != request_key(a_command(trigger_id="5.6.ghi"))
    assert request_key(a_command()) == request_key(a_command(text="anything"))


def test_keys_fit_the_table_whatever_was_typed() -> None:
    long = a_submission({"b": {"a": {"type": "plain_text_input", "value": "x" * 10_000}}})
    assert len(request_key(long) or "") <= 200
    assert request_key({"type": "block_actions"}) is not None, "a malformed click still has an identity"
    assert request_key({"type": "view_closed"}) is None and request_key({}) is None
