"""The request's thread hands Slack its answer as soon as the listener calls ack(), not at Bolt's next look."""

from __future__ import annotations

import contextvars
import logging
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from slack_bolt import BoltContext, BoltRequest, BoltResponse

from bot.listeners.acknowledgement import ON_REQUEST_THREAD, AckAwaitingExecutor, SignallingAck, answer_on_ack
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


def _on_request_thread_ack() -> SignallingAck:
    """The request's ack, for a listener registered with `ON_REQUEST_THREAD` (its middleware has run)."""
    ack = _request_ack()
    ON_REQUEST_THREAD.process(req=BoltRequest(body="", headers={}), resp=BoltResponse(status=200), next=lambda: None)
    return ack


def test_a_listener_marked_for_the_request_thread_runs_there_and_returns_finished(executor: Any) -> None:
    with request_scope():
        ack = _on_request_thread_ack()

        def listener() -> int:
            ack()
            return threading.get_ident()

        future = executor.submit(listener)
        assert future.done() and future.result() == threading.get_ident()  # no listener thread was asked
        assert ack.response is not None and ack.response.status == 200


def test_what_a_listener_on_the_request_thread_submits_goes_to_the_pool(executor: Any) -> None:
    release = threading.Event()
    with request_scope():
        ack = _on_request_thread_ack()

        def listener() -> Any:
            ack()
            return executor.submit(lambda: (release.wait(WAIT), threading.get_ident())[1])  # a lazy function

        handed_off = executor.submit(listener).result()
        assert not handed_off.done()  # submitted without waiting for it, and not run here
    release.set()
    assert handed_off.result(WAIT) != threading.get_ident()


def test_a_listener_on_the_request_thread_that_fails_gives_its_error_to_bolt(executor: Any) -> None:
    with request_scope():
        _on_request_thread_ack()

        def listener() -> None:
            raise RuntimeError("broken listener")

        future = executor.submit(listener)
        assert isinstance(future.exception(), RuntimeError)


@pytest.mark.parametrize(("after_ack", "warned"), [(0.05, False), (0.4, True)])
def test_a_listener_keeping_the_answer_waiting_after_its_ack_is_named(
    caplog: pytest.LogCaptureFixture, after_ack: float, warned: bool
) -> None:
    pool = ThreadPoolExecutor(1)
    executor = AckAwaitingExecutor(pool, clock=lambda: time.monotonic() + after_ack)  # time passed since the ack
    with request_scope(), caplog.at_level(logging.WARNING, logger="bot.listeners.acknowledgement"):
        ack = _on_request_thread_ack()
        executor.submit(lambda: ack())
    pool.shutdown()
    assert ("kept Slack's answer waiting" in caplog.text) is warned
    if warned:
        assert re.search(r"waiting 4[0-9][0-9] ms after ack", caplog.text)


def test_without_the_mark_the_listener_runs_on_a_listener_thread(executor: Any) -> None:
    with request_scope():
        ack = _request_ack()

        def listener() -> int:
            ack()
            return threading.get_ident()

        assert executor.submit(listener).result(WAIT) != threading.get_ident()
