"""`respond()` as every listener and the error handler get it: only Slack's hosts, never for long."""

from __future__ import annotations

import time

import pytest
from slack_bolt import BoltContext

from bot.integrations.respond import RESPOND_TIMEOUT_SECONDS, SlackRespond
from bot.integrations.slack_hosts import SlackHosts
from bot.listeners.errors import handle_unexpected_error
from bot.listeners.verification import VERIFIED
from tests.security.attacker import listening_attacker


def test_a_response_url_on_another_host_is_dropped_without_a_request(caplog: pytest.LogCaptureFixture) -> None:
    with listening_attacker() as attacker:
        respond = SlackRespond(response_url=f"{attacker.url}/collect", hosts=SlackHosts())

        answer = respond(text="hello", response_type="ephemeral")

        assert answer.status_code == 0
        assert attacker.seen() == []
    assert any("response_url is not on Slack's hosts" in r.getMessage() for r in caplog.records)


def test_the_emulators_response_url_is_posted_to_and_given_up_on_after_the_timeout() -> None:
    """A host that holds the call (allowed here because SLACK_API_URL names it) keeps respond() only `timeout`."""
    with listening_attacker(hold_seconds=10) as slow:
        respond = SlackRespond(
            response_url=f"{slow.url}/response/1", hosts=SlackHosts.for_api_url(f"{slow.url}/api/"), timeout=1
        )
        started = time.perf_counter()
        with pytest.raises(OSError):  # the socket timeout, as WebhookClient raises it
            respond(text="hello")
        assert time.perf_counter() - started < 3
        assert [r.path for r in slow.seen()] == ["/response/1"]
    assert RESPOND_TIMEOUT_SECONDS <= 5, "a few seconds, not WebhookClient's 30"


@pytest.mark.parametrize("verified", [False, True])
def test_the_error_handler_answers_only_verified_requests(verified: bool) -> None:
    with listening_attacker() as attacker:
        url = f"{attacker.url}/response/1"
        hosts = SlackHosts.for_api_url(f"{attacker.url}/api/")  # even a host respond() would post to
        context = BoltContext({VERIFIED: True} if verified else {})

        handle_unexpected_error(
            RuntimeError("boom"), {"response_url": url}, SlackRespond(response_url=url, hosts=hosts), context
        )

        assert len(attacker.seen()) == (1 if verified else 0)
