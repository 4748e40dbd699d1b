"""SlackGateway.call goes through slack_sdk's typed WebClient methods: each Web API method encoded as Slack reads it."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from typing import Any

import pytest
from slack_sdk import WebClient

from bot.integrations.slack import (
    SLACK_METHODS,
    UNKNOWN_OPERATION,
    SlackCallError,
    SlackGateway,
    UnknownSlackOperation,
    build_web_client,
    check_operation,
)
from bot.sandbox.emulator import SlackEmulator
from bot.sandbox.emulator.spec import method_spec
from bot.sandbox.wsgi_server import start_background_server


class ContentTypes:
    """The emulator behind a recorder of each request's method and Content-Type."""

    def __init__(self, emulator: SlackEmulator) -> None:
        self.emulator = emulator
        self.seen: list[tuple[str, str]] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        method = str(environ.get("PATH_INFO", "")).removeprefix("/api/")
        self.seen.append((method, str(environ.get("CONTENT_TYPE", "")).split(";")[0]))
        return self.emulator.wsgi_app(environ, start_response)


@pytest.fixture
def recorded() -> Iterator[tuple[SlackEmulator, ContentTypes, SlackGateway]]:
    emulator = SlackEmulator()
    emulator.add_user("U1", "alice")
    emulator.add_channel("support", id="CSUPPORT", members=["U1", emulator.bot_user_id])
    emulator.add_usergroup("S1", "oncall", ["U1"])
    recorder = ContentTypes(emulator)
    server = start_background_server(recorder)
    emulator.base_url = server.url
    yield emulator, recorder, SlackGateway(build_web_client(token=emulator.bot_token, base_url=emulator.api_url))
    server.stop()


def test_every_operation_has_a_typed_method_and_is_a_web_api_method_slack_describes() -> None:
    for operation, typed in SLACK_METHODS.items():
        assert callable(getattr(WebClient, typed)), operation
        assert method_spec(operation) is not None, operation


def test_each_method_is_sent_the_way_slack_reads_it(recorded: tuple[SlackEmulator, ContentTypes, SlackGateway]) -> None:
    _, recorder, gateway = recorded
    posted = gateway.call("chat.postMessage", {"channel": "CSUPPORT", "text": "root", "metadata": None})
    link = gateway.call("chat.getPermalink", {"channel": "CSUPPORT", "message_ts": posted["ts"]})
    assert link["permalink"].startswith("https://")
    assert gateway.call("conversations.replies", {"channel": "CSUPPORT", "ts": posted["ts"]})["messages"]
    assert gateway.call("usergroups.users.list", {"usergroup": "S1"})["users"] == ["U1"]
    json_methods = {m for m, kind in recorder.seen if kind == "application/json"}
    assert json_methods == {"chat.postMessage"}
    for method, _ in recorder.seen:
        spec = method_spec(method)
        assert spec is not None and (method in json_methods) <= spec.accepts_json


def test_an_unknown_operation_is_refused_loudly_and_for_good(
    recorded: tuple[SlackEmulator, ContentTypes, SlackGateway], caplog: pytest.LogCaptureFixture
) -> None:
    _, recorder, gateway = recorded
    with pytest.raises(UnknownSlackOperation):
        check_operation("chat.postMesage")
    with caplog.at_level(logging.ERROR), pytest.raises(SlackCallError) as raised:
        gateway.call("chat.postMesage", {"channel": "CSUPPORT", "text": "typo"})
    assert (raised.value.error, raised.value.retryable) == (UNKNOWN_OPERATION, False)
    assert "chat.postMesage" in caplog.text and recorder.seen == [], "nothing was sent"


def test_a_short_retry_after_is_waited_by_the_sdk_and_a_long_one_left_to_the_outbox(
    recorded: tuple[SlackEmulator, ContentTypes, SlackGateway],
) -> None:
    emulator, _, gateway = recorded
    emulator.fail_next("users.info", status=429, retry_after=0)
    assert gateway.call("users.info", {"user": "U1"})["user"]["id"] == "U1", "retried once by the SDK"

    emulator.fail_next("users.info", status=429, retry_after=60)
    started = time.monotonic()
    with pytest.raises(SlackCallError) as raised:
        gateway.call("users.info", {"user": "U1"})
    assert time.monotonic() - started < 2, "not slept in the calling thread"
    assert (raised.value.retryable, raised.value.retry_after, raised.value.refused) == (True, 60.0, True)


def test_an_error_slack_answered_says_nothing_happened_a_server_error_does_not(
    recorded: tuple[SlackEmulator, ContentTypes, SlackGateway],
) -> None:
    emulator, _, gateway = recorded
    with pytest.raises(SlackCallError) as refused:
        gateway.call("chat.postMessage", {"channel": "CNOWHERE", "text": "x"})
    emulator.fail_next("chat.postMessage", status=500, error="internal_error", times=2)
    with pytest.raises(SlackCallError) as unknown:
        gateway.call("chat.postMessage", {"channel": "CSUPPORT", "text": "x"})
    assert (refused.value.error, refused.value.refused) == ("channel_not_found", True)
    assert (unknown.value.error, unknown.value.refused, unknown.value.retryable) == ("internal_error", False, True)
