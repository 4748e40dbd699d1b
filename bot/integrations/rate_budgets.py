"""Pacing Slack calls before Slack has to refuse them: token buckets shared by every replica through the database.

Each Slack call the outbox makes takes a token from each budget it belongs to:
- its method's tier in its workspace (`T…:tier3:chat.update`), a minute's worth of calls at most, refilled at the
  tier's pace (not `chat.postMessage`, whose "special" tier is its channel's);
- for `chat.postMessage` and `chat.update`, its channel (`T…:C…`), about one a second after a short burst.
A call that finds a budget empty waits (the outbox defers it, and every other due call of that channel) until a
token is due. A `Retry-After` one replica gets pauses the budget for all of them. The buckets live in the
`rate_budgets` table: one short transaction per call, rows locked in key order, so replicas never overdraw one.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from bot.integrations.slack_limits import PER_CHANNEL_METHODS, POST_METHOD, TIER_PER_MINUTE, tier_of
from bot.models import RateBudget


@dataclass(frozen=True)
class Budget:
    key: str
    per_second: float
    burst: float


@dataclass(frozen=True)
class Wait:
    """A call that must wait: until when, and whether its channel's budget is what ran out (then every waiting call
    of that kind in the channel waits with it; a spent workspace tier holds back only calls of that method)."""

    until: datetime
    channel_spent: bool


@dataclass(frozen=True)
class Pacing:
    """How fast the bot lets itself call Slack (defaults: Slack's published tiers, one post a second a channel)."""

    posts_per_second: float = 1.0
    post_burst: float = 10.0
    tier_scale: float = 1.0  # multiplies every tier's number (a workspace Slack grants more)
    enabled: bool = True


def budgets_for(pacing: Pacing, workspace: str | None, method: str, channel: str | None) -> list[Budget]:
    """The budgets a call of `method` (in `channel`) takes a token from, in key order."""
    team = workspace or "-"
    found = []
    if method != POST_METHOD:  # chat.postMessage has its own "special" tier: per channel
        per_minute = TIER_PER_MINUTE[tier_of(method)] * pacing.tier_scale
        found.append(Budget(f"{team}:tier{tier_of(method)}:{method}", per_minute / 60, per_minute))
    if method in PER_CHANNEL_METHODS and channel:  # posts and edits each at the channel's pace
        suffix = "" if method == POST_METHOD else f":{method}"
        found.append(Budget(lane_of(workspace, channel) + suffix, pacing.posts_per_second, pacing.post_burst))
    return sorted(found, key=lambda b: b.key)


def lane_of(workspace: str | None, channel: str) -> str:
    """The channel budget's key; outbox rows carry it so that a paused channel's calls are put off together."""
    return f"{workspace or '-'}:{channel}"


class RateBudgets:
    def __init__(self, engine: Engine, pacing: Pacing | None = None) -> None:
        self.engine = engine
        self.pacing = pacing or Pacing()
        self._local = threading.Lock()  # SQLite has no row locks: one process, one lock
        self._sqlite = engine.dialect.name == "sqlite"

    def take(self, budgets: list[Budget], now: datetime) -> Wait | None:
        """Take a token from each budget, all or none; None when taken, else how long the call must wait."""
        if not self.pacing.enabled or not budgets:
            return None
        if self._sqlite:
            with self._local:
                return self._take(budgets, now)
        return self._take(budgets, now)

    def _take(self, budgets: list[Budget], now: datetime) -> Wait | None:
        with self.engine.begin() as connection:
            self._ensure(connection, budgets, now)
            rows = {
                row.key: row
                for row in connection.execute(
                    select(RateBudget)
                    .where(RateBudget.key.in_([b.key for b in budgets]))
                    .order_by(RateBudget.key)
                    .with_for_update()
                )
            }
            waits: list[tuple[datetime, str]] = []
            levels: dict[str, float] = {}
            for budget in budgets:
                row = rows[budget.key]
                if row.paused_until is not None and row.paused_until > now:
                    waits.append((row.paused_until, budget.key))
                    continue
                elapsed = max((now - row.updated_at).total_seconds(), 0.0)
                level = min(budget.burst, row.tokens + elapsed * budget.per_second)
                levels[budget.key] = level
                if level < 1:
                    waits.append((now + timedelta(seconds=(1 - level) / budget.per_second), budget.key))
            if waits:
                until, key = max(waits)
                return Wait(until, channel_spent=":tier" not in key)
            for budget in budgets:
                # Never back in time: a replica whose clock (or whose reading of it, taken before the row lock) is
                # behind the last taker's would otherwise have the same seconds refilled twice, and Slack refuse.
                refilled_to = max(now, rows[budget.key].updated_at)
                connection.execute(
                    update(RateBudget)
                    .where(RateBudget.key == budget.key)
                    .values(tokens=levels[budget.key] - 1, updated_at=refilled_to, paused_until=None)
                )
            return None

    def pause(self, budgets: list[Budget], until: datetime, now: datetime) -> None:
        """Slack said wait (`Retry-After`): no replica calls within these budgets before `until`."""
        if not budgets:
            return
        with self.engine.begin() as connection:
            self._ensure(connection, budgets, now)
            for budget in budgets:
                connection.execute(
                    update(RateBudget)
                    .where(RateBudget.key == budget.key)
                    .where((RateBudget.paused_until.is_(None)) | (RateBudget.paused_until < until))
                    .values(paused_until=until, tokens=1.0, updated_at=until)
                )

    def _ensure(self, connection: object, budgets: list[Budget], now: datetime) -> None:
        insert = sqlite_insert if self._sqlite else pg_insert
        values = [{"key": b.key, "tokens": b.burst, "updated_at": now, "paused_until": None} for b in budgets]
        connection.execute(insert(RateBudget).values(values).on_conflict_do_nothing(index_elements=["key"]))  # type: ignore[attr-defined]
