"""Slack's Web API rate limits, as token buckets on an injected clock.

Limits apply per method and workspace (one emulator is one workspace), by the method's tier
(docs.slack.dev/apis/web-api/rate-limits): Tier 1 allows 1+ calls a minute, Tier 2 20+, Tier 3 50+, Tier 4 100+;
each bucket holds a minute's worth, so a burst up to the tier's number passes and then calls refill at the
tier's pace. ``chat.postMessage`` has its own limit: about one message per second per channel, and Slack grants
"generous burst behavior" (no number given): ``post_burst`` messages may go at once (20 by default).
A call over a limit is answered HTTP 429 with ``Retry-After`` (whole seconds) and
``{"ok": false, "error": "ratelimited"}``.

``distributed`` models an app distributed to other workspaces without Marketplace approval (since 2025-05-29):
``conversations.history`` and ``conversations.replies`` allow one call a minute each, at most 15 messages a call.

Tiers are those on each method's reference page on docs.slack.dev for the methods the bot uses; others are
Tier 3. "Special" methods other than ``chat.postMessage`` (``chat.getPermalink``, ``auth.test``) are given Tier 4.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.integrations.slack_limits import DEFAULT_TIER, METHOD_TIERS, POST_METHOD, TIER_PER_MINUTE

__all__ = ["DEFAULT_TIER", "HISTORY_METHODS", "METHOD_TIERS", "TIER_PER_MINUTE", "RateLimits"]

# Slack's published tiers, one table for the bot's pacing and the emulator's enforcing (bot/integrations).
HISTORY_METHODS = ("conversations.history", "conversations.replies")
DISTRIBUTED_HISTORY_PER_MINUTE = 1
DISTRIBUTED_HISTORY_PAGE = 15


@dataclass
class _Bucket:
    capacity: float
    per_second: float
    tokens: float
    updated: float

    def take(self, now: float) -> float | None:
        """Take one call; None when allowed, else the seconds until one would be."""
        self.tokens = min(self.capacity, self.tokens + max(0.0, now - self.updated) * self.per_second)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return None
        return (1 - self.tokens) / self.per_second


@dataclass
class RateLimits:
    """The limits one emulated workspace enforces. ``clock`` (epoch seconds) defaults to the emulator's own."""

    enabled: bool = True
    post_per_second: float = 1.0
    post_burst: int = 20
    distributed: bool = False
    clock: Callable[[], float] | None = None
    tier_scale: float = 1.0  # multiplies every tier's number (a workspace with more headroom)
    _buckets: dict[tuple[str, str], _Bucket] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def history_page_limit(self) -> int | None:
        """The most messages one conversations.history / replies call returns (None: Slack's usual 999)."""
        return DISTRIBUTED_HISTORY_PAGE if self.distributed else None

    def check(self, method: str, channel: str | None, now: float) -> int | None:
        """Count a call: None when it may go ahead, else the Retry-After (seconds) Slack would answer with."""
        if not self.enabled:
            return None
        key, capacity, per_second = self._limit(method, channel)
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = _Bucket(capacity, per_second, capacity, now)
            wait = bucket.take(now)
        return None if wait is None else max(1, math.ceil(wait))

    def reset(self) -> None:
        """Forget every call counted so far (full buckets again)."""
        with self._lock:
            self._buckets.clear()

    def _limit(self, method: str, channel: str | None) -> tuple[tuple[str, str], float, float]:
        if method == POST_METHOD:
            return (method, channel or ""), float(self.post_burst), self.post_per_second
        if self.distributed and method in HISTORY_METHODS:
            return (method, ""), 1.0, DISTRIBUTED_HISTORY_PER_MINUTE / 60
        per_minute = TIER_PER_MINUTE[METHOD_TIERS.get(method, DEFAULT_TIER)] * self.tier_scale
        return (method, ""), per_minute, per_minute / 60
