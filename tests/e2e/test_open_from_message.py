""" "Open incident" on any message: the form opens prefilled from the message (its words as the blocker, the
channel's client), the incident keeps a link to the message and shows it in its thread, and a channel shared with
the client is never where the incident lives. Signed requests, the strict emulator's membership rules."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from bot.db import unit_of_work
from bot.domain.message_intake import BLOCKER_LIMIT
from bot.models import Incident
from tests.e2e.conftest import AGENT, SUPPORT, Stack
from tests.e2e.test_client_channel import CLIENT_ROOM, CLIENT_USER, client_room
from tests.e2e.test_open_incident_flow import filled_form

SHORTCUT = "open_incident_from_message"
PRIVATE = "CPRIVATE"


def run_shortcut(stack: Stack, channel_id: str, message: dict[str, Any]) -> dict[str, Any]:
    assert stack.platform.message_shortcut(AGENT, channel_id, message["ts"], SHORTCUT).status == 200
    modal: dict[str, Any] = stack.emulator.wait_for(lambda: stack.emulator.current_modal(AGENT))
    return modal


def incident_thread(stack: Stack, count: int = 5) -> list[dict[str, Any]]:
    """The incident's thread in #support (its root is the bot's message there), once it has `count` replies."""

    def thread() -> list[dict[str, Any]] | None:
        roots = [m for m in stack.emulator.messages(SUPPORT) if m.get("bot_id")]
        replies = stack.emulator.replies(SUPPORT, roots[0]["ts"]) if roots else []
        return replies if len(replies) >= count else None

    found: list[dict[str, Any]] = stack.wait_while_scheduling(thread)
    return found


def block(view: dict[str, Any], block_id: str) -> dict[str, Any]:
    return next(b for b in view["blocks"] if b.get("block_id") == block_id)


def submit_as_filled(stack: Stack, modal: dict[str, Any], *, client_known: bool = False, **changes: Any) -> None:
    """Submit the form with what it shows (the prefilled blocker, and client when known) plus the rest of a valid
    form."""
    kept = ("blocker", "client", "premium") if client_known else ("blocker",)
    values = {k: v for k, v in filled_form(**changes).items() if k not in kept}
    assert stack.platform.submit_view(modal["id"], AGENT, values).status == 200


def test_a_message_becomes_the_blocker_and_the_incident_links_it_in_its_thread(stack: Stack) -> None:
    words = "Upload of exhibit <B> fails & shows “error 413” at 99%"
    message = stack.emulator.post_user_message(
        SUPPORT, AGENT, words.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    )
    modal = run_shortcut(stack, SUPPORT, message)
    assert block(modal, "blocker")["element"]["initial_value"] == words, "unescaped for the input"
    assert "post_in" not in [b.get("block_id") for b in modal["blocks"]], "the bot can post in #support"
    submit_as_filled(stack, modal)
    thread = incident_thread(stack)
    link = f"https://{stack.emulator.team_domain}.slack.com/archives/{SUPPORT}/p{message['ts'].replace('.', '')}"
    assert thread[0]["text"] == f"🔗 INC-1 was opened from <{link}|this message> by <@{AGENT}> in <#{SUPPORT}>."
    with unit_of_work(stack.services.session_factory) as session:
        incident = session.scalars(select(Incident)).one()
        assert (incident.blocker, incident.source_link, incident.channel_id) == (words, link, SUPPORT)


def test_a_long_message_is_cut_to_the_field_and_the_form_says_so(stack: Stack) -> None:
    message = stack.emulator.post_user_message(SUPPORT, AGENT, "stack trace line\n" * 400)
    modal = run_shortcut(stack, SUPPORT, message)
    blocker = block(modal, "blocker")
    assert len(blocker["element"]["initial_value"]) == BLOCKER_LIMIT
    assert blocker["element"]["initial_value"].endswith(" …")
    assert "The message had 6,799 characters" in blocker["hint"]["text"]


def test_in_a_clients_shared_channel_the_client_is_known_and_the_incident_goes_to_support(stack: Stack) -> None:
    client_room(stack)  # Hartley & Moss LLP (premium), mapped to its Slack Connect channel
    message = stack.emulator.post_user_message(CLIENT_ROOM, CLIENT_USER, "We can't upload the exhibit!")
    modal = run_shortcut(stack, CLIENT_ROOM, message)
    assert block(modal, "client")["element"]["initial_value"] == "Hartley & Moss LLP"
    assert block(modal, "premium")["element"]["initial_options"][0]["value"] == "premium"
    assert "shared with another organisation" in json.dumps(modal["blocks"]), "the form says why it asks"
    refused = stack.platform.submit_view(modal["id"], AGENT, {**filled_form(), "post_in": CLIENT_ROOM})
    assert "shared with another organisation" in refused.json()["errors"]["post_in"]
    submit_as_filled(stack, modal, client_known=True, post_in=SUPPORT)
    thread = incident_thread(stack)
    assert thread[0]["text"].endswith(f"by <@{CLIENT_USER}> in <#{CLIENT_ROOM}>.")
    assert [m["ts"] for m in stack.emulator.messages(CLIENT_ROOM)] == [message["ts"]], (
        "nothing of the incident reaches the client's channel"
    )


def test_a_private_channel_the_bot_is_not_in_asks_where_to_post_and_loses_nothing(stack: Stack) -> None:
    stack.emulator.add_channel("war-room", id=PRIVATE, is_private=True, members=[AGENT])
    message = stack.emulator.post_user_message(PRIVATE, AGENT, "Client says uploads hang")
    modal = run_shortcut(stack, PRIVATE, message)
    assert "I'm not in this conversation" in json.dumps(modal["blocks"])
    assert block(modal, "blocker")["element"]["initial_value"] == "Client says uploads hang"
    submit_as_filled(stack, modal, post_in=SUPPORT)
    thread = incident_thread(stack)
    assert "this message" in thread[0]["text"] and f"<#{PRIVATE}>" in thread[0]["text"]
