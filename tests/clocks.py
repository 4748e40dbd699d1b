"""A monotonic clock for tests: it reads `now` and moves only when a test sets it."""

from __future__ import annotations


class Ticks:
    """Stands in for `time.monotonic`: call it for the time; set `now` to move it."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now
