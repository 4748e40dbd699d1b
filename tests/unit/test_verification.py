"""What Bolt's own middleware can read of a verified request (see `bot.listeners.verification`)."""

from __future__ import annotations

from typing import Any

import pytest
from slack_bolt import BoltContext

from bot.listeners.verification import VERIFIED, is_verified, readable_envelope


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"command": "/triage"},
        {"type": "event_callback", "event": {"type": "app_mention"}},
        {"type": "view_submission", "view": {"id": "V1"}},
        {"type": "block_actions", "actions": [{"action_id": "a"}]},
    ],
)
def test_what_slack_sends_is_readable(body: dict[str, Any]) -> None:
    assert readable_envelope(body)


@pytest.mark.parametrize(
    "body",
    [
        {"event": []},
        {"event": None},
        {"view": None},
        {"view": "V1"},
        {"actions": {"action_id": "a"}},
        {"actions": [None]},
        {"actions": ["a"]},
    ],
)
def test_shapes_bolts_middleware_would_crash_on_are_not(body: dict[str, Any]) -> None:
    assert not readable_envelope(body)


def test_only_a_marked_context_is_verified() -> None:
    assert not is_verified(None)
    assert not is_verified(BoltContext({}))
    assert not is_verified(BoltContext({VERIFIED: "yes"}))
    assert is_verified(BoltContext({VERIFIED: True}))
