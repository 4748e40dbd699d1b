"""Work that waits for the response to leave (`ThenAfterResponse`): run once, after the body, never dropped."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bot.observability.context import AfterResponse, current_scope
from bot.web import ThenAfterResponse, WebApp


def _waiting(events: list[str]) -> AfterResponse:
    after = AfterResponse()
    assert after.add(lambda: events.append("answered"))
    return after


def test_with_the_length_given_the_work_runs_once_the_server_has_sent_the_body() -> None:
    events: list[str] = []
    response = ThenAfterResponse([b"ack"], _waiting(events), sent_whole=True)
    for block in response:  # as a PEP 3333 server does: send each block before asking for the next
        events.append(f"sent {block.decode()}")
    assert events == ["sent ack", "answered"]
    response.close()
    assert events == ["sent ack", "answered"], "once"


def test_without_the_length_the_work_waits_for_the_servers_close() -> None:
    events: list[str] = []
    response = ThenAfterResponse([b"ack"], _waiting(events), sent_whole=False)
    assert list(response) == [b"ack"] and events == []
    response.close()
    assert events == ["answered"]


def test_a_response_the_server_stopped_sending_still_gets_its_work_done_and_its_body_closed() -> None:
    events: list[str] = []

    def body() -> Iterator[bytes]:
        try:
            yield b"a"
            yield b"b"
        finally:
            events.append("body closed")

    response = ThenAfterResponse(body(), _waiting(events), sent_whole=True)
    next(iter(response))  # the client went away after the first block
    response.close()
    assert events == ["body closed", "answered"]


def test_nothing_joins_the_work_once_it_has_started() -> None:
    events: list[str] = []
    after = _waiting(events)
    after.run()
    assert after.add(lambda: events.append("late")) is False
    assert events == ["answered"]


def test_work_added_before_bolt_raised_still_runs() -> None:
    events: list[str] = []

    def bolt_that_raises(_environ: dict[str, Any], _start_response: Any) -> list[bytes]:
        scope = current_scope()
        assert scope is not None and scope.after_response is not None
        scope.after_response.add(lambda: events.append("answered"))
        raise ValueError("a body Bolt could not read")

    web = WebApp.__new__(WebApp)  # only its Slack handler is used here
    web.slack = bolt_that_raises  # type: ignore[assignment]
    with pytest.raises(ValueError):
        web.slack_events({}, lambda *_: None)
    assert events == ["answered"]
