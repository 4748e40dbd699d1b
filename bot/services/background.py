"""Work done after Slack has its acknowledgement, on a few threads of its own.

Delivering queued messages and looking for related incidents call Slack and hold database connections for as
long as that takes. On Bolt's listener threads, a burst of requests let that work take every thread and pooled
connection, and new requests waited past Slack's 3 seconds for their acknowledgement. Here it runs on a small
pool, one waiting run per key (an incident's delivery), and what does not get done now stays in the outbox for
the scheduler's tick: nothing is lost by coalescing or by a full queue.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Hashable
from concurrent.futures import Future, ThreadPoolExecutor, wait

from bot.observability.context import ContextCopyingExecutor

logger = logging.getLogger(__name__)


class BackgroundWork:
    def __init__(self, threads: int) -> None:
        self._executor = ContextCopyingExecutor(ThreadPoolExecutor(threads, thread_name_prefix="after-ack"))
        self._lock = threading.Lock()
        self._waiting: set[Hashable] = set()
        self._running: set[Future[None]] = set()

    def submit_once(self, key: Hashable, work: Callable[[], object]) -> None:
        """Run `work` soon, unless a run with the same key is still waiting to start (it will see this change too)."""
        with self._lock:
            if key in self._waiting:
                return
            self._waiting.add(key)
        self._track(self._executor.submit(self._run, key, work))

    def submit(self, work: Callable[[], object]) -> None:
        self._track(self._executor.submit(self._run, None, work))

    def drain(self, timeout: float | None = None) -> None:
        """Wait for everything submitted so far (and what that submits in turn) to finish."""
        while True:
            with self._lock:
                running = set(self._running)
            if not running:
                return
            wait(running, timeout=timeout)

    def shutdown(self) -> None:
        self.drain()
        self._executor.shutdown(wait=True)

    def _track(self, future: Future[None]) -> None:
        with self._lock:
            self._running.add(future)
        future.add_done_callback(self._forget)

    def _forget(self, future: Future[None]) -> None:
        with self._lock:
            self._running.discard(future)

    def _run(self, key: Hashable | None, work: Callable[[], object]) -> None:
        if key is not None:
            with self._lock:
                self._waiting.discard(key)  # from here on, a new request queues a new run
        try:
            work()
        except Exception:
            logger.exception("Work after the acknowledgement failed; what it did not send stays queued")
