"""Work after the acknowledgement: coalesced per key, never two runs of one key at once, failures contained."""

from __future__ import annotations

import threading

from bot.observability.context import AfterResponse, RequestScope, request_scope
from bot.services.background import BackgroundWork


def test_requests_while_a_run_waits_are_served_by_that_run() -> None:
    background, gate, runs = BackgroundWork(threads=1), threading.Event(), []
    background.submit(gate.wait)  # the only thread is busy: the keyed run has to wait
    for _ in range(3):
        background.submit_once("INC-1", lambda: runs.append(1))
    gate.set()
    background.drain()
    assert runs == [1]


def test_a_request_during_a_run_gets_one_more_run_after_it_never_beside_it() -> None:
    background = BackgroundWork(threads=4)
    started, release = threading.Event(), threading.Event()
    active, most_active, runs = [0], [0], [0]
    lock = threading.Lock()

    def deliver() -> None:
        with lock:
            active[0] += 1
            most_active[0] = max(most_active[0], active[0])
            runs[0] += 1
        started.set()
        release.wait()
        with lock:
            active[0] -= 1

    background.submit_once("INC-1", deliver)
    assert started.wait(5)
    for _ in range(3):
        background.submit_once("INC-1", deliver)
    release.set()
    background.drain()
    assert (runs[0], most_active[0]) == (2, 1)


def test_a_failing_run_does_not_stop_the_key_from_running_again() -> None:
    background, runs = BackgroundWork(threads=2), []

    def fail() -> None:
        raise RuntimeError("Slack is down")

    background.submit_once("INC-1", fail)
    background.drain()
    background.submit_once("INC-1", lambda: runs.append(1))
    background.drain()
    assert runs == [1]


def test_drain_gives_up_after_its_timeout_and_says_so() -> None:
    background, gate = BackgroundWork(threads=1), threading.Event()
    background.submit(gate.wait)
    assert background.drain(timeout=0.05) is False
    gate.set()
    assert background.drain() is True


def test_answers_never_wait_behind_deliveries_and_drain_waits_for_them() -> None:
    background, gate, answered = BackgroundWork(threads=1, answer_threads=1), threading.Event(), threading.Event()
    background.submit(gate.wait)  # the only delivery thread is busy
    background.answer(answered.set)
    assert answered.wait(5), "an answer (a form opening) has threads of its own"
    assert background.drain(timeout=0.05) is False, "drain still waits for the delivery"
    gate.set()
    assert background.drain() is True


def _answering_request() -> tuple[RequestScope, AfterResponse]:
    """A request being answered on this thread, its HTTP layer letting work wait for the response (`bot/web.py`)."""
    after = AfterResponse()
    return RequestScope(after_response=after), after


def test_an_answer_asked_for_on_the_requests_thread_runs_there_once_the_response_has_left() -> None:
    background = BackgroundWork(threads=1, answers_on_request_threads=2)
    ran_on: list[int] = []
    scope, after = _answering_request()
    with request_scope(scope):
        background.answer(lambda: ran_on.append(threading.get_ident()))
    assert ran_on == []  # the response has not left yet
    assert not background.drain(timeout=0.05)  # and drain knows it is still to come
    after.run()
    assert ran_on == [threading.get_ident()]
    assert background.drain(timeout=5)


def test_answers_beyond_the_request_threads_allowed_go_to_the_answer_threads() -> None:
    background = BackgroundWork(threads=1, answers_on_request_threads=1)
    ran_on: list[int] = []
    first, first_after = _answering_request()
    with request_scope(first):
        background.answer(lambda: ran_on.append(threading.get_ident()))  # takes the one request thread allowed
    second, _ = _answering_request()
    with request_scope(second):
        background.answer(lambda: ran_on.append(threading.get_ident()))
    assert background.drain(timeout=0.05) is False  # the first still waits for its response
    assert ran_on and ran_on[0] != threading.get_ident()  # the second ran on an answer thread
    first_after.run()
    third, third_after = _answering_request()  # the first's thread is free again
    with request_scope(third):
        background.answer(lambda: ran_on.append(threading.get_ident()))
    third_after.run()
    assert ran_on[1:] == [threading.get_ident(), threading.get_ident()]


def test_an_answer_asked_for_off_the_requests_thread_or_after_its_response_goes_to_the_answer_threads() -> None:
    background = BackgroundWork(threads=1, answers_on_request_threads=4)
    ran_on: list[int] = []
    scope, after = _answering_request()

    def from_a_listener_thread() -> None:
        with request_scope(scope):
            background.answer(lambda: ran_on.append(threading.get_ident()))

    helper = threading.Thread(target=from_a_listener_thread)
    helper.start()
    helper.join()
    after.run()  # the response has left: nothing may wait for it any more
    with request_scope(scope):
        background.answer(lambda: ran_on.append(threading.get_ident()))
    assert background.drain(timeout=5)
    assert len(ran_on) == 2 and threading.get_ident() not in ran_on


def test_a_failing_answer_after_the_response_frees_its_request_thread() -> None:
    background = BackgroundWork(threads=1, answers_on_request_threads=1)
    scope, after = _answering_request()
    with request_scope(scope):
        background.answer(lambda: 1 / 0)
    after.run()  # logged, not raised into the web server
    assert background.drain(timeout=5)
    ran_on: list[int] = []
    scope, after = _answering_request()
    with request_scope(scope):
        background.answer(lambda: ran_on.append(threading.get_ident()))
    after.run()
    assert ran_on == [threading.get_ident()]
