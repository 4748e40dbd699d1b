"""Who someone is in a Slack workspace (users.info, usergroups.users.list), kept briefly per process.

Roles are decided from these answers (`bot.domain.permissions`). A busy incident costs one users.info per person a
minute; a promotion, demotion or group change made in Slack is seen within CACHE_SECONDS.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from bot.integrations.slack import SlackCallError, SlackGateway

CACHE_SECONDS = 60.0
T = TypeVar("T")


@dataclass(frozen=True)
class Person:
    """What users.info says about someone, as far as roles go."""

    user_id: str
    found: bool
    is_admin: bool = False  # an admin or owner of the workspace
    is_guest: bool = False  # a guest account, someone from another organisation, or a deactivated account
    team_id: str | None = None


class SlackPeople:
    """users.info and usergroups.users.list answers, per workspace, kept CACHE_SECONDS in this process.

    Calls raise SlackCallError when Slack can't answer; someone Slack doesn't know is a Person that was not found.
    """

    def __init__(self, *, seconds: float = CACHE_SECONDS, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._answers: dict[tuple[str, str | None, str], tuple[float, object]] = {}
        self._teams: dict[str, str | None] = {}

    def person(self, slack: SlackGateway, workspace: str | None, user_id: str) -> Person:
        return self._kept(("user", workspace, user_id), lambda: _ask_person(slack, user_id))

    def group_members(self, slack: SlackGateway, workspace: str | None, group_id: str) -> frozenset[str]:
        return self._kept(("group", workspace, group_id), lambda: _ask_group(slack, group_id))

    def home_team(self, slack: SlackGateway) -> str | None:
        """The workspace the bot token belongs to (auth.test, asked once per token and process)."""
        token = slack.client.token or ""
        with self._lock:
            if token in self._teams:
                return self._teams[token]
        team = slack.call("auth.test", {}).get("team_id")
        with self._lock:
            self._teams[token] = team if isinstance(team, str) else None
            return self._teams[token]

    def _kept(self, key: tuple[str, str | None, str], ask: Callable[[], T]) -> T:
        now = self._monotonic()
        with self._lock:
            kept = self._answers.get(key)
        if kept is not None and now - kept[0] < self.seconds:
            return kept[1]  # type: ignore[return-value]
        answer = ask()
        with self._lock:
            self._answers[key] = (now, answer)
        return answer


def _ask_person(slack: SlackGateway, user_id: str) -> Person:
    try:
        user = slack.call("users.info", {"user": user_id}).get("user") or {}
    except SlackCallError as exc:
        if exc.error in ("user_not_found", "user_not_visible"):
            return Person(user_id, found=False)
        raise
    flags = ("is_restricted", "is_ultra_restricted", "is_stranger", "deleted")
    return Person(
        user_id,
        found=True,
        is_admin=any(bool(user.get(flag)) for flag in ("is_admin", "is_owner", "is_primary_owner")),
        is_guest=any(bool(user.get(flag)) for flag in flags),
        team_id=user.get("team_id") if isinstance(user.get("team_id"), str) else None,
    )


def _ask_group(slack: SlackGateway, group_id: str) -> frozenset[str]:
    users = slack.call("usergroups.users.list", {"usergroup": group_id}).get("users") or []
    return frozenset(u for u in users if isinstance(u, str))
