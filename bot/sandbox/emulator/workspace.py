"""The emulator's shared core: workspace state, id / ts generation, the call log and lookups.

Every Web API family (``chat``, ``views``, ...) is a mixin built on :class:`WorkspaceBase`; the
attributes are declared here and initialised by :class:`~bot.sandbox.emulator.core.SlackEmulator`.
"""

from __future__ import annotations

import itertools
import secrets
import threading
from typing import TYPE_CHECKING, Any

import bot.jsontext as jsontext
from bot.sandbox.emulator.state import (
    ApiResult,
    Clock,
    Handler,
    JsonDict,
    PayloadTally,
    SlackApiFailure,
    _Channel,
    _Fault,
    _format_ts,
    _PendingUpload,
    _ResponseHook,
    _StoredFile,
    _Trigger,
)
from bot.sandbox.emulator.validation import _required

if TYPE_CHECKING:
    from bot.sandbox.emulator.ratelimits import RateLimits


class WorkspaceBase:
    """Workspace state shared by the Web API mixins, plus the lookups they all rely on."""

    bot_token: str
    bot_user_id: str
    bot_id: str
    bot_name: str
    app_id: str
    team_id: str
    team_domain: str
    team_name: str
    clock: Clock
    trigger_ttl_seconds: float
    scopes: frozenset[str]
    rate_limits: RateLimits
    tally: PayloadTally
    base_url: str | None
    permalink_base: str | None  # where message links point (the sandbox page); None: the workspace's URL
    _lock: threading.RLock
    _ids: itertools.count[int]
    _generated_ids: itertools.count[int]
    _last_ts_micros: int
    _users: dict[str, JsonDict]
    _usergroups: dict[str, JsonDict]
    _channels: dict[str, _Channel]
    _dms: dict[str, str]
    _ephemerals: list[JsonDict]
    _views: dict[str, JsonDict]
    _stacks: dict[str, list[str]]
    _homes: dict[str, str]
    _triggers: dict[str, _Trigger]
    _hooks: dict[str, _ResponseHook]
    _faults: dict[str, list[_Fault]]
    _files: dict[str, _StoredFile]
    _uploads: dict[str, _PendingUpload]
    _calls: list[tuple[str, str, bytes]]  # (method, the args as JSON, the response as JSON), decoded when read
    _handlers: dict[str, Handler]

    # ---------------------------------------------------------------- identity / urls

    @property
    def workspace_url(self) -> str:
        """The https URL of the emulated workspace (used in permalinks and auth.test)."""
        return f"https://{self.team_domain}.slack.local/"

    @property
    def message_link_base(self) -> str:
        """What `chat.getPermalink` links start with: the sandbox page when one shows this workspace."""
        return f"{self.permalink_base.rstrip('/')}/" if self.permalink_base else self.workspace_url

    def _require_base_url(self) -> str:
        if not self.base_url:
            raise RuntimeError("SlackEmulator is not served: call serve() or set base_url first")
        return self.base_url.rstrip("/")

    # ---------------------------------------------------------------- id / ts generation

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):08X}"

    def _generated_id(self) -> str:
        """Deterministic stand-in for the block_id / action_id Slack generates."""
        return f"gen{next(self._generated_ids):04d}"

    def _next_ts(self) -> str:
        """A message ts from the clock, strictly greater than any previous one."""
        with self._lock:
            micros = max(int(self.clock() * 1_000_000), self._last_ts_micros + 1)
            self._last_ts_micros = micros
            return _format_ts(micros)

    def _new_hash(self) -> str:
        return f"{int(self.clock())}.{secrets.token_hex(4)}"

    # ---------------------------------------------------------------- call log

    def _record(self, method: str, args_json: str, result: ApiResult) -> ApiResult:
        """Log the call (its arguments as JSON) and encode its answer: one encoding the log and the HTTP response
        share."""
        with self._lock:
            result.encoded = jsontext.encoded(result.body)
            self._calls.append((method, args_json, result.encoded))
        return result

    # ---------------------------------------------------------------- lookups

    def _channel_record(self, channel: _Channel) -> JsonDict:
        record = self._render_channel(channel)
        record["members"] = list(channel.members)
        record["pins"] = list(channel.pins)
        return record

    def _render_channel(self, ch: _Channel) -> JsonDict:
        """conversations.info ``channel`` object."""
        if ch.is_im:
            return {"id": ch.id, "is_im": True, "user": ch.im_user, "created": ch.created, "is_user_deleted": False}
        if ch.is_mpim:
            return {
                "id": ch.id,
                "name": ch.name,
                "is_channel": False,
                "is_group": True,
                "is_im": False,
                "is_mpim": True,
                "is_private": True,
                "is_archived": False,
                "is_member": self.bot_user_id in ch.members,
                "created": ch.created,
                "creator": ch.creator,
                "num_members": len(ch.members),
            }
        return {
            "id": ch.id,
            "name": ch.name,
            "name_normalized": ch.name,
            "is_channel": True,
            "is_group": ch.is_private,
            "is_im": False,
            "is_mpim": False,
            "is_private": ch.is_private,
            "is_archived": ch.is_archived,
            "is_general": False,
            "is_shared": ch.shared_with is not None,
            "is_ext_shared": ch.shared_with == "external",
            "is_org_shared": False,
            "is_member": self.bot_user_id in ch.members,
            "created": ch.created,
            "creator": ch.creator,
            "context_team_id": self.team_id,
            "topic": {"value": ch.topic, "creator": "", "last_set": 0},
            "purpose": {"value": ch.purpose, "creator": "", "last_set": 0},
            "num_members": len(ch.members),
        }

    def _find_channel_by_name(self, name: str) -> _Channel | None:
        return next((c for c in self._channels.values() if c.name == name and not c.is_im), None)

    def _channel_for_helper(self, key: str) -> _Channel:
        """Channel by id or name for inspection helpers (KeyError if unknown)."""
        found = self._channels.get(key) or self._find_channel_by_name(key.lstrip("#"))
        if found is None:
            raise KeyError(f"unknown channel {key!r}")
        return found

    def _dm(self, user_id: str) -> _Channel:
        if user_id not in self._dms:
            dm = _Channel(
                id=self._new_id("D"),
                name=user_id,
                is_private=True,
                members=[user_id, self.bot_user_id],
                created=int(self.clock()),
                creator=self.bot_user_id,
                is_im=True,
                im_user=user_id,
            )
            self._channels[dm.id] = dm
            self._dms[user_id] = dm.id
        return self._channels[self._dms[user_id]]

    def _visible_channel(self, key: Any) -> _Channel:
        """Resolve a channel id/name/user id as the bot sees it (``channel_not_found`` otherwise).

        A private channel, DM or group DM the bot is not in does not exist as far as the bot can tell.
        """
        key = str(_required({"channel": key}, "channel", "channel_not_found"))
        if key in self._users and key not in self._channels:
            return self._dm(key)
        found = self._channels.get(key) or self._find_channel_by_name(key.lstrip("#"))
        if found is None or (found.is_private and self.bot_user_id not in found.members):
            raise SlackApiFailure("channel_not_found")
        return found

    def _member_channel(self, key: Any) -> _Channel:
        """A visible channel the bot belongs to (``not_in_channel`` otherwise)."""
        channel = self._visible_channel(key)
        if self.bot_user_id not in channel.members:
            raise SlackApiFailure("not_in_channel")
        return channel

    def _writable_channel(self, key: Any) -> _Channel:
        channel = self._visible_channel(key)
        if channel.is_archived:
            raise SlackApiFailure("is_archived")
        return channel

    def _postable_channel(self, key: Any) -> _Channel:
        """A conversation the bot may post in: it must be a member (the app has no ``chat:write.public``).

        A public channel not joined answers ``not_in_channel``; a private one, a DM or a group DM the bot is not in
        answers ``channel_not_found`` (it is invisible to the bot).
        """
        channel = self._writable_channel(key)
        if self.bot_user_id not in channel.members:
            raise SlackApiFailure("not_in_channel")
        return channel

    def _user_or_fail(self, user_id: Any, error: str = "user_not_found") -> JsonDict:
        found = self._users.get(str(user_id or ""))
        if found is None:
            raise SlackApiFailure(error)
        return found

    def _message_or_fail(self, channel: _Channel, ts: Any) -> JsonDict:
        found = channel.index.get(str(ts or ""))
        if found is None:
            raise SlackApiFailure("message_not_found")
        return found

    def _views_or_fail(self, view_id: str) -> JsonDict:
        found = self._views.get(view_id)
        if found is None:
            raise SlackApiFailure("not_found")
        return found
