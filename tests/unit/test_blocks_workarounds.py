"""Unit tests of the workaround prompts: check-ins and time-box questions, before and after they are answered."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from blocks.incident import Message
from blocks.workarounds import (
    already_answered,
    answered_checkin,
    answered_timebox,
    checkin_message,
    timebox_message,
    unanswerable_checkin,
    unanswerable_timebox,
)
from bot.models import Attempt, AttemptOutcome, Workaround, WorkaroundKind, WorkaroundState
from tests.builders import an_incident
from tests.conftest import T0

UTC_ZONE = ZoneInfo("UTC")
AT_09_10 = "<!date^1796029800^{date_short_pretty} {time}|Mon 30 Nov 09:10 UTC>"
AT_10_00 = "<!date^1796032800^{date_short_pretty} {time}|Mon 30 Nov 10:00 UTC>"


def a_workaround(**changes: Any) -> Workaround:
    fields: dict[str, Any] = {
        "id": 3,
        "incident_id": 7,
        "kind": WorkaroundKind.RETRY_CYCLE,
        "state": WorkaroundState.ACTIVE,
        "description": "Retry the <upload> from Chrome",
        "client_expectation": "Every 10 min",
        "owner_id": "UOWNER",
        "started_at": T0,
        "ends_at": T0 + timedelta(hours=1),
        "interval_minutes": 10,
    }
    return Workaround(**{**fields, **changes})


def an_attempt(outcome: AttemptOutcome, **changes: Any) -> Attempt:
    fields: dict[str, Any] = {"workaround_id": 3, "number": 2, "at": T0 + timedelta(minutes=10), "actor_id": "USAM"}
    return Attempt(outcome=outcome, **{**fields, **changes})


def blocks_of(message: Message) -> Any:
    return message.as_args()["blocks"]


def kinds(message: Message) -> list[str]:
    return [b["type"] for b in blocks_of(message)]


def answer_of(message: Message) -> str:
    return str(blocks_of(message)[1]["elements"][0]["text"])


def test_a_check_in_asks_with_three_buttons_naming_the_workaround_and_the_retry() -> None:
    message = checkin_message(an_incident(), a_workaround(), 2, late=False)
    blocks = blocks_of(message)
    assert blocks[0]["text"]["text"] == "🔁 *Retry #2 for INC-7 is due* — Retry the &lt;upload&gt; from Chrome"
    assert [(e["text"]["text"], e["value"]) for e in blocks[1]["elements"]] == [
        ("Worked", "3:2"),
        ("Still failing", "3:2"),
        ("Error changed", "3:2"),
    ]


def test_an_answered_check_in_keeps_its_question_and_says_who_answered_what_and_when() -> None:
    asked = checkin_message(an_incident(), a_workaround(), 2, late=False)
    for outcome, said in [
        (AttemptOutcome.WORKED, "✅ *Worked*"),
        (AttemptOutcome.STILL_FAILING, "🔁 *Still failing*"),
        (AttemptOutcome.ERROR_CHANGED, "⚠️ *Error changed*"),
    ]:
        answered = answered_checkin(an_incident(), a_workaround(), an_attempt(outcome), UTC_ZONE)
        assert kinds(answered) == ["section", "context"], "no buttons left"
        assert blocks_of(answered)[0] == blocks_of(asked)[0]
        assert answer_of(answered) == f"{said} — answered by <@USAM> {AT_09_10}"
    worked = answered_checkin(an_incident(), a_workaround(), an_attempt(AttemptOutcome.WORKED), UTC_ZONE)
    assert worked.text == "Retry #2 for INC-7: worked"


def test_a_second_answer_is_told_the_first() -> None:
    text = already_answered(an_attempt(AttemptOutcome.STILL_FAILING), UTC_ZONE)
    assert text == f"Retry #2 was already answered: 🔁 *Still failing* — answered by <@USAM> {AT_09_10}."


def test_the_time_box_question_names_itself_in_its_buttons_and_gives_way_to_the_answer() -> None:
    asked = timebox_message(an_incident(), a_workaround(), prompt=41)
    blocks = blocks_of(asked)
    assert [(e["action_id"], e["value"]) for e in blocks[1]["elements"]] == [
        ("timebox_extend", "3:41"),
        ("incident_escalate", "7"),
        ("timebox_stop", "3:41"),
    ]
    extended = answered_timebox(
        an_incident(), a_workaround(), actor_id="USAM", at=T0 + timedelta(minutes=10), zone=UTC_ZONE, extended=True
    )
    assert kinds(extended) == ["section", "context"] and extended.text == "Time box ended for INC-7: extended"
    assert answer_of(extended) == f"⏱️ *Extended* to {AT_10_00} — by <@USAM> {AT_09_10}"
    stopped = answered_timebox(
        an_incident(), a_workaround(), actor_id="USAM", at=T0 + timedelta(minutes=10), zone=UTC_ZONE, extended=False
    )
    assert answer_of(stopped) == f"⏹️ *Stopped* to switch — by <@USAM> {AT_09_10}"


def test_prompts_left_unanswered_when_the_workaround_ends_say_why_no_answer_is_needed() -> None:
    checkin = unanswerable_checkin(an_incident(), a_workaround(), 1, "incident resolved")
    timebox = unanswerable_timebox(an_incident(), a_workaround(), "retry #2 <worked>")
    assert kinds(checkin) == kinds(timebox) == ["section", "context"]
    assert answer_of(checkin) == "⏹️ *No answer needed* — incident resolved"
    assert answer_of(timebox) == "⏹️ *No answer needed* — retry #2 &lt;worked&gt;"
