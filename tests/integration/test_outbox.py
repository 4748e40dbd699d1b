"""The outbox on real PostgreSQL, with a scripted Slack gateway standing in for the network."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import ManualClock
from bot.db import unit_of_work
from bot.integrations.outbox import (
    POST_EVENT,
    ROOT_EDIT,
    OutboxDispatcher,
    backoff,
    enqueue_slack_call,
    request_root_refresh,
    undelivered_summary,
)
from bot.integrations.rate_budgets import Pacing
from bot.integrations.slack import SlackCallError, SlackGateway, UnknownSlackOperation
from bot.integrations.workspaces import SlackWorkspaces
from bot.models import Incident, OutboxMessage, OutboxState
from tests.conftest import T0
from tests.integration.test_open_incident import _open


def metadata_for(key: str) -> dict[str, Any]:
    return {"event_type": POST_EVENT, "event_payload": {"outbox_key": key}}


class ScriptedSlack(SlackGateway):
    """Answers like Slack; `failures` lists errors to raise on the next calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.failures: list[SlackCallError] = []
        self.accepted: list[dict[str, Any]] = []  # the messages Slack took, with their ts
        self._ts = 0

    def call(self, operation: str, args: dict[str, Any]) -> dict[str, Any]:
        self.calls.append((operation, args))
        if self.failures:
            raise self.failures.pop(0)
        self._ts += 1
        self.accepted.append({**args, "ts": f"1700000000.{self._ts:06d}"})
        return {"ok": True, "channel": args.get("channel"), "ts": f"1700000000.{self._ts:06d}"}

    def find_posted(
        self,
        channel: str,
        *,
        matches: Callable[[dict[str, Any]], bool],
        thread_ts: str | None,
        oldest: float,
        latest: float,
    ) -> dict[str, Any] | None:
        return next((m for m in self.accepted if m.get("channel") == channel and matches(m)), None)


def _queue_root_and_reply(factory: sessionmaker[Session], clock: ManualClock, incident_id: int) -> None:
    with unit_of_work(factory) as session:
        enqueue_slack_call(
            session=session,
            key="root",
            operation="chat.postMessage",
            args={"channel": "CSUPPORT", "text": "root"},
            purpose="root_message",
            now=clock.now(),
            incident_id=incident_id,
            records_root=True,
        )
        enqueue_slack_call(
            session=session,
            key="reply",
            operation="chat.postMessage",
            args={"text": "reply"},
            purpose="oncall_page",
            now=clock.now(),
            incident_id=incident_id,
            in_thread=True,
        )


def test_root_is_posted_then_replies_go_into_its_thread(
    session_factory: sessionmaker[Session], clock: ManualClock
) -> None:
    incident_id = _open(session_factory, "view:1")
    _queue_root_and_reply(session_factory, clock, incident_id)
    slack = ScriptedSlack()
    report = OutboxDispatcher(
        session_factory=session_factory, workspaces=SlackWorkspaces(slack), clock=clock
    ).deliver_due()
    assert (report.sent, report.retrying) == (2, 0)
    assert slack.calls[1] == (
        "chat.postMessage",
        {"text": "reply", "channel": "CSUPPORT", "thread_ts": "1700000000.000001", "metadata": metadata_for("reply")},
    )
    with unit_of_work(session_factory) as session:
        assert session.get_one(Incident, incident_id).root_ts == "1700000000.000001"


def test_an_edit_of_a_posted_message_waits_for_the_post_then_updates_that_message(
    session_factory: sessionmaker[Session], clock: ManualClock
) -> None:
    incident_id = _open(session_factory, "view:1")
    _queue_root_and_reply(session_factory, clock, incident_id)
    with unit_of_work(session_factory) as session:
        enqueue_slack_call(
            session=session,
            key="reply:answered",
            operation="chat.update",
            args={"text": "answered"},
            purpose="prompt_answered",
            now=clock.now(),
            incident_id=incident_id,
            edit_of="reply",
        )
    slack = ScriptedSlack()
    slack.failures = [SlackCallError("ratelimited", retryable=True, retry_after=30)]  # the root waits
    dispatcher = OutboxDispatcher(session_factory=session_factory, workspaces=SlackWorkspaces(slack), clock=clock)
    assert dispatcher.deliver_due().deferred == 2, "the reply waits for its root, the edit for the reply"
    sent = 0
    for _ in range(3):  # the 429 paused the channel: after Retry-After it is paced again, a post a second
        clock.advance(timedelta(seconds=30 if sent == 0 else 1))
        sent += dispatcher.deliver_due().sent
    assert sent == 3
    assert slack.calls[-1] == ("chat.update", {"text": "answered", "channel": "CSUPPORT", "ts": "1700000000.000002"})


def test_a_failed_post_is_kept_and_retried_after_retry_after(
    session_factory: sessionmaker[Session], clock: ManualClock
) -> None:
    incident_id = _open(session_factory, "view:1")
    _queue_root_and_reply(session_factory, clock, incident_id)
    slack = ScriptedSlack()
    slack.failures = [SlackCallError("ratelimited", retryable=True, retry_after=30)]
    dispatcher = OutboxDispatcher(session_factory=session_factory, workspaces=SlackWorkspaces(slack), clock=clock)
    report = dispatcher.deliver_due()
    assert (report.sent, report.retrying, report.deferred) == (0, 1, 1), "the reply waits for its root"
    with unit_of_work(session_factory) as session:
        assert undelivered_summary(session=session, incident_id=incident_id)[0] == (
            "Slack root message: pending — retrying (attempt 1, last error: ratelimited)"
        )
    clock.advance(timedelta(seconds=29))
    assert dispatcher.deliver_due().sent == 0, "Retry-After is honoured"
    clock.advance(timedelta(seconds=2))
    assert dispatcher.deliver_due().sent == 2, "the channel paused by the 429 is paced again: a post a second"
    assert [op for op, _ in slack.calls].count("chat.postMessage") == 3


def test_a_permanent_error_is_marked_failed_with_a_hint(
    session_factory: sessionmaker[Session], clock: ManualClock
) -> None:
    incident_id = _open(session_factory, "view:1")
    _queue_root_and_reply(session_factory, clock, incident_id)
    slack = ScriptedSlack()
    slack.failures = [SlackCallError("channel_not_found", retryable=False)]
    OutboxDispatcher(session_factory=session_factory, workspaces=SlackWorkspaces(slack), clock=clock).deliver_due()
    with unit_of_work(session_factory) as session:
        lines = undelivered_summary(session=session, incident_id=incident_id)
    assert (
        lines[0]
        == "Slack root message: failed — channel_not_found: the channel is gone or private: invite the bot to it"
    )


def test_not_in_channel_joins_the_channel_then_posts(
    session_factory: sessionmaker[Session], clock: ManualClock
) -> None:
    incident_id = _open(session_factory, "view:1")
    _queue_root_and_reply(session_factory, clock, incident_id)
    slack = ScriptedSlack()
    slack.failures = [SlackCallError("not_in_channel", retryable=False)]
    assert (
        OutboxDispatcher(session_factory=session_factory, workspaces=SlackWorkspaces(slack), clock=clock)
        .deliver_due()
        .sent
        == 2
    )
    assert [op for op, _ in slack.calls][:3] == ["chat.postMessage", "conversations.join", "chat.postMessage"]


def test_enqueueing_the_same_key_twice_stores_one_call(
    session_factory: sessionmaker[Session], clock: ManualClock
) -> None:
    for _ in range(2):
        with unit_of_work(session_factory) as session:
            enqueue_slack_call(
                session=session,
                key="k",
                operation="chat.postMessage",
                args={"channel": "C", "text": "x"},
                purpose="thread_reply",
                now=clock.now(),
            )
    with unit_of_work(session_factory) as session:
        assert len(session.scalars(select(OutboxMessage)).all()) == 1


def test_concurrent_dispatchers_send_each_message_exactly_once(
    session_factory: sessionmaker[Session], clock: ManualClock
) -> None:
    with unit_of_work(session_factory) as session:
        for n in range(60):
            enqueue_slack_call(
                session=session,
                key=f"m{n}",
                operation="chat.postMessage",
                args={"channel": "C", "text": str(n)},
                purpose="thread_reply",
                now=clock.now(),
            )
    slack = ScriptedSlack()
    unpaced = Pacing(enabled=False)  # exactly once is the point here; pacing is tested in test_rate_budgets.py
    dispatchers = [
        OutboxDispatcher(session_factory=session_factory, workspaces=SlackWorkspaces(slack), clock=clock, pacing=unpaced)
        for _ in range(4)
    ]
    with ThreadPoolExecutor(max_workers=4) as pool:
        reports = list(pool.map(lambda d: d.deliver_due(), dispatchers))
    assert sum(r.sent for r in reports) == 60
    assert sorted(int(args["text"]) for _, args in slack.calls) == list(range(60))
    with unit_of_work(session_factory) as session:
        assert {m.state for m in session.scalars(select(OutboxMessage))} == {OutboxState.SENT}


def test_backoff_doubles_and_is_capped() -> None:
    assert [backoff(n, None).total_seconds() for n in (1, 2, 3)] == [5, 10, 20]
    assert backoff(20, None) == timedelta(minutes=15)
    assert backoff(1, 60).total_seconds() == 60


# --- root edits: rendered when delivered, one waiting edit serves many changes ----------------------------------


def _render_title(session: Session, incident: Incident) -> dict[str, Any]:
    return {"text": f"{incident.title} ({incident.status.value})"}


def _delivered_root(factory: sessionmaker[Session], incident_id: int) -> ScriptedSlack:
    """Marks the incident's root message as posted; a scripted Slack to deliver its edits to."""
    with unit_of_work(factory) as session:
        session.get_one(Incident, incident_id).root_ts = "1700000000.000001"
    return ScriptedSlack()


def _request_refresh(factory: sessionmaker[Session], clock: ManualClock, incident_id: int, title: str) -> None:
    with unit_of_work(factory) as session:
        session.get_one(Incident, incident_id).title = title
        request_root_refresh(session=session, incident_id=incident_id, key=f"edit:{title}", now=clock.now())


def _root_edits(factory: sessionmaker[Session]) -> list[tuple[str, OutboxState]]:
    with unit_of_work(factory) as session:
        rows = session.scalars(select(OutboxMessage).where(OutboxMessage.purpose == ROOT_EDIT).order_by("id"))
        return [(row.idempotency_key, row.state) for row in rows]


def test_root_edits_requested_before_delivery_collapse_into_one_that_shows_the_latest_state(
    session_factory: sessionmaker[Session], clock: ManualClock
) -> None:
    incident_id = _open(session_factory, "view:1")
    slack = _delivered_root(session_factory, incident_id)
    for title in ("first", "second", "third"):
        _request_refresh(session_factory, clock, incident_id, title)
    assert _root_edits(session_factory) == [("edit:first", OutboxState.PENDING)]
    dispatcher = OutboxDispatcher(
        session_factory=session_factory, workspaces=SlackWorkspaces(slack), clock=clock, render_root=_render_title
    )
    dispatcher.deliver_due()
    assert slack.calls == [
        ("chat.update", {"text": "third (new)", "channel": "CSUPPORT", "ts": "1700000000.000001"}),
    ]


def test_a_root_edit_being_sent_is_not_reused_so_a_later_change_gets_its_own_edit(
    session_factory: sessionmaker[Session], clock: ManualClock
) -> None:
    incident_id = _open(session_factory, "view:1")
    slack = _delivered_root(session_factory, incident_id)
    _request_refresh(session_factory, clock, incident_id, "first")
    with unit_of_work(session_factory) as in_flight:  # a dispatcher holding the waiting edit while it calls Slack
        in_flight.scalars(select(OutboxMessage).where(OutboxMessage.purpose == ROOT_EDIT).with_for_update()).one()
        _request_refresh(session_factory, clock, incident_id, "second")
    assert _root_edits(session_factory) == [("edit:first", OutboxState.PENDING), ("edit:second", OutboxState.PENDING)]
    dispatcher = OutboxDispatcher(
        session_factory=session_factory, workspaces=SlackWorkspaces(slack), clock=clock, render_root=_render_title
    )
    dispatcher.deliver_due()
    assert [args["text"] for _, args in slack.calls] == ["second (new)"]
    assert _root_edits(session_factory) == [("edit:first", OutboxState.SUPERSEDED), ("edit:second", OutboxState.SENT)]


def test_a_change_after_an_edit_was_sent_queues_a_new_edit(
    session_factory: sessionmaker[Session], clock: ManualClock
) -> None:
    incident_id = _open(session_factory, "view:1")
    slack = _delivered_root(session_factory, incident_id)
    dispatcher = OutboxDispatcher(
        session_factory=session_factory, workspaces=SlackWorkspaces(slack), clock=clock, render_root=_render_title
    )
    for title in ("first", "second"):
        _request_refresh(session_factory, clock, incident_id, title)
        dispatcher.deliver_due()
    assert [args["text"] for _, args in slack.calls] == ["first (new)", "second (new)"]


def test_a_slack_call_no_typed_method_sends_is_refused_when_queued(session_factory: sessionmaker[Session]) -> None:
    with pytest.raises(UnknownSlackOperation), unit_of_work(session_factory) as session:
        enqueue_slack_call(
            session=session,
            key="typo",
            operation="chat.postMesage",
            args={"channel": "CSUPPORT", "text": "typo"},
            purpose="thread_reply",
            now=T0,
        )
    with unit_of_work(session_factory) as session:
        assert session.scalars(select(OutboxMessage)).all() == []


# --- retries: the longer wait wins; what depends on a call that failed for good never waits for it --------------


def _queue_post(factory: sessionmaker[Session], clock: ManualClock, key: str, **options: Any) -> None:
    with unit_of_work(factory) as session:
        enqueue_slack_call(
            session=session,
            key=key,
            operation="chat.postMessage",
            args={"channel": "CENG", "text": key},
            purpose=options.pop("purpose", "internal_notice"),
            now=clock.now(),
            **options,
        )


def _row(factory: sessionmaker[Session], key: str) -> OutboxMessage:
    with unit_of_work(factory) as session:
        row = session.scalars(select(OutboxMessage).where(OutboxMessage.idempotency_key == key)).one()
        session.expunge(row)
        return row


def test_a_short_retry_after_never_cuts_a_longer_backoff_short(
    session_factory: sessionmaker[Session], clock: ManualClock
) -> None:
    _queue_post(session_factory, clock, "notice")
    slack = ScriptedSlack()
    slack.failures = [SlackCallError("ratelimited", retryable=True, retry_after=1) for _ in range(4)]
    dispatcher = OutboxDispatcher(session_factory=session_factory, workspaces=SlackWorkspaces(slack), clock=clock)
    waits = []
    for _ in range(4):
        assert dispatcher.deliver_due().retrying == 1
        due = _row(session_factory, "notice").next_attempt_at
        waits.append((due - clock.now()).total_seconds())
        clock.set(due - timedelta(seconds=1))
        assert dispatcher.deliver_due().claimed == 0, "not tried before its backoff is over"
        clock.set(due)
    assert waits == [5, 10, 20, 40], "Retry-After: 1 asked for less than the backoff each time"
    assert dispatcher.deliver_due().sent == 1


def test_replies_to_a_root_message_that_failed_for_good_are_shown_failed_not_retrying(
    session_factory: sessionmaker[Session], clock: ManualClock
) -> None:
    incident_id = _open(session_factory, "view:1")
    with unit_of_work(session_factory) as session:
        key = session.get_one(Incident, incident_id).key
    _queue_post(
        session_factory, clock, f"{key}:root", incident_id=incident_id, purpose="root_message", records_root=True
    )
    _queue_post(session_factory, clock, "page", incident_id=incident_id, purpose="oncall_page", in_thread=True)
    slack = ScriptedSlack()
    slack.failures = [SlackCallError("channel_not_found", retryable=False)]
    dispatcher = OutboxDispatcher(session_factory=session_factory, workspaces=SlackWorkspaces(slack), clock=clock)
    dispatcher.deliver_due()
    clock.advance(timedelta(hours=1))
    dispatcher.deliver_due()  # the scheduler keeps ticking
    with unit_of_work(session_factory) as session:
        lines = undelivered_summary(session=session, incident_id=incident_id)
    gone = "channel_not_found: the channel is gone or private: invite the bot to it"
    assert lines == [
        f"Slack root message: failed — {gone}",
        f"Slack oncall page: failed — the incident's root message could not be posted: {gone}",
    ]
    assert [op for op, _ in slack.calls] == ["chat.postMessage"], "the reply was never sent anywhere else"


def test_a_reply_to_a_message_that_failed_for_good_is_dropped_not_left_retrying(
    session_factory: sessionmaker[Session], clock: ManualClock
) -> None:
    """An internal notice Slack refused for good: its follow-ups can never go into its thread."""
    incident_id = _open(session_factory, "view:1")
    _queue_post(session_factory, clock, "notice", incident_id=incident_id)
    _queue_post(
        session_factory, clock, "follow-up", incident_id=incident_id, purpose="internal_follow_up", reply_to="notice"
    )
    slack = ScriptedSlack()
    slack.failures = [SlackCallError("channel_not_found", retryable=False)]
    dispatcher = OutboxDispatcher(session_factory=session_factory, workspaces=SlackWorkspaces(slack), clock=clock)
    dispatcher.deliver_due()
    clock.advance(timedelta(hours=1))
    dispatcher.deliver_due()
    assert _row(session_factory, "follow-up").state == OutboxState.SUPERSEDED
    with unit_of_work(session_factory) as session:
        lines = undelivered_summary(session=session, incident_id=incident_id)
    assert lines == [
        "Slack internal notice: failed — channel_not_found: the channel is gone or private: invite the bot to it"
    ]
    assert not [line for line in lines if "pending" in line]
    assert len(slack.calls) == 1
