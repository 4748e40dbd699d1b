"""The request's thread hands Slack its answer as soon as the listener calls ack(), not at Bolt's next look."""

from __future__ import annotations

import contextvars
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from slack_bolt import BoltContext

from bot.listeners.acknowledgement import AckAwaitingExecutor, SignallingAck, answer_on_ack
from bot.observability.context import request_scope

WAIT = 5.0  # only ever reached when the behaviour under test is broken


@pytest.fixture
def executor() -> Any:
    pool = ThreadPoolExecutor(4)
    yield AckAwaitingExecutor(pool)
    pool.shutdown(wait=True)


def _request_ack() -> SignallingAck:
    """What Bolt's dispatch does before the listener runs: the middleware installs the request's ack."""
    context = BoltContext()
    answer_on_ack(context, lambda: None)
    ack = context.ack
    assert isinstance(ack, SignallingAck)
    return ack


def test_submitting_the_listener_returns_once_it_has_acknowledged_while_it_still_runs(executor: Any) -> None:
    release = threading.Event()
    with request_scope():
        ack = _request_ack()

        def listener() -> str:
            ack()
            release.wait(WAIT)  # the listener goes on after ack() (opening a form, posting)
            return "done"

        future = executor.submit(listener)
        assert ack.response is not None and ack.response.status == 200  # Bolt finds the answer at its first look
        assert not future.done()
    release.set()
    assert future.result(WAIT) == "done"


def test_a_listener_that_fails_before_acknowledging_does_not_keep_the_request_waiting(executor: Any) -> None:
    with request_scope():
        ack = _request_ack()

        def listener() -> None:
            raise RuntimeError("broken listener")

        future = executor.submit(listener)
        assert future.done()  # returned because the listener ended, not at a timeout
        assert isinstance(future.exception(), RuntimeError)
        assert ack.response is None  # Bolt's own handling of a missing ack() takes over


def test_only_the_first_submission_from_the_request_thread_waits(executor: Any) -> None:
    release = threading.Event()
    with request_scope():
        ack = _request_ack()
        first = executor.submit(lambda: ack())
        first.result(WAIT)
        later = executor.submit(lambda: release.wait(WAIT))  # a lazy function, after the ack
        assert not later.done()
    release.set()
    later.result(WAIT)


def test_a_listener_submitting_work_before_its_ack_does_not_wait_for_itself(executor: Any) -> None:
    release = threading.Event()
    with request_scope():
        ack = _request_ack()

        def listener() -> bool:
            inner = executor.submit(lambda: release.wait(WAIT))  # from the listener's thread, before ack()
            submitted_without_waiting = not inner.done()
            ack()
            return submitted_without_waiting

        future = executor.submit(listener)
        release.set()
        assert future.result(WAIT) is True


def test_without_a_request_scope_nothing_is_awaited(executor: Any) -> None:
    def outside_any_request() -> None:
        release = threading.Event()
        context = BoltContext()
        answer_on_ack(context, lambda: None)
        assert not isinstance(context.get("ack"), SignallingAck)  # Bolt's own ack and its own polling
        future = executor.submit(lambda: release.wait(WAIT))
        assert not future.done()
        release.set()
        future.result(WAIT)

    contextvars.Context().run(outside_any_request)  # whatever scope an earlier test left on this thread
