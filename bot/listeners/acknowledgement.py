"""Slack gets its acknowledgement the moment a listener calls `ack()`, not at Bolt's next look.

Bolt runs a listener on the listener executor and, on the request's own thread, looks every 10 ms whether `ack()`
has been called (`time.sleep(0.01)` between looks). Every acknowledgement waited for the next look: at least 10 ms
however little the listener did, and at 32 requests at once each waiting thread woke about five times a request.
Here the request's `ack` is a `SignallingAck`, and the listener executor (`AckAwaitingExecutor`), asked by that
thread to run the listener, waits until the listener acknowledges or ends; when Bolt then looks, the answer is
there. Bolt's own limit (`ack_timeout`, 3 s) and everything it does without an `ack()` stay as they were.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, ParamSpec, TypeVar

from slack_bolt import Ack, BoltContext, BoltResponse

from bot.observability.context import AckSignal, ContextCopyingExecutor, current_scope

P = ParamSpec("P")
T = TypeVar("T")

ACK_TIMEOUT_SECONDS = 3.0  # Bolt's listener ack_timeout: after it, Bolt gives up on the listener's ack()


class SignallingAck(Ack):
    """Bolt's `ack`, telling the request's thread when it has been called."""

    def __init__(self, signal: AckSignal) -> None:
        super().__init__()
        self.signal = signal

    def __call__(self, *args: Any, **kwargs: Any) -> BoltResponse:
        try:
            return super().__call__(*args, **kwargs)
        finally:
            self.signal.answered.set()


def answer_on_ack(context: BoltContext, next: Callable[[], None]) -> None:
    """Global middleware (after the request's scope is open): the listener gets an `ack` that signals this thread."""
    scope = current_scope()
    if scope is not None:
        signal = AckSignal(answered=threading.Event(), waiting_thread=threading.get_ident())
        context["ack"] = SignallingAck(signal)
        scope.ack_signal = signal
    next()


class AckAwaitingExecutor(ContextCopyingExecutor):
    """The listener executor: submitting a request's listener returns once it has acknowledged (or ended).

    Only the request's own thread waits, and only once (its first submission is the listener; Bolt's lazy
    functions come after the ack). A listener's own submissions never wait, so no thread waits for itself.
    """

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        future = super().submit(fn, *args, **kwargs)
        signal = _awaited_here()
        if signal is not None:
            future.add_done_callback(lambda _: signal.answered.set())  # raised or returned without ack()
            signal.answered.wait(ACK_TIMEOUT_SECONDS)
        return future


def _awaited_here() -> AckSignal | None:
    """The request's ack signal, once, if this thread is the one Slack's answer leaves from."""
    scope = current_scope()
    if scope is None or scope.ack_signal is None or scope.ack_signal.waiting_thread != threading.get_ident():
        return None
    signal, scope.ack_signal = scope.ack_signal, None
    return signal
