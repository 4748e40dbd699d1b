"""Slack gets its acknowledgement the moment a listener calls `ack()`, not at Bolt's next look.

Bolt runs a listener on the listener executor and, on the request's own thread, looks every 10 ms whether `ack()`
has been called (`time.sleep(0.01)` between looks). Every acknowledgement waited for the next look: at least 10 ms
however little the listener did, and at 32 requests at once each waiting thread woke about five times a request.
Here the request's `ack` is a `SignallingAck`, and the listener executor (`AckAwaitingExecutor`), asked by that
thread to run the listener, waits until the listener acknowledges or ends; when Bolt then looks, the answer is
there. Bolt's own limit (`ack_timeout`, 3 s) and everything it does without an `ack()` stay as they were.

A listener registered with `ON_REQUEST_THREAD` skips the listener thread altogether: it runs on the request's own
thread, and Slack gets its answer when the listener returns. That is for listeners that acknowledge and hand what
follows to `answer_after_ack`, as `/triage` does: one thread hand-over less per request (docs/benchmarks.md).
Should such a listener still keep the answer waiting after its `ack()`, a warning says for how long.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any, ParamSpec, TypeVar

from slack_bolt import Ack, BoltContext, BoltRequest, BoltResponse
from slack_bolt.context.respond import Respond
from slack_bolt.middleware import Middleware

from bot.listeners.errors import handle_unexpected_error
from bot.listeners.middleware import app_services
from bot.observability.context import AckSignal, ContextCopyingExecutor, current_scope

P = ParamSpec("P")
T = TypeVar("T")

logger = logging.getLogger(__name__)
ACK_TIMEOUT_SECONDS = 3.0  # Bolt's listener ack_timeout: after it, Bolt gives up on the listener's ack()
SLOW_AFTER_ACK_SECONDS = 0.1  # a listener on the request's thread that keeps Slack's answer waiting longer is named


class SignallingAck(Ack):
    """Bolt's `ack`, telling the request's thread when it has been called."""

    def __init__(self, signal: AckSignal) -> None:
        super().__init__()
        self.signal = signal

    def __call__(self, *args: Any, **kwargs: Any) -> BoltResponse:
        try:
            return super().__call__(*args, **kwargs)
        finally:
            self.signal.acked_at = time.monotonic()
            self.signal.answered.set()


def answer_on_ack(context: BoltContext, next: Callable[[], None]) -> None:
    """Global middleware (after the request's scope is open): the listener gets an `ack` that signals this thread."""
    scope = current_scope()
    if scope is not None:
        signal = AckSignal(answered=threading.Event(), waiting_thread=threading.get_ident())
        context["ack"] = SignallingAck(signal)
        scope.ack_signal = signal
    next()


class OnRequestThread(Middleware):
    """Listener middleware: this listener runs on the request's own thread (see the module's docstring)."""

    def process(self, *, req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]) -> BoltResponse:
        scope = current_scope()
        if scope is not None and scope.ack_signal is not None:
            scope.ack_signal.on_request_thread = True
        return next()

    @property
    def name(self) -> str:
        return "OnRequestThread"


ON_REQUEST_THREAD = OnRequestThread()


def answer_after_ack(context: BoltContext, respond: Respond, body: dict[str, Any], work: Callable[[], None]) -> None:
    """Run `work` once Slack has its acknowledgement (`BackgroundWork.answer`: on this request's thread after its
    response, else on the answer threads); a failure nobody expected is told to the person with a reference, as
    Bolt's error handler would have told it."""

    def answer() -> None:
        try:
            work()
        except Exception as error:
            handle_unexpected_error(error, body, respond, context)

    app_services(context).background.answer(answer)


class AckAwaitingExecutor(ContextCopyingExecutor):
    """The listener executor: submitting a request's listener returns once it has acknowledged (or ended).

    Only the request's own thread waits, and only once (its first submission is the listener; Bolt's lazy
    functions come after the ack). A listener's own submissions never wait, so no thread waits for itself.
    A listener marked `ON_REQUEST_THREAD` is run there and then, on the request's thread.
    """

    def __init__(self, inner: Executor, *, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(inner)
        self.clock = clock

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        signal = _awaited_here()
        if signal is not None and signal.on_request_thread:
            return self._run_here(signal, fn, *args, **kwargs)
        future = super().submit(fn, *args, **kwargs)
        if signal is not None:
            future.add_done_callback(lambda _: signal.answered.set())  # raised or returned without ack()
            signal.answered.wait(ACK_TIMEOUT_SECONDS)
        return future

    def _run_here(self, signal: AckSignal, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        """Run the listener on this thread (in a copy of its context, as on a listener thread); its outcome as a
        finished future."""
        future: Future[T] = Future()
        try:
            future.set_result(contextvars.copy_context().run(fn, *args, **kwargs))
        except Exception as error:  # Bolt's wrapper handles the listener's own errors; this is anything else
            future.set_exception(error)
        waited = 0.0 if signal.acked_at is None else self.clock() - signal.acked_at
        if waited > SLOW_AFTER_ACK_SECONDS:
            scope = current_scope()
            logger.warning(
                "A %s listener on the request's thread kept Slack's answer waiting %.0f ms after ack(): "
                "hand what follows the ack to answer_after_ack",
                scope.request_type if scope and scope.request_type else "Slack",
                waited * 1000,
            )
        return future


def _awaited_here() -> AckSignal | None:
    """The request's ack signal, once, if this thread is the one Slack's answer leaves from."""
    scope = current_scope()
    if scope is None or scope.ack_signal is None or scope.ack_signal.waiting_thread != threading.get_ident():
        return None
    signal, scope.ack_signal = scope.ack_signal, None
    return signal
