"""Work done after Slack has its acknowledgement, on a few threads of its own.

Delivering queued messages and looking for related incidents call Slack and hold database connections for as
long as that takes. On Bolt's listener threads, a burst of requests let that work take every thread and pooled
connection, and new requests waited past Slack's 3 seconds for their acknowledgement. Here it runs on a small
pool. Runs with the same key (an incident's delivery) never overlap: a request made while one runs asks for
one more run after it, and requests made while a run waits are served by that run. Two deliveries of one
incident running side by side could each leave a reply for the other (one waiting for the root the other was
still posting, the other for a reply the first was holding). What does not get done stays in the outbox for
the scheduler's tick: nothing is lost by coalescing or by a full queue.

What a person waits to see right after the acknowledgement (the `/triage` form opening) runs on threads of its own
(`answer`): never behind deliveries, and never on the listener thread that the next request needs before it can
be acknowledged. On Bolt's listener threads, each form kept its thread for as long as Slack took to answer
`views.open`; when Slack was slow, every listener thread waited on Slack and new requests waited for one.

An answer asked for on a request's own thread, while that request is still being answered, is run by that thread
once the response has left (`AfterResponse`): no hand-over to another thread, which under load cost more CPU than
the answer's own work. At most `answers_on_request_threads` requests' threads do so at once (half the web threads
by default): when Slack is slow, the other half still acknowledges, and further answers go to the answer threads.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from collections.abc import Callable, Hashable
from concurrent.futures import Future, ThreadPoolExecutor, wait

from bot.observability.context import ContextCopyingExecutor, current_scope

logger = logging.getLogger(__name__)
WAITING, RUNNING, AGAIN = "waiting", "running", "again"
DELIVERY_FAILED = "Work after the acknowledgement failed; what it did not send stays queued"
ANSWER_FAILED = "An answer after the acknowledgement failed"


class BackgroundWork:
    """`threads` for deliveries and other work nobody watches; `answer_threads` (default: as many) for answers."""

    def __init__(self, threads: int, *, answer_threads: int | None = None, answers_on_request_threads: int = 0) -> None:
        self._executor = ContextCopyingExecutor(ThreadPoolExecutor(threads, thread_name_prefix="after-ack"))
        self._answers = ContextCopyingExecutor(
            ThreadPoolExecutor(answer_threads or threads, thread_name_prefix="after-ack-answer")
        )
        self._lock = threading.Lock()
        self._keyed: dict[Hashable, str] = {}  # key -> WAITING, RUNNING or AGAIN (running, one more run asked for)
        self._running: set[Future[None]] = set()
        self._request_threads_free = answers_on_request_threads

    def submit_once(self, key: Hashable, work: Callable[[], object]) -> None:
        """Run `work` soon: once per request, but never beside another run with the same key."""
        with self._lock:
            state = self._keyed.get(key)
            if state in (WAITING, AGAIN):
                return
            if state == RUNNING:
                self._keyed[key] = AGAIN
                return
            self._keyed[key] = WAITING
        self._track(self._executor.submit(self._run_keyed, key, work))

    def submit(self, work: Callable[[], object]) -> None:
        self._track(self._executor.submit(self._run, work))

    def answer(self, work: Callable[[], object]) -> None:
        """Run `work` now: what a person waits to see after the acknowledgement. On this request's thread once its
        response has left, if it may; else on the answer threads."""
        if not self._answer_after_response(work):
            self._track(self._answers.submit(self._run, work, ANSWER_FAILED))

    def _answer_after_response(self, work: Callable[[], object]) -> bool:
        scope = current_scope()
        after = scope.after_response if scope is not None else None
        if after is None or not self._take_request_thread():
            return False
        context = contextvars.copy_context()
        done: Future[None] = Future()

        def run() -> None:
            try:
                context.run(self._run, work, ANSWER_FAILED)
            finally:
                self._give_back_request_thread()
                done.set_result(None)

        if not after.add(run):
            self._give_back_request_thread()
            return False
        self._track(done)
        return True

    def _take_request_thread(self) -> bool:
        with self._lock:
            if self._request_threads_free <= 0:
                return False
            self._request_threads_free -= 1
            return True

    def _give_back_request_thread(self) -> None:
        with self._lock:
            self._request_threads_free += 1

    def drain(self, timeout: float | None = None) -> bool:
        """Wait for everything submitted so far (and what that submits in turn); False if `timeout` s passed first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._lock:
                running = set(self._running)
            if not running:
                return True
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return False
            wait(running, timeout=left)

    def shutdown(self) -> None:
        self.drain()
        self._executor.shutdown(wait=True)
        self._answers.shutdown(wait=True)

    def _track(self, future: Future[None]) -> None:
        with self._lock:
            self._running.add(future)
        future.add_done_callback(self._forget)

    def _forget(self, future: Future[None]) -> None:
        with self._lock:
            self._running.discard(future)

    def _run_keyed(self, key: Hashable, work: Callable[[], object]) -> None:
        while True:
            with self._lock:
                self._keyed[key] = RUNNING  # from here on, a new request asks for one more run
            self._run(work)
            with self._lock:
                if self._keyed[key] != AGAIN:
                    del self._keyed[key]
                    return

    def _run(self, work: Callable[[], object], failed: str = DELIVERY_FAILED) -> None:
        try:
            work()
        except Exception:
            logger.exception(failed)
