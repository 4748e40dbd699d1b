"""The client's own channel: "Send to client" under a recorded client update posts the person's words — and only
those — in the client's Slack Connect channel, once, for the owner (or who recorded it); the audit trail records it
and the next update is due from then. Signed requests, the strict emulator."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from bot.db import unit_of_work
from bot.domain.workspace_settings import SINGLE_WORKSPACE, map_client
from bot.models import ClientTier, Event, Incident
from tests.conftest import T0
from tests.e2e.conftest import AGENT, ONCALL, SUPPORT, Stack
from tests.e2e.test_triage_workflow import ephemerals_for, open_incident, thread_texts

CLIENT_ROOM, CLIENT_USER, BYSTANDER = "CHARTLEY", "UDANA", "UBYSTANDER"
SEND = "client_update_send_to_client"
WORDS = "Hi Hartley & Moss LLP team,\nwe found the cause and a fix is rolling out. Next update by 10:30."


def client_room(stack: Stack) -> None:
    stack.emulator.add_user(CLIENT_USER, "dana", team_id="TCLIENTORG")
    stack.emulator.add_user(BYSTANDER, "bob")
    stack.emulator.add_channel(
        "hartley-shared",
        id=CLIENT_ROOM,
        members=[AGENT, CLIENT_USER, stack.emulator.bot_user_id],
        shared_with="external",
    )
    with unit_of_work(stack.services.session_factory) as session:
        map_client(
            session,
            team_id=SINGLE_WORKSPACE,
            name="Hartley & Moss LLP",
            tier=ClientTier.PREMIUM,
            channel_id=CLIENT_ROOM,
            by="UADMIN",
            now=T0,
        )


def record_update(stack: Stack, ts: str) -> dict[str, Any]:
    """Record a client update through the form; the thread note that says so (with its buttons)."""
    stack.platform.click_button(AGENT, "incident_client_update", channel_id=SUPPORT, message_ts=ts)
    modal = stack.emulator.wait_for(lambda: stack.emulator.current_modal(AGENT))
    assert stack.platform.submit_view(modal["id"], AGENT, {"update_text": WORDS}).status == 200
    note: dict[str, Any] = stack.emulator.wait_for(
        lambda: next((m for m in stack.emulator.replies(SUPPORT, ts) if "recorded a client update" in m["text"]), None)
    )
    return note


def test_send_to_client_posts_only_the_update_once_and_the_next_is_due_from_then(stack: Stack) -> None:
    client_room(stack)
    incident_id, ts = open_incident(stack)
    assert stack.platform.click_button(ONCALL, "incident_acknowledge", channel_id=SUPPORT, message_ts=ts).status == 200
    note = record_update(stack, ts)
    button = note["blocks"][1]["elements"][0]
    assert button["text"]["text"] == "Send to client" and button["confirm"]["confirm"]["text"] == "Send"
    assert f"<#{CLIENT_ROOM}>" in button["confirm"]["text"]["text"]
    assert stack.emulator.messages(CLIENT_ROOM) == [], "nothing reaches the client before a person sends it"

    refused = stack.platform.click_button(BYSTANDER, SEND, channel_id=SUPPORT, message_ts=note["ts"])
    assert refused.status == 200
    assert stack.emulator.wait_for(
        lambda: any("Only the owner or lead of INC-1" in e for e in ephemerals_for(stack, BYSTANDER))
    )

    stack.clock.advance(timedelta(minutes=10))
    assert stack.platform.click_button(AGENT, SEND, channel_id=SUPPORT, message_ts=note["ts"]).status == 200
    posted = stack.emulator.wait_for(lambda: stack.emulator.messages(CLIENT_ROOM) or None)
    assert [m["text"] for m in posted] == [WORDS.replace("&", "&amp;")]
    shown = json.dumps(posted[0].get("blocks"), ensure_ascii=False)
    for internal in ("INC-", "<@", "http", SUPPORT):
        assert internal not in shown, f"{internal!r} reached the client's channel"
    assert stack.emulator.wait_for(
        lambda: any(f"sent the client update to <#{CLIENT_ROOM}>" in t for t in thread_texts(stack, ts))
    )
    with unit_of_work(stack.services.session_factory) as session:
        incident = session.get_one(Incident, incident_id)
        sent = session.scalars(select(Event).where(Event.kind == "client_update_sent")).one()
        assert sent.actor_id == AGENT and sent.details["channel"] == CLIENT_ROOM
        assert incident.next_update_due_at == T0 + timedelta(minutes=10) + timedelta(minutes=30), "SEV1 cadence"

    again = stack.platform.click_button(AGENT, SEND, channel_id=SUPPORT, message_ts=note["ts"])
    assert again.status == 200
    assert stack.emulator.wait_for(lambda: any("already sent" in e for e in ephemerals_for(stack, AGENT)))
    assert len(stack.emulator.messages(CLIENT_ROOM)) == 1, "sent once"


def test_without_a_client_channel_there_is_no_send_button(stack: Stack) -> None:
    _, ts = open_incident(stack)
    note = record_update(stack, ts)
    assert len(note["blocks"]) == 1
