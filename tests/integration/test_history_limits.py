"""History reads within what Slack allows a distributed app without Marketplace approval: one conversations.history or
conversations.replies call a minute, 15 messages each. Real PostgreSQL and the strict emulator over HTTP, on the
bot's clock (Slack and the bot agree on the time, as in production).

The resend lookup after a crash makes one call around the attempt; a post Slack refused (429) needs no lookup at all;
a 429 on the lookup waits its Retry-After in the outbox, not in a thread, and never becomes a storm of calls.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import ManualClock
from bot.db import unit_of_work
from bot.integrations.outbox import OutboxDispatcher, enqueue_slack_call
from bot.integrations.slack import RESEND_LOOKUP_SIZE, SlackGateway, build_web_client
from bot.integrations.workspaces import SlackWorkspaces
from bot.models import OutboxMessage, OutboxSend, OutboxState
from bot.sandbox.emulator import RateLimits, SlackEmulator, epoch_clock

CHANNEL, PERSON = "CSUPPORT", "UAGENT"
HISTORY = ("conversations.history", "conversations.replies")


class Killed(Exception):
    """Stands for the process dying after Slack took the post, before the delivery committed."""


class DiesAfterPosting(SlackGateway):
    def __init__(self, gateway: SlackGateway) -> None:
        super().__init__(gateway.client)
        self.deaths = 1

    def call(self, operation: str, args: dict[str, Any]) -> dict[str, Any]:
        result = super().call(operation, args)
        if operation == "chat.postMessage" and self.deaths:
            self.deaths -= 1
            raise Killed
        return result


@pytest.fixture
def emulator(clock: ManualClock) -> Iterator[SlackEmulator]:
    emu = SlackEmulator(clock=epoch_clock(clock), rate_limits=RateLimits(distributed=True, post_burst=200))
    emu.add_user(PERSON, "agent")
    emu.add_channel("support", id=CHANNEL, members=[emu.bot_user_id, PERSON])
    server = emu.serve()
    yield emu
    server.stop()


def dispatcher(factory: sessionmaker[Session], clock: ManualClock, gateway: SlackGateway) -> OutboxDispatcher:
    return OutboxDispatcher(session_factory=factory, workspaces=SlackWorkspaces(gateway), clock=clock)


def gateway(emulator: SlackEmulator) -> SlackGateway:
    return SlackGateway(build_web_client(token=emulator.bot_token, base_url=emulator.api_url))


def queue_post(factory: sessionmaker[Session], clock: ManualClock, key: str, **args: Any) -> None:
    with unit_of_work(factory) as session:
        enqueue_slack_call(
            session=session,
            key=key,
            operation="chat.postMessage",
            args={"channel": CHANNEL, "text": key, **args},
            purpose="thread_reply",
            now=clock.now(),
        )


def row(factory: sessionmaker[Session], key: str) -> OutboxMessage:
    with unit_of_work(factory) as session:
        found = session.scalars(select(OutboxMessage).where(OutboxMessage.idempotency_key == key)).one()
        session.expunge(found)
        return found


def send_records(factory: sessionmaker[Session]) -> list[int]:
    with unit_of_work(factory) as session:
        return list(session.scalars(select(OutboxSend.outbox_id)))


def history_calls(emulator: SlackEmulator) -> list[dict[str, Any]]:
    return [{"method": c.method, **c.args, "answer": c.response} for c in emulator.calls() if c.method in HISTORY]


def posts_of(emulator: SlackEmulator, key: str, thread_ts: str | None = None) -> list[dict[str, Any]]:
    messages = emulator.replies(CHANNEL, thread_ts) if thread_ts else emulator.messages(CHANNEL)
    return [m for m in messages if m.get("text") == key]


def long_thread(emulator: SlackEmulator, clock: ManualClock, replies: int) -> str:
    """A thread of `replies` people's replies, five minutes old."""
    root = emulator.api("chat.postMessage", channel=CHANNEL, text="INC-1 root")["ts"]
    for n in range(replies):
        emulator.post_user_message(CHANNEL, PERSON, f"reply {n}", thread_ts=root)
    clock.advance(timedelta(minutes=5))
    return str(root)


def test_after_a_crash_the_post_is_found_with_one_read_of_fifteen_messages_around_the_attempt(
    session_factory: sessionmaker[Session], clock: ManualClock, emulator: SlackEmulator
) -> None:
    """At the end of a 60-reply thread: reading the whole thread would take four calls, three of them a minute
    apart; the lookup reads the messages around the attempt once."""
    thread_ts = long_thread(emulator, clock, replies=60)
    queue_post(session_factory, clock, "INC-1:checkin:1", thread_ts=thread_ts)
    with pytest.raises(Killed):
        dispatcher(session_factory, clock, DiesAfterPosting(gateway(emulator))).deliver_due()

    started = time.monotonic()
    report = dispatcher(session_factory, clock, gateway(emulator)).deliver_due()

    assert time.monotonic() - started < 5, "no thread waited out a rate limit"
    assert report.sent == 1 and row(session_factory, "INC-1:checkin:1").state == OutboxState.SENT
    assert len(posts_of(emulator, "INC-1:checkin:1", thread_ts)) == 1, "found, not posted again"
    (lookup,) = history_calls(emulator)
    assert lookup["method"] == "conversations.replies" and lookup["answer"]["ok"]
    assert int(lookup["limit"]) <= RESEND_LOOKUP_SIZE
    assert float(lookup["oldest"]) < float(thread_ts) + 5 * 60 < float(lookup["latest"]), "around the attempt"


def test_a_lookup_answered_429_waits_in_the_outbox_and_is_made_once_more_after_retry_after(
    session_factory: sessionmaker[Session], clock: ManualClock, emulator: SlackEmulator
) -> None:
    emulator.api("conversations.history", channel=CHANNEL)  # this minute's one history read is spent
    queue_post(session_factory, clock, "INC-1:notice")
    with pytest.raises(Killed):
        dispatcher(session_factory, clock, DiesAfterPosting(gateway(emulator))).deliver_due()

    started = time.monotonic()
    first = dispatcher(session_factory, clock, gateway(emulator)).deliver_due()
    assert time.monotonic() - started < 5, "the 60 s Retry-After is not slept in the delivering thread"
    waiting = row(session_factory, "INC-1:notice")
    assert first.retrying == 1 and waiting.state == OutboxState.PENDING
    assert waiting.next_attempt_at >= clock.now() + timedelta(seconds=60), "Slack's Retry-After is honoured"
    assert "ratelimited" in (waiting.last_error or "")
    assert dispatcher(session_factory, clock, gateway(emulator)).deliver_due().claimed == 0, "nothing before then"

    clock.advance(timedelta(seconds=60))
    second = dispatcher(session_factory, clock, gateway(emulator)).deliver_due()
    assert second.sent == 1 and len(posts_of(emulator, "INC-1:notice")) == 1, "found after the wait, not reposted"
    assert [c["answer"].get("error", "ok") for c in history_calls(emulator)] == ["ok", "ratelimited", "ok"]


def test_a_post_slack_refused_is_sent_again_without_reading_history(
    session_factory: sessionmaker[Session], clock: ManualClock, emulator: SlackEmulator
) -> None:
    """A 429 says Slack posted nothing: the next attempt posts at once, with no lookup to spend the minute's read on."""
    emulator.fail_next("chat.postMessage", status=429, retry_after=30)
    queue_post(session_factory, clock, "INC-1:page")
    first = dispatcher(session_factory, clock, gateway(emulator)).deliver_due()
    assert first.retrying == 1 and send_records(session_factory) == []

    clock.advance(timedelta(seconds=30))
    second = dispatcher(session_factory, clock, gateway(emulator)).deliver_due()
    assert second.sent == 1 and len(posts_of(emulator, "INC-1:page")) == 1
    assert history_calls(emulator) == []


def test_a_post_whose_fate_is_unknown_is_still_looked_up(
    session_factory: sessionmaker[Session], clock: ManualClock, emulator: SlackEmulator
) -> None:
    """After a 500 Slack may have posted: the record stays, and the next attempt looks (once) before posting."""
    emulator.fail_next("chat.postMessage", status=500, error="internal_error", times=2)  # the SDK retries once
    queue_post(session_factory, clock, "INC-1:update")
    dispatcher(session_factory, clock, gateway(emulator)).deliver_due()
    assert len(send_records(session_factory)) == 1

    clock.advance(timedelta(seconds=10))
    assert dispatcher(session_factory, clock, gateway(emulator)).deliver_due().sent == 1
    assert [c["method"] for c in history_calls(emulator)] == ["conversations.history"]
    assert len(posts_of(emulator, "INC-1:update")) == 1
