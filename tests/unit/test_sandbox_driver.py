"""The sandbox's plumbing without HTTP: form values for the platform, typed text, the clock, the change feed."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.sandbox.platform import build_state_values
from bot.sandbox.web.changes import ChangeFeed
from bot.sandbox.web.clock import SandboxClock
from bot.sandbox.web.driver import REQUIRED_FIELD, FormField, form_values, missing_required
from bot.sandbox.web.workspace import encode_user_text

JsonDict = dict[str, Any]


def text_input(block_id: str, action_id: str, *, optional: bool = False) -> JsonDict:
    return {
        "type": "input",
        "block_id": block_id,
        "optional": optional,
        "label": {"type": "plain_text", "text": block_id},
        "element": {"type": "plain_text_input", "action_id": action_id},
    }


def field(block_id: str, value: Any, action_id: str | None = None, type: str = "plain_text_input") -> FormField:
    return FormField(block_id, action_id or block_id, type, value)


def submitted(blocks: list[JsonDict], fields: Iterable[FormField]) -> JsonDict:
    return build_state_values(blocks, form_values(blocks, fields), enforce_required=False)


def test_values_are_keyed_so_the_platform_puts_each_in_its_own_input() -> None:
    blocks = [
        text_input("client", "client"),
        text_input("b1", "note"),
        text_input("b2", "note"),
        text_input("b3", "b1"),
    ]
    fields = [
        field("client", "Acme"),
        field("b1", "one", "note"),
        field("b2", "two", "note"),
        field("b3", "three", "b1"),
    ]
    with pytest.raises(ValueError, match="cannot be told apart"):
        form_values(blocks, fields)
    unambiguous = blocks[:3]
    state = submitted(unambiguous, fields[:3])
    assert state == {
        "client": {"client": {"type": "plain_text_input", "value": "Acme"}},
        "b1": {"note": {"type": "plain_text_input", "value": "one"}},
        "b2": {"note": {"type": "plain_text_input", "value": "two"}},
    }


def test_empty_values_are_sent_as_slack_sends_them() -> None:
    assert field("t", "").normalized() is None
    assert field("s", None, type="static_select").normalized() is None
    assert field("c", ["premium", ""], type="checkboxes").normalized() == ["premium"]
    assert field("c", None, type="checkboxes").normalized() == []
    assert field("d", "1796036750", type="datetimepicker").normalized() == 1796036750
    assert field("d", "", type="datetimepicker").normalized() is None
    with pytest.raises(ValueError, match="cannot submit"):
        field("x", "1", type="file_input").normalized()


def test_a_cleared_prefilled_input_is_submitted_empty() -> None:
    prefilled = text_input("region", "region", optional=True)
    prefilled["element"]["initial_value"] = "eu-west"
    assert submitted([prefilled], [field("region", "")]) == {
        "region": {"region": {"type": "plain_text_input", "value": None}}
    }


def test_required_inputs_must_have_a_value() -> None:
    blocks = [text_input("client", "client"), text_input("region", "region", optional=True), {"type": "divider"}]
    fields = [field("client", "  "), field("region", "")]
    assert missing_required(blocks, [field("client", ""), field("region", "")]) == {"client": REQUIRED_FIELD}
    assert missing_required(blocks, [field("client", "Acme")]) == {}
    assert missing_required(blocks, fields) == {}, "whitespace is a value to Slack; the bot judges it"


def test_typed_text_is_escaped_and_known_names_become_mentions() -> None:
    handles = {"olu": "U0ONCALL", "triage-bot": "UBOT"}
    channels = {"support": "C0SUPPORT"}
    text = "@olu see #support & <script> @nobody #nowhere mail@olu.example @triage-bot"
    assert encode_user_text(text, handles, channels) == (
        "<@U0ONCALL> see <#C0SUPPORT|support> &amp; &lt;script&gt; @nobody #nowhere mail@olu.example <@UBOT>"
    )


class FixedSource:
    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment


def test_the_clock_follows_real_time_plus_what_was_fast_forwarded() -> None:
    source = FixedSource(datetime(2026, 11, 30, 9, 0, tzinfo=UTC))
    clock = SandboxClock(source=source)
    assert clock.now() == source.moment and clock.epoch() == source.moment.timestamp()
    assert clock.advance(timedelta(minutes=10)) == datetime(2026, 11, 30, 9, 10, tzinfo=UTC)
    source.moment += timedelta(minutes=1)
    assert clock.now() == datetime(2026, 11, 30, 9, 11, tzinfo=UTC)
    assert clock.offset == timedelta(minutes=10)
    with pytest.raises(ValueError):
        clock.advance(timedelta(0))


def test_the_clock_catches_up_with_an_earlier_run_but_never_goes_back() -> None:
    source = FixedSource(datetime(2026, 11, 30, 9, 0, tzinfo=UTC))
    clock = SandboxClock(source=source)
    clock.catch_up(datetime(2026, 11, 30, 11, 30, tzinfo=UTC))
    assert clock.now() == datetime(2026, 11, 30, 11, 30, tzinfo=UTC)
    clock.catch_up(datetime(2026, 11, 30, 8, 0, tzinfo=UTC))
    assert clock.offset == timedelta(hours=2, minutes=30)


def test_the_clock_tells_its_listeners_of_every_move_and_restores_an_earlier_runs_offset() -> None:
    source = FixedSource(datetime(2026, 11, 30, 9, 0, tzinfo=UTC))
    clock = SandboxClock(source=source)
    moves: list[timedelta] = []
    clock.on_move(moves.append)
    clock.advance(timedelta(minutes=10))
    clock.catch_up(datetime(2026, 11, 30, 10, 0, tzinfo=UTC))
    clock.catch_up(datetime(2026, 11, 30, 9, 30, tzinfo=UTC))  # behind it already: no move
    clock.restore(timedelta(minutes=30))  # less than it is ahead: no move
    clock.restore(timedelta(hours=2))
    assert moves == [timedelta(minutes=10), timedelta(hours=1), timedelta(hours=2)]
    assert clock.now() == datetime(2026, 11, 30, 11, 0, tzinfo=UTC)


def test_the_change_feed_wakes_waiters_and_times_out() -> None:
    feed = ChangeFeed()
    assert feed.wait(since=-1, timeout=5) == 0, "a stale version answers at once"
    started = time.monotonic()
    assert feed.wait(since=0, timeout=0.05) == 0
    assert time.monotonic() - started >= 0.05
    threading.Timer(0.05, feed.bump).start()
    assert feed.wait(since=0, timeout=5) == 1
    threading.Timer(0.05, feed.close).start()
    started = time.monotonic()
    assert feed.wait(since=1, timeout=5) == 1
    assert time.monotonic() - started < 2, "closing releases long polls"


def test_the_change_feed_counts_web_api_calls_that_can_write() -> None:
    feed = ChangeFeed()

    def emulator(environ: JsonDict, start_response: Any) -> list[bytes]:
        start_response("200 OK", [])
        return [b"{}"]

    watched = feed.watch(emulator)
    for path in ("/api/users.info", "/api/conversations.history", "/health"):
        assert list(watched({"PATH_INFO": path}, lambda *_: None)) == [b"{}"]
    assert feed.version == 0
    for path in ("/api/chat.postMessage", "/api/views.open", "/response/abc"):
        watched({"PATH_INFO": path}, lambda *_: None)
    assert feed.version == 3
