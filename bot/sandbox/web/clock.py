"""The sandbox's clock: real time plus an offset that the page's "fast-forward" control grows.

The bot (``now()``) and the emulator (``epoch()``) share it, so message timestamps, timers and deadlines stay in
step. Signed requests to the bot still carry real time: Bolt checks them against the machine's clock. Whoever
must know when it moves (the runtime keeps the offset in the database for the CLI) listens with :meth:`on_move`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

__all__ = ["SandboxClock"]


def _system_now() -> datetime:
    return datetime.now(UTC)


class SandboxClock:
    """``now()`` is real time plus :attr:`offset`; :meth:`advance` moves it forward (never back)."""

    def __init__(self, offset: timedelta = timedelta(0), source: Callable[[], datetime] = _system_now) -> None:
        if offset < timedelta(0):
            raise ValueError("the sandbox clock only moves forward")
        self._offset = offset
        self._source = source
        self._lock = threading.Lock()
        self._listeners: list[Callable[[timedelta], None]] = []

    def on_move(self, listener: Callable[[timedelta], None]) -> None:
        """Call ``listener(offset)`` after every move (outside the lock: it may take its time)."""
        self._listeners.append(listener)

    def _moved(self) -> None:
        offset = self.offset
        for listener in self._listeners:
            listener(offset)

    @property
    def offset(self) -> timedelta:
        with self._lock:
            return self._offset

    def now(self) -> datetime:
        """The sandbox's time, timezone-aware in UTC (the bot's ``Clock`` protocol)."""
        return self._source() + self.offset

    def epoch(self) -> float:
        """The sandbox's time in epoch seconds (the emulator's clock)."""
        return self.now().timestamp()

    def advance(self, delta: timedelta) -> datetime:
        """Fast-forward by ``delta`` and return the new time."""
        if delta <= timedelta(0):
            raise ValueError("fast-forward needs a positive duration")
        with self._lock:
            self._offset += delta
        self._moved()
        return self.now()

    def restore(self, offset: timedelta) -> None:
        """Run at least ``offset`` ahead of real time (how far an earlier run had fast-forwarded)."""
        with self._lock:
            moved = offset > self._offset
            self._offset = max(self._offset, offset)
        if moved:
            self._moved()

    def catch_up(self, moment: datetime) -> None:
        """Make sure ``now()`` is not before ``moment`` (an earlier run may have fast-forwarded past today)."""
        with self._lock:
            behind = moment - (self._source() + self._offset)
            if behind > timedelta(0):
                self._offset += behind
        if behind > timedelta(0):
            self._moved()
