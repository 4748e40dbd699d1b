"""Finding 7: the workspace's client report goes only to the person who asked. Posting it in a channel is a button
for declarers and admins, and it is never posted in a shared (Slack Connect) channel or one with guests."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.e2e.conftest import AGENT, SUPPORT, Stack
from tests.e2e.hostile import settle
from tests.e2e.test_triage_workflow import ephemerals_for, open_incident

ADMIN, GUEST = "U0ADMIN", "U0GUEST"
CONNECT, ORG_SHARED, WITH_GUEST = "C0CONNECT", "C0ORGWIDE", "C0GUESTS"
POST = "report_post_in_channel"


def posts_and_uploads(stack: Stack) -> list[str]:
    """Every way the bot could have put the report where others see it."""
    methods = ("chat.postMessage", "files.getUploadURLExternal", "files.completeUploadExternal")
    return [
        f"{c.method} {c.args.get('channel') or c.args.get('channel_id') or ''}"
        for c in stack.emulator.calls()
        if c.method in methods and "Key learnings" in json.dumps(c.args, ensure_ascii=False)
    ]


def asked_report(stack: Stack, user: str, channel: str = SUPPORT) -> dict[str, Any]:
    """`/triage report 30d` in `channel`; the closing message only the asker sees (with or without a button)."""
    assert stack.platform.slash_command(user, channel, text="report 30d").status == 200
    closing: dict[str, Any] = stack.emulator.wait_for(
        lambda: next((e for e in stack.emulator.ephemerals(channel, user) if "Only you can see" in e["text"]), None)
    )
    return closing


def has_button(message: dict[str, Any]) -> bool:
    return POST in json.dumps(message["blocks"])


def forged_click(stack: Stack, user: str, channel: str, days: str = "30") -> str:
    """The block_actions request for the post button, sent by someone who was never shown it; what they are told."""
    emulator = stack.emulator
    payload = {
        "type": "block_actions",
        "team": {"id": emulator.team_id, "domain": emulator.team_domain},
        "user": {"id": user, "username": "x", "name": "x", "team_id": emulator.team_id},
        "api_app_id": emulator.app_id,
        "token": stack.platform.verification_token,
        "trigger_id": emulator.new_trigger_id(user),
        "container": {"type": "message", "message_ts": "1.000001", "channel_id": channel, "is_ephemeral": True},
        "channel": {"id": channel, "name": "x"},
        "response_url": emulator.new_response_url(channel, user),
        "actions": [{"action_id": POST, "block_id": "b", "type": "button", "value": days, "action_ts": "1.0"}],
    }
    before = len(emulator.ephemerals(channel, user))
    body = urlencode({"payload": json.dumps(payload)})
    assert stack.platform.post(body, "application/x-www-form-urlencoded").status == 200
    answer: str = emulator.wait_for(lambda: emulator.ephemerals(channel, user)[before:])[0]["text"]
    return answer


@pytest.fixture
def workspace(stack: Stack) -> Stack:
    stack.emulator.add_user(ADMIN, "admin", is_admin=True)
    stack.emulator.add_user(GUEST, "guest", guest="single")
    bot = stack.emulator.bot_user_id
    stack.emulator.add_channel("partner-connect", id=CONNECT, members=[AGENT, ADMIN, bot], shared_with="external")
    stack.emulator.add_channel("org-wide", id=ORG_SHARED, members=[AGENT, ADMIN, bot], shared_with="workspace")
    stack.emulator.add_channel("with-guest", id=WITH_GUEST, members=[AGENT, ADMIN, GUEST, bot])
    open_incident(stack)
    stack.clock.advance(timedelta(minutes=5))
    return stack


def test_a_member_gets_the_report_privately_and_no_way_to_post_it(workspace: Stack) -> None:
    stack = workspace
    closing = asked_report(stack, AGENT)
    assert not has_button(closing)
    shown = ephemerals_for(stack, AGENT)
    assert any("Key learnings & patterns" in e and "Hartley" in e for e in shown), "the asker sees the report"
    assert "`triage-bot report --charts DIR`" in closing["text"]

    refused = forged_click(stack, AGENT, SUPPORT)
    assert refused.startswith("Only a workspace admin may post the report in a channel")
    settle(stack)
    assert posts_and_uploads(stack) == [] and stack.emulator.messages(SUPPORT)[1:] == []


@pytest.mark.parametrize(
    ("channel", "why"),
    [
        (CONNECT, "shared with another organisation"),
        (ORG_SHARED, "shared with another organisation"),
        (WITH_GUEST, "has guests or people from another organisation"),
    ],
    ids=["slack-connect", "shared-across-workspaces", "with-a-guest"],
)
def test_even_an_admin_never_posts_it_in_a_shared_or_guest_channel(workspace: Stack, channel: str, why: str) -> None:
    stack = workspace
    closing = asked_report(stack, ADMIN, channel)
    assert has_button(closing), "admins are offered the button; the channel is checked when it is clicked"
    assert stack.platform.click_ephemeral_button(ADMIN, channel, closing["ts"], POST).status == 200
    answer = stack.emulator.wait_for(
        lambda: next((e["text"] for e in stack.emulator.ephemerals(channel, ADMIN) if why in e["text"]), None)
    )
    assert "the report isn't posted here" in answer
    settle(stack)
    assert posts_and_uploads(stack) == [] and stack.emulator.messages(channel) == []


def test_an_admin_posts_it_in_a_members_only_channel_with_its_charts(workspace: Stack) -> None:
    stack = workspace
    closing = asked_report(stack, ADMIN)
    assert stack.platform.click_ephemeral_button(ADMIN, SUPPORT, closing["ts"], POST).status == 200
    report = stack.emulator.wait_for(
        lambda: next((m for m in stack.root_messages() if "Key learnings" in m["text"]), None)
    )
    assert stack.emulator.wait_for(lambda: [r for r in stack.emulator.replies(SUPPORT, report["ts"]) if r.get("files")])
    assert stack.emulator.wait_for(
        lambda: any("Posted the report for the last 30 days in <#CSUPPORT>" in e for e in ephemerals_for(stack, ADMIN))
    )
    assert (
        forged_click(stack, ADMIN, SUPPORT, days="forever")
        == "That button no longer works. Ask again with `/triage report 30d`."
    )
