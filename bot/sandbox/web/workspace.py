"""The page's view of the emulated workspace: its people and channels, looked up by id, handle or name."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.sandbox.emulator import SlackEmulator
from bot.sandbox.web.mrkdwn import RenderContext

__all__ = ["SandboxWorkspace", "encode_user_text"]

JsonDict = dict[str, Any]
_HANDLE = re.compile(r"(?<![\w@])@([\w.-]+)")
_CHANNEL = re.compile(r"(?<![\w#&])#([a-z0-9_-]+)")


class SandboxWorkspace:
    """The seeded people and channels, plus the channels the bot creates (incident management)."""

    def __init__(self, emulator: SlackEmulator, roles: Mapping[str, str], channels: Sequence[str]) -> None:
        self.emulator = emulator
        self.roles = dict(roles)  # person id -> role, in the order the person switcher lists them
        self.people_ids = tuple(roles)
        self.seeded_channels = tuple(channels)

    def person(self, user_id: str) -> JsonDict | None:
        return self.emulator.user(user_id) if user_id in self.people_ids else None

    def people(self) -> list[JsonDict]:
        return [user for user_id in self.people_ids if (user := self.emulator.user(user_id)) is not None]

    def channel_ids(self) -> list[str]:
        """Seeded channels first, then the ones the bot created, oldest first."""
        created = [
            str(call.response["channel"]["id"])
            for call in self.emulator.calls("conversations.create")
            if call.response.get("ok") and isinstance(call.response.get("channel"), dict)
        ]
        return list(dict.fromkeys([*self.seeded_channels, *created]))

    def channels(self, user_id: str | None = None) -> list[JsonDict]:
        """Channels as ``user_id`` sees them: public ones, and private ones they are a member of."""
        found = [c for cid in self.channel_ids() if (c := self.emulator.channel(cid)) is not None]
        return [c for c in found if not c.get("is_private") or user_id in c.get("members", [])]

    def render_context(self, *, now: datetime, zone: ZoneInfo) -> RenderContext:
        people = self.people()
        users = {u["id"]: str(u.get("real_name") or u.get("name")) for u in people}
        bot = self.emulator.user(self.emulator.bot_user_id) or {}
        users[self.emulator.bot_user_id] = str(bot.get("name", "triage-bot"))
        return RenderContext(
            users=users,
            channels={c["id"]: str(c.get("name", c["id"])) for c in self.channels()},
            people=tuple((u["id"], str(u.get("real_name") or u.get("name"))) for u in people),
            now=now,
            zone=zone,
        )

    def handles(self) -> dict[str, str]:
        """``@handle`` -> user id, the bot included."""
        users = [*self.people(), self.emulator.user(self.emulator.bot_user_id) or {}]
        return {str(u["name"]).lower(): str(u["id"]) for u in users if u.get("name")}

    def channel_names(self) -> dict[str, str]:
        """``#name`` -> channel id."""
        return {str(c["name"]): str(c["id"]) for c in self.channels() if c.get("name")}


def encode_user_text(text: str, handles: dict[str, str], channels: dict[str, str]) -> str:
    """What a Slack client sends for typed text: ``&``, ``<``, ``>`` escaped; known ``@handle`` / ``#channel``
    turned into mentions."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

    def user(match: re.Match[str]) -> str:
        user_id = handles.get(match.group(1).lower())
        return f"<@{user_id}>" if user_id else match.group(0)

    def channel(match: re.Match[str]) -> str:
        channel_id = channels.get(match.group(1))
        return f"<#{channel_id}|{match.group(1)}>" if channel_id else match.group(0)

    return _CHANNEL.sub(channel, _HANDLE.sub(user, escaped))
