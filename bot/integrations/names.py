"""What Slack calls a person (users.info), a user group (usergroups.list) or a channel (conversations.info)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from bot.domain.names import CHANNEL, USERGROUP, kind_of
from bot.integrations.slack import SlackCallError, SlackGateway

logger = logging.getLogger(__name__)

# Slack's answers for an id it does not know (or will not show this app): the name is None, asked again tomorrow.
UNKNOWN = {"user_not_found", "user_not_visible", "channel_not_found", "no_such_subteam"}


def ask_names(slack: SlackGateway, ids: Iterable[str]) -> dict[str, str | None]:
    """The names Slack gives these ids (None: Slack does not know one). Stops at the first error Slack may get over
    on its own (a rate limit, an outage), keeping what it learned so far; other errors skip that id."""
    answers: dict[str, str | None] = {}
    groups: dict[str, str | None] | None = None
    for slack_id in ids:
        kind = kind_of(slack_id)
        try:
            if kind == USERGROUP:
                groups = _user_groups(slack) if groups is None else groups
                answers[slack_id] = groups.get(slack_id)
            elif kind == CHANNEL:
                answers[slack_id] = _channel_name(slack, slack_id)
            elif kind is not None:
                answers[slack_id] = _person_name(slack, slack_id)
        except SlackCallError as exc:
            if exc.error in UNKNOWN:
                answers[slack_id] = None
                continue
            logger.info("Could not look up the name of %s: %s", slack_id, exc.error)
            if exc.retryable:
                break
    return answers


def person_name(user: dict[str, Any]) -> str | None:
    """The name people know someone by: their full name, else their display name, else their handle."""
    found = user.get("profile")
    profile: dict[str, Any] = found if isinstance(found, dict) else {}
    for candidate in (profile.get("real_name"), user.get("real_name"), profile.get("display_name"), user.get("name")):
        if isinstance(candidate, str) and candidate.strip():
            return candidate.strip()[:200]
    return None


def _person_name(slack: SlackGateway, user_id: str) -> str | None:
    user = slack.call("users.info", {"user": user_id}).get("user")
    return person_name(user) if isinstance(user, dict) else None


def _channel_name(slack: SlackGateway, channel_id: str) -> str | None:
    channel = slack.call("conversations.info", {"channel": channel_id}).get("channel")
    if not isinstance(channel, dict):
        return None
    if channel.get("is_im"):
        return "a direct message"
    name = channel.get("name")
    return f"#{name}"[:200] if isinstance(name, str) and name else None


def _user_groups(slack: SlackGateway) -> dict[str, str | None]:
    """Every user group of the workspace by id, as `@handle` (one call answers for all of them)."""
    groups = slack.call("usergroups.list", {}).get("usergroups") or []
    found: dict[str, str | None] = {}
    for group in groups:
        if isinstance(group, dict) and isinstance(group.get("id"), str):
            handle = group.get("handle") or group.get("name")
            found[group["id"]] = f"@{handle}"[:200] if isinstance(handle, str) and handle else None
    return found
