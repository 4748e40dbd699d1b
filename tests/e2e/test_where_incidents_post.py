"""`/triage` typed where the bot can't post (a private channel or a DM it is not in): the form says so and asks for
a channel, and no incident is stored without a place to post it. Signed requests, the emulator's membership rules."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bot.db import unit_of_work
from bot.models import Incident
from tests.blockkit_limits import check_view
from tests.e2e.conftest import AGENT, ONCALL, SUPPORT, Stack
from tests.e2e.test_open_incident_flow import THREAD_AT_OPEN, count, filled_form

PRIVATE, OTHER_PRIVATE, PUBLIC = "CPRIVATE", "COTHERPRIV", "CPUBLIC"


def open_form_in(stack: Stack, channel_id: str) -> dict[str, Any]:
    assert stack.platform.slash_command(AGENT, channel_id).status == 200
    modal: dict[str, Any] = stack.emulator.wait_for(lambda: stack.emulator.current_modal(AGENT))
    return modal


def open_another_form_in(stack: Stack, channel_id: str, previous: dict[str, Any]) -> dict[str, Any]:
    assert stack.platform.slash_command(AGENT, channel_id).status == 200
    modal: dict[str, Any] = stack.emulator.wait_for(
        lambda: (m := stack.emulator.current_modal(AGENT)) is not None and m["id"] != previous["id"] and m
    )
    return modal


def block_ids(view: dict[str, Any]) -> list[str]:
    return [b.get("block_id", "") for b in view["blocks"]]


def first_text(view: dict[str, Any]) -> str:
    return str(view["blocks"][0].get("text", {}).get("text", ""))


def posted_channels(stack: Stack) -> set[str]:
    return {str(call.args.get("channel")) for call in stack.emulator.calls("chat.postMessage")}


def incidents(stack: Stack) -> list[tuple[str, str | None]]:
    with unit_of_work(stack.services.session_factory) as session:
        return [(i.channel_id, i.root_ts) for i in session.scalars(select(Incident))]


def wait_for_incident_thread(stack: Stack, channel_id: str) -> dict[str, Any]:
    root: dict[str, Any] = stack.emulator.wait_for(lambda: next(iter(stack.emulator.messages(channel_id)), None))
    stack.wait_while_scheduling(lambda: len(stack.emulator.replies(channel_id, root["ts"])) >= THREAD_AT_OPEN)
    return root


def test_triage_in_a_private_channel_without_the_bot_asks_for_a_channel_and_posts_there(stack: Stack) -> None:
    stack.emulator.add_channel("client-war-room", id=PRIVATE, is_private=True, members=[AGENT])
    stack.emulator.add_channel("other-private", id=OTHER_PRIVATE, is_private=True, members=[AGENT])
    modal = open_form_in(stack, PRIVATE)
    check_view({k: v for k, v in modal.items() if k not in ("errors",)})
    assert "I'm not in this conversation" in first_text(modal) and "`/invite @Triage Bot`" in first_text(modal)
    assert "post_in" in block_ids(modal)
    picker = next(b for b in modal["blocks"] if b.get("block_id") == "post_in")
    assert picker["element"]["type"] == "conversations_select" and not picker.get("optional")
    assert picker["element"]["default_to_current_conversation"] is False

    refused = stack.platform.submit_view(modal["id"], AGENT, filled_form(post_in=OTHER_PRIVATE))
    body = refused.json()
    assert body["response_action"] == "errors" and set(body["errors"]) == {"post_in"}
    assert "I'm not in that channel" in body["errors"]["post_in"]
    assert count(stack, Incident) == 0, "nothing is stored while there is nowhere to post it"

    opened = stack.platform.submit_view(modal["id"], AGENT, filled_form(post_in=SUPPORT))
    assert opened.status == 200 and not opened.body, "the form closes once the incident is stored"
    root = wait_for_incident_thread(stack, SUPPORT)
    assert incidents(stack) == [(SUPPORT, root["ts"])]
    assert posted_channels(stack) == {SUPPORT}, "nothing was sent where the bot can't post"
    assert stack.emulator.replies(SUPPORT, root["ts"])[1]["text"].startswith(f"📟 <@{ONCALL}> you are on call")


def test_triage_in_a_direct_message_between_two_people_asks_for_a_channel(stack: Stack) -> None:
    dm = stack.emulator.add_dm(AGENT, ONCALL)
    modal = open_form_in(stack, dm)
    assert "I can't post in this direct message" in first_text(modal) and "post_in" in block_ids(modal)

    assert stack.platform.submit_view(modal["id"], AGENT, filled_form(post_in=SUPPORT)).status == 200
    root = wait_for_incident_thread(stack, SUPPORT)
    assert incidents(stack) == [(SUPPORT, root["ts"])]
    assert dm not in posted_channels(stack)


def test_when_slack_could_not_say_at_first_the_submission_asks_for_a_channel_keeping_the_form(stack: Stack) -> None:
    stack.emulator.add_channel("client-war-room", id=PRIVATE, is_private=True, members=[AGENT])
    stack.emulator.fail_next("conversations.info", error="fatal_error", status=200)
    modal = open_form_in(stack, PRIVATE)
    assert "post_in" not in block_ids(modal), "Slack could not say: the form opens as usual"

    answer = stack.platform.submit_view(modal["id"], AGENT, filled_form())
    body = answer.json()
    assert body["response_action"] == "update" and "post_in" in block_ids(body["view"])
    inputs = {b["block_id"] for b in modal["blocks"] if b["type"] == "input"}
    assert inputs <= set(block_ids(body["view"])), "the same inputs, so Slack keeps what was typed"
    assert count(stack, Incident) == 0

    updated = stack.emulator.current_modal(AGENT)
    assert updated is not None and "post_in" in block_ids(updated)
    assert stack.platform.submit_view(updated["id"], AGENT, filled_form(post_in=SUPPORT)).status == 200
    root = wait_for_incident_thread(stack, SUPPORT)
    assert incidents(stack) == [(SUPPORT, root["ts"])]


def test_a_public_channel_the_bot_is_not_in_still_gets_the_incident(stack: Stack) -> None:
    stack.emulator.add_channel("client-public", id=PUBLIC, members=[AGENT])
    modal = open_form_in(stack, PUBLIC)
    assert "post_in" not in block_ids(modal), "the bot joins a public channel before posting"
    assert stack.platform.submit_view(modal["id"], AGENT, filled_form()).status == 200
    root = wait_for_incident_thread(stack, PUBLIC)
    assert incidents(stack) == [(PUBLIC, root["ts"])]


def test_triage_where_the_bot_is_a_member_asks_nothing_more(stack: Stack) -> None:
    modal = open_form_in(stack, SUPPORT)
    assert "post_in" not in block_ids(modal) and modal["title"]["text"] == "New incident"
    assert [c.args.get("channel") for c in stack.emulator.calls("conversations.info")] == [SUPPORT]


def test_slack_is_asked_again_once_the_bot_was_removed_but_not_on_every_triage(stack: Stack) -> None:
    bot = stack.emulator.bot_user_id
    stack.emulator.add_channel("client-war-room", id=PRIVATE, is_private=True, members=[AGENT, bot])
    first = open_form_in(stack, PRIVATE)
    second = open_another_form_in(stack, PRIVATE, first)
    assert "post_in" not in block_ids(first) + block_ids(second)
    asked = [c.args.get("channel") for c in stack.emulator.calls("conversations.info")]
    assert asked == [PRIVATE], "the form opened again within the minute without asking Slack"

    stack.emulator._channel_for_helper(PRIVATE).members.remove(bot)  # removed from the channel meanwhile
    answer = stack.platform.submit_view(second["id"], AGENT, filled_form()).json()
    assert answer["response_action"] == "update" and "post_in" in block_ids(answer["view"])
    third = open_another_form_in(stack, PRIVATE, second)
    assert "post_in" in block_ids(third), "the submission's answer replaced the kept one: the form asks"
    assert count(stack, Incident) == 0
