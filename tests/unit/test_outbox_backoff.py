"""How long the outbox waits before trying a failed call again: its own backoff or Slack's Retry-After, the longer."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.integrations.outbox import MAX_BACKOFF, backoff


@pytest.mark.parametrize(
    ("attempts", "retry_after", "seconds"),
    [
        (4, 1, 40),  # a short Retry-After does not cut the fourth attempt's 40 s short
        (4, 39.5, 40),
        (4, 41, 41),  # a longer one wins
        (1, 0, 5),
        (20, 30, MAX_BACKOFF.total_seconds()),
        (20, 3600, 3600),  # Slack's word beats the cap
    ],
)
def test_the_longer_of_the_backoff_and_retry_after_is_waited(attempts: int, retry_after: float, seconds: float) -> None:
    assert backoff(attempts, retry_after) == timedelta(seconds=seconds)


def test_without_retry_after_the_backoff_doubles_up_to_its_cap() -> None:
    assert [backoff(n, None).total_seconds() for n in range(1, 10)] == [5, 10, 20, 40, 80, 160, 320, 640, 900]
