"""A delivery that dies after Slack accepted its post (before committing) is not posted a second time.

Real PostgreSQL and the emulator over HTTP. The crash is injected: the first `chat.postMessage` reaches Slack,
then the delivering code raises before its transaction commits, as a killed process would leave it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import ManualClock
from bot.db import unit_of_work
from bot.integrations.outbox import LOOK_AHEAD, LOOK_BACK, POST_EVENT, OutboxDispatcher, enqueue_slack_call
from bot.integrations.slack import SlackGateway, build_web_client
from bot.integrations.workspaces import SlackWorkspaces
from bot.models import OutboxMessage, OutboxSend, OutboxState
from bot.sandbox.emulator import SlackEmulator, epoch_clock
from bot.sandbox.wsgi_server import RunningServer

CHANNEL = "CSUPPORT"


class Killed(Exception):
    """Stands for the process dying: nothing after it in the delivery runs, its transaction rolls back."""


class DiesAfterPosting(SlackGateway):
    """Slack takes the first post; then the 'process' dies before the delivery can commit."""

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
def slack(clock: ManualClock) -> Iterator[tuple[SlackEmulator, RunningServer]]:
    emulator = SlackEmulator(clock=epoch_clock(clock))  # Slack and the bot agree on the time, as in production
    emulator.add_channel("support", id=CHANNEL, members=[emulator.bot_user_id])
    server = emulator.serve()
    yield emulator, server
    server.stop()


def _gateway(emulator: SlackEmulator) -> SlackGateway:
    return SlackGateway(build_web_client(token=emulator.bot_token, base_url=emulator.api_url))


def _queue(factory: sessionmaker[Session], clock: ManualClock, key: str, **args: Any) -> None:
    with unit_of_work(factory) as session:
        enqueue_slack_call(
            session=session,
            key=key,
            operation="chat.postMessage",
            args={"channel": CHANNEL, "text": key, **args},
            purpose="thread_reply",
            now=clock.now(),
        )


def _state(factory: sessionmaker[Session], key: str) -> tuple[OutboxState, int, list[int]]:
    with unit_of_work(factory) as session:
        row = session.scalars(select(OutboxMessage).where(OutboxMessage.idempotency_key == key)).one()
        return row.state, row.attempts, list(session.scalars(select(OutboxSend.outbox_id)))


@pytest.mark.parametrize("in_thread", [False, True], ids=["top-level", "thread reply"])
def test_a_post_that_reached_slack_before_the_crash_is_found_not_repeated(
    session_factory: sessionmaker[Session],
    clock: ManualClock,
    slack: tuple[SlackEmulator, RunningServer],
    in_thread: bool,
) -> None:
    emulator, _ = slack
    extra = {"thread_ts": emulator.api("chat.postMessage", channel=CHANNEL, text="root")["ts"]} if in_thread else {}
    _queue(session_factory, clock, "INC-1:checkin:1", **extra)
    dying = OutboxDispatcher(
        session_factory=session_factory, workspaces=SlackWorkspaces(DiesAfterPosting(_gateway(emulator))), clock=clock
    )
    with pytest.raises(Killed):
        dying.deliver_due()
    state, attempts, sends = _state(session_factory, "INC-1:checkin:1")
    assert (state, attempts) == (OutboxState.PENDING, 0), "the delivery rolled back"
    assert len(sends) == 1, "but the record of the attempt survived"

    report = OutboxDispatcher(
        session_factory=session_factory, workspaces=SlackWorkspaces(_gateway(emulator)), clock=clock
    ).deliver_due()
    posts = [
        m for m in emulator.messages(CHANNEL) + (emulator.replies(CHANNEL, extra["thread_ts"]) if in_thread else [])
    ]
    mine = [m for m in posts if m.get("text") == "INC-1:checkin:1"]
    assert len(mine) == 1, "posted exactly once"
    assert mine[0]["metadata"] == {"event_type": POST_EVENT, "event_payload": {"outbox_key": "INC-1:checkin:1"}}
    assert report.sent == 1 and _state(session_factory, "INC-1:checkin:1")[0::2] == (OutboxState.SENT, [])


def test_an_attempt_that_never_reached_slack_is_posted_after_the_crash(
    session_factory: sessionmaker[Session], clock: ManualClock, slack: tuple[SlackEmulator, RunningServer]
) -> None:
    emulator, _ = slack
    _queue(session_factory, clock, "INC-1:checkin:2")
    emulator.fail_next("chat.postMessage", status=500, error="internal_error", times=2)  # the SDK retries once
    report = OutboxDispatcher(
        session_factory=session_factory, workspaces=SlackWorkspaces(_gateway(emulator)), clock=clock
    ).deliver_due()
    assert report.retrying == 1 and len(_state(session_factory, "INC-1:checkin:2")[2]) == 1
    clock.advance(timedelta(seconds=10))
    assert (
        OutboxDispatcher(session_factory=session_factory, workspaces=SlackWorkspaces(_gateway(emulator)), clock=clock)
        .deliver_due()
        .sent
        == 1
    )
    assert [m["text"] for m in emulator.messages(CHANNEL)] == ["INC-1:checkin:2"]
    assert _state(session_factory, "INC-1:checkin:2")[2] == [], "the record goes with the delivery"


@pytest.mark.parametrize(
    ("slack_ahead", "restart_after"),
    [
        (timedelta(0), timedelta(minutes=10)),
        (-LOOK_BACK, timedelta(0)),
        (LOOK_AHEAD, timedelta(0)),
        (-LOOK_BACK, timedelta(minutes=10)),
    ],
    ids=["restarted 10 min later", "Slack a minute behind", "posted a minute into the attempt", "both"],
)
def test_the_lookup_after_a_crash_reads_a_minute_either_side_of_the_attempt_not_of_the_retry(
    session_factory: sessionmaker[Session], clock: ManualClock, slack_ahead: timedelta, restart_after: timedelta
) -> None:
    """The post is searched for around when the attempt that died started (its record), whenever the retry comes and
    however far Slack's clock (or the attempt's own retries) put the post from it, up to a minute either way."""
    emulator = SlackEmulator(clock=lambda: (clock.now() + slack_ahead).timestamp())
    emulator.add_channel("support", id=CHANNEL, members=[emulator.bot_user_id])
    server = emulator.serve()
    try:
        attempted = clock.now()
        _queue(session_factory, clock, "INC-1:checkin:3")
        dying = OutboxDispatcher(
            session_factory=session_factory,
            workspaces=SlackWorkspaces(DiesAfterPosting(_gateway(emulator))),
            clock=clock,
        )
        with pytest.raises(Killed):
            dying.deliver_due()
        clock.advance(restart_after)

        report = OutboxDispatcher(
            session_factory=session_factory, workspaces=SlackWorkspaces(_gateway(emulator)), clock=clock
        ).deliver_due()

        assert [m["text"] for m in emulator.messages(CHANNEL)] == ["INC-1:checkin:3"], "posted exactly once"
        assert report.sent == 1 and _state(session_factory, "INC-1:checkin:3")[0] == OutboxState.SENT
        windows = [(float(c.args["oldest"]), float(c.args["latest"])) for c in emulator.calls("conversations.history")]
        assert windows == [((attempted - LOOK_BACK).timestamp(), (attempted + LOOK_AHEAD).timestamp())]
        assert LOOK_BACK == LOOK_AHEAD == timedelta(minutes=1)
    finally:
        server.stop()
