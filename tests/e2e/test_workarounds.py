"""Continuity: time-boxed workarounds and retry cycles with check-ins, through signed requests and the emulator."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from blocks.text import slack_time
from bot.db import unit_of_work
from bot.models import Attempt, AttemptOutcome, Workaround, WorkaroundState
from bot.sandbox.platform import FORM_CONTENT_TYPE
from bot.scheduler import tick
from tests.conftest import T0
from tests.e2e.conftest import AGENT, ONCALL, SUPPORT, Stack
from tests.e2e.test_triage_workflow import ephemerals_for, open_incident, root, thread_texts, wait_for_reply


def start_retry_cycle(stack: Stack, ts: str, **values: Any) -> None:
    stack.platform.click_button(AGENT, "incident_start_workaround", channel_id=SUPPORT, message_ts=ts)
    modal = stack.emulator.wait_for(lambda: stack.emulator.current_modal(AGENT))
    assert modal["title"]["text"] == "Start a workaround"
    form = {
        "workaround_kind": "retry_cycle",
        "description": "Retry the exhibit upload from Chrome",
        "client_expectation": "We retry every 10 minutes and tell you at once when it goes through",
        **values,
    }
    assert stack.platform.submit_view(modal["id"], AGENT, form).status == 200
    wait_for_reply(stack, ts, "started a *")


def checkins(stack: Stack, ts: str) -> list[dict[str, Any]]:
    """The check-ins posted in the thread, answered or not (an answered one keeps its question)."""
    replies = stack.emulator.replies(SUPPORT, ts)
    return [r for r in replies if r["blocks"] and "is due*" in r["blocks"][0].get("text", {}).get("text", "")]


def at(stack: Stack, minutes: float) -> None:
    """Move the clock to `minutes` after the incident opened and let the scheduler tick."""
    stack.clock.set(T0 + timedelta(minutes=minutes))
    tick(stack.services)


def click_on(stack: Stack, message: dict[str, Any], action_id: str) -> None:
    stack.platform.click_button(AGENT, action_id, channel_id=SUPPORT, message_ts=message["ts"])


def answered_prompt(stack: Stack, prompt: dict[str, Any]) -> dict[str, Any]:
    """The prompt (a check-in, a time-box question) once its buttons have given way to its answer."""

    def answered() -> dict[str, Any] | None:
        message = stack.emulator.message(SUPPORT, prompt["ts"])
        return message if message and not [b for b in message["blocks"] if b["type"] == "actions"] else None

    found: dict[str, Any] = stack.wait_while_scheduling(answered)
    assert [b["type"] for b in found["blocks"]] == ["section", "context"]
    return found


def told_in_thread(stack: Stack, user: str, thread_ts: str, fragment: str) -> str:
    """The text of the ephemeral answer `user` got in the incident's thread (not at the foot of the channel)."""
    told: dict[str, Any] = stack.emulator.wait_for(
        lambda: next((e for e in stack.emulator.ephemerals(SUPPORT, user) if fragment in e["text"]), None)
    )
    assert (told["thread_ts"], told["source"]) == (thread_ts, "chat.postEphemeral")
    return str(told["text"])


def shown_time(stack: Stack, minutes: float) -> str:
    return slack_time(T0 + timedelta(minutes=minutes), stack.services.settings.display_zone)


def test_a_retry_cycle_checks_in_logs_attempts_and_ends_when_it_works(stack: Stack) -> None:
    _, ts = open_incident(stack)
    start_retry_cycle(stack, ts)
    stack.wait_while_scheduling(lambda: "Retry cycle every 10 min, 0 attempts" in json.dumps(root(stack, ts)["blocks"]))
    at(stack, 9)
    assert checkins(stack, ts) == []
    at(stack, 10)
    first = stack.wait_while_scheduling(lambda: (checkins(stack, ts) or [None])[0])
    assert first["text"] == "Retry #1 for INC-1 is due"
    assert [e["text"]["text"] for e in first["blocks"][1]["elements"]] == ["Worked", "Still failing", "Error changed"]

    # A second click from a view that still shows the buttons (or from someone clicking at the same moment).
    stale = stack.platform.click_body(ONCALL, "checkin_worked", channel_id=SUPPORT, message_ts=first["ts"])
    click_on(stack, first, "checkin_still_failing")
    assert "Retry #1 for *INC-1*: *still failing*" in wait_for_reply(stack, ts, "Retry #1 for *INC-1*")
    answered = answered_prompt(stack, first)
    assert answered["text"] == "Retry #1 for INC-1: still failing"
    assert answered["blocks"][0]["text"]["text"] == first["blocks"][0]["text"]["text"], "the question stays"
    answer = f"🔁 *Still failing* — answered by <@{AGENT}> {shown_time(stack, 10)}"
    assert answered["blocks"][1]["elements"][0]["text"] == answer

    assert stack.platform.post(stale, FORM_CONTENT_TYPE).status == 200
    told = told_in_thread(stack, ONCALL, ts, "Retry #1 was already answered")
    assert told == f"Retry #1 was already answered: {answer}."
    assert stack.emulator.ephemerals(user=ONCALL) and not [
        e for e in stack.emulator.ephemerals(user=ONCALL) if not e["thread_ts"]
    ], "nothing at the foot of the channel"
    with unit_of_work(stack.services.session_factory) as session:
        assert session.scalars(select(Attempt.outcome)).all() == [AttemptOutcome.STILL_FAILING]

    at(stack, 20)
    second = stack.wait_while_scheduling(lambda: checkins(stack, ts)[1] if len(checkins(stack, ts)) > 1 else None)
    click_on(stack, second, "checkin_error_changed")
    modal = stack.emulator.wait_for(lambda: stack.emulator.current_modal(AGENT))
    stack.platform.submit_view(modal["id"], AGENT, {"error_text": "413 Payload Too Large"})
    changed = wait_for_reply(stack, ts, "*The error changed*")
    assert "413 Payload Too Large" in changed

    assert "⚠️ *Error changed* — answered by" in json.dumps(answered_prompt(stack, second)["blocks"], ensure_ascii=False)

    at(stack, 30)
    third = stack.wait_while_scheduling(lambda: checkins(stack, ts)[2] if len(checkins(stack, ts)) > 2 else None)
    click_on(stack, third, "checkin_worked")
    assert "The retry cycle ends" in wait_for_reply(stack, ts, "The retry cycle ends")
    assert answered_prompt(stack, third)["text"] == "Retry #3 for INC-1: worked"
    at(stack, 60)
    at(stack, 120)
    assert len(checkins(stack, ts)) == 3, "no check-in after it worked"
    with unit_of_work(stack.services.session_factory) as session:
        assert session.scalars(select(Workaround.state)).one() == WorkaroundState.WORKED
        outcomes = [
            (a.number, a.outcome, a.error_changed) for a in session.scalars(select(Attempt).order_by(Attempt.number))
        ]
    assert outcomes == [
        (1, AttemptOutcome.STILL_FAILING, False),
        (2, AttemptOutcome.ERROR_CHANGED, True),
        (3, AttemptOutcome.WORKED, False),
    ]


def test_error_changed_on_an_answered_check_in_is_answered_in_the_thread_without_a_form(stack: Stack) -> None:
    _, ts = open_incident(stack)
    start_retry_cycle(stack, ts)
    at(stack, 10)
    first = stack.wait_while_scheduling(lambda: (checkins(stack, ts) or [None])[0])
    stale = stack.platform.click_body(AGENT, "checkin_error_changed", channel_id=SUPPORT, message_ts=first["ts"])
    click_on(stack, first, "checkin_worked")
    answered_prompt(stack, first)
    stack.platform.post(stale, FORM_CONTENT_TYPE)
    assert "answered by" in told_in_thread(stack, AGENT, ts, "Retry #1 was already answered: ✅ *Worked*")
    assert stack.emulator.current_modal(AGENT) is None, "no form to fill in for nothing"


def test_check_ins_missed_while_the_bot_was_down_are_posted_once_and_marked_late(stack: Stack) -> None:
    _, ts = open_incident(stack)
    start_retry_cycle(stack, ts, time_box="240")
    at(stack, 45)  # the bot was down from minute 9 to 45: check-ins at 10, 20, 30 and 40 fell due meanwhile
    posted = stack.wait_while_scheduling(lambda: checkins(stack, ts))
    assert len(posted) == 1 and "_Posted late: it fell due while the bot was down or behind._" in json.dumps(
        posted[0]["blocks"]
    )
    at(stack, 54)
    assert len(checkins(stack, ts)) == 1, "the cycle carries on from now, not from the missed schedule"
    at(stack, 55)
    assert len(stack.wait_while_scheduling(lambda: checkins(stack, ts) if len(checkins(stack, ts)) == 2 else None)) == 2


def test_an_unanswered_check_in_pings_the_owner_once(stack: Stack) -> None:
    _, ts = open_incident(stack)
    start_retry_cycle(stack, ts)
    at(stack, 10)
    stack.wait_while_scheduling(lambda: checkins(stack, ts))
    at(stack, 15)
    assert f"🔔 <@{AGENT}> retry #1 for *INC-1* has no answer yet." in wait_for_reply(stack, ts, "has no answer yet")
    at(stack, 19)
    assert len([t for t in thread_texts(stack, ts) if "has no answer yet" in t]) == 1


def test_the_time_box_asks_the_owner_and_can_be_extended(stack: Stack) -> None:
    _, ts = open_incident(stack)
    start_retry_cycle(stack, ts, time_box="30")
    at(stack, 30)
    wait_for_reply(stack, ts, "Time box ended for INC-1")
    message = next(r for r in stack.emulator.replies(SUPPORT, ts) if r["text"] == "Time box ended for INC-1")
    assert "Extend it, escalate, or stop it and switch?" in json.dumps(message["blocks"], ensure_ascii=False)
    stale = stack.platform.click_body(ONCALL, "timebox_extend", channel_id=SUPPORT, message_ts=message["ts"])
    stack.clock.set(T0 + timedelta(minutes=31))
    click_on(stack, message, "timebox_extend")
    assert "extended the time box" in wait_for_reply(stack, ts, "extended the time box")
    answered = answered_prompt(stack, message)
    assert answered["text"] == "Time box ended for INC-1: extended"
    assert answered["blocks"][1]["elements"][0]["text"] == (
        f"⏱️ *Extended* to {shown_time(stack, 61)} — by <@{AGENT}> {shown_time(stack, 31)}"
    )
    stack.platform.post(stale, FORM_CONTENT_TYPE)
    told = told_in_thread(stack, ONCALL, ts, "already extended")
    assert told == f"This time box was already extended: it now ends {shown_time(stack, 61)}."
    with unit_of_work(stack.services.session_factory) as session:
        assert session.scalars(select(Workaround.ends_at)).one() == T0 + timedelta(minutes=61), "extended once"
    at(stack, 60)
    assert len([t for t in thread_texts(stack, ts) if "Time box ended" in t]) == 1
    at(stack, 61)
    stack.wait_while_scheduling(lambda: len([t for t in thread_texts(stack, ts) if "Time box ended" in t]) == 2)


def test_resolving_stops_workarounds_and_their_check_ins(stack: Stack) -> None:
    _, ts = open_incident(stack)
    start_retry_cycle(stack, ts)
    stack.platform.slash_command(AGENT, SUPPORT, text="workarounds")
    listed = stack.emulator.wait_for(
        lambda: next((e for e in ephemerals_for(stack, AGENT) if "Active workarounds (1)" in e), None)
    )
    assert "*INC-1*" in listed and "next check-in" in listed
    stack.platform.click_button(AGENT, "incident_change_status", channel_id=SUPPORT, message_ts=ts)
    modal = stack.emulator.wait_for(lambda: stack.emulator.current_modal(AGENT))
    stack.platform.submit_view(modal["id"], AGENT, {"status": "resolved", "severity": "SEV1"})
    assert "1 workaround(s) and their check-ins stopped" in wait_for_reply(stack, ts, "check-ins stopped")
    at(stack, 30)
    assert checkins(stack, ts) == []


def test_a_check_in_left_unanswered_loses_its_buttons_when_the_incident_is_resolved(stack: Stack) -> None:
    _, ts = open_incident(stack)
    start_retry_cycle(stack, ts)
    at(stack, 10)
    first = stack.wait_while_scheduling(lambda: (checkins(stack, ts) or [None])[0])
    stack.platform.click_button(AGENT, "incident_change_status", channel_id=SUPPORT, message_ts=ts)
    modal = stack.emulator.wait_for(lambda: stack.emulator.current_modal(AGENT))
    stack.platform.submit_view(modal["id"], AGENT, {"status": "resolved", "severity": "SEV1"})
    closed = answered_prompt(stack, first)
    assert closed["blocks"][1]["elements"][0]["text"] == "⏹️ *No answer needed* — incident resolved"


def test_batching_records_partial_progress_and_the_failing_element(stack: Stack) -> None:
    _, ts = open_incident(stack)
    start_retry_cycle(stack, ts, workaround_kind="batching", description="Upload the 40 exhibits in batches of 5")
    stack.wait_while_scheduling(lambda: "Workaround progress" in json.dumps(root(stack, ts)["blocks"]))
    stack.platform.click_button(AGENT, "incident_workaround_progress", channel_id=SUPPORT, message_ts=ts)
    modal = stack.emulator.wait_for(lambda: stack.emulator.current_modal(AGENT))
    assert modal["title"]["text"] == "Workaround progress"
    too_many = stack.platform.submit_view(modal["id"], AGENT, {"batches_done": "41", "batches_total": "40"})
    assert "must be between 0 and the total" in too_many.json()["errors"]["progress_note"]
    done = stack.platform.submit_view(
        modal["id"], AGENT, {"batches_done": "12", "batches_total": "40", "failing_element": "exhibit-17.pdf"}
    )
    assert done.status == 200 and not done.body
    assert "12/40 batches (failing: exhibit-17.pdf)" in wait_for_reply(stack, ts, "updated progress")
    stack.wait_while_scheduling(lambda: "12/40 batches" in json.dumps(root(stack, ts)["blocks"]))
