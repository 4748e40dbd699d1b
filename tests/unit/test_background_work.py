"""Work after the acknowledgement: coalesced per key, never two runs of one key at once, failures contained."""

from __future__ import annotations

import threading

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
