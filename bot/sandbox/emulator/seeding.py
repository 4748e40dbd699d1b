"""Seeding helpers: populate the workspace and issue triggers / response URLs, as Slack itself would."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from urllib.parse import quote

from bot.sandbox.emulator.files import FilesApi, FileSpec, _check_file_specs
from bot.sandbox.emulator.state import JsonDict, _Channel, _ResponseHook, _Trigger, _tz_fields, json_copy


class Seeding(FilesApi):
    """Test / sandbox set-up API: users, channels, user groups, triggers, response URLs, human messages."""

    def add_user(
        self,
        id: str,
        name: str,
        real_name: str | None = None,
        tz: str = "UTC",
        *,
        email: str | None = None,
        is_bot: bool = False,
        is_admin: bool = False,
        is_owner: bool = False,
        guest: str | None = None,
        team_id: str | None = None,
    ) -> JsonDict:
        """Create (or replace) a workspace member and return its users.info shape.

        ``guest`` makes a guest account: ``"multi"`` (``is_restricted``) or ``"single"`` (``is_ultra_restricted``);
        ``team_id`` puts the person in another organisation (as in a Slack Connect channel).
        """
        if guest not in (None, "multi", "single"):
            raise ValueError(f"guest must be 'multi', 'single' or None, not {guest!r}")
        real = real_name or name
        profile: JsonDict = {
            "real_name": real,
            "real_name_normalized": real,
            "display_name": name,
            "display_name_normalized": name,
            "team": team_id or self.team_id,
        }
        if email:
            profile["email"] = email
        if is_bot:
            profile["bot_id"] = self.bot_id
        user: JsonDict = {
            "id": id,
            "team_id": team_id or self.team_id,
            "name": name,
            "deleted": False,
            "real_name": real,
            **_tz_fields(tz, self.clock()),
            "is_bot": is_bot,
            "is_admin": is_admin or is_owner,
            "is_owner": is_owner,
            "is_primary_owner": False,
            "is_restricted": guest is not None,
            "is_ultra_restricted": guest == "single",
            "is_app_user": False,
            "updated": int(self.clock()),
            "profile": profile,
        }
        with self._lock:
            self._users[id] = user
            return json_copy(user)

    def add_channel(
        self,
        name: str,
        id: str | None = None,
        is_private: bool = False,
        members: Iterable[str] = (),
        *,
        topic: str = "",
        purpose: str = "",
        shared_with: str | None = None,
    ) -> JsonDict:
        """Create a channel (the bot is a member only if listed in ``members``).

        ``shared_with``: ``"workspace"`` for a channel shared with other workspaces of the organisation
        (``is_shared``), ``"external"`` for a Slack Connect channel (``is_shared`` and ``is_ext_shared``).
        """
        if shared_with not in (None, "workspace", "external"):
            raise ValueError(f"shared_with must be 'workspace', 'external' or None, not {shared_with!r}")
        with self._lock:
            channel = _Channel(
                id=id or self._new_id("C"),
                name=name,
                is_private=is_private,
                members=list(dict.fromkeys(members)),
                created=int(self.clock()),
                creator=self.bot_user_id,
                topic=topic,
                purpose=purpose,
                shared_with=shared_with,
            )
            self._channels[channel.id] = channel
            return self._channel_record(channel)

    def add_group_dm(self, *users: str) -> str:
        """A group DM (mpim) among people, the bot only if listed; returns its ``G…`` id."""
        if len(users) < 2:
            raise ValueError("a group DM has at least two people")
        with self._lock:
            handles = [str((self._users.get(u) or {}).get("name") or u).lower() for u in users]
            channel = _Channel(
                id=self._new_id("G"),
                name=f"mpdm-{'--'.join(handles)}-1",
                is_private=True,
                members=list(dict.fromkeys(users)),
                created=int(self.clock()),
                creator=users[0],
                is_mpim=True,
            )
            self._channels[channel.id] = channel
            return channel.id

    def add_usergroup(self, id: str, handle: str, users: Iterable[str], *, name: str | None = None) -> JsonDict:
        """Create a user group (``S…`` id) with the given members."""
        group: JsonDict = {
            "id": id,
            "team_id": self.team_id,
            "is_usergroup": True,
            "name": name or handle,
            "description": "",
            "handle": handle,
            "date_create": int(self.clock()),
            "users": list(users),
        }
        group["user_count"] = len(group["users"])
        with self._lock:
            self._usergroups[id] = group
            return json_copy(group)

    def new_trigger_id(self, user_id: str | None = None) -> str:
        """Issue a trigger_id (valid for ``trigger_ttl_seconds``), optionally bound to a user."""
        with self._lock:
            trigger_id = f"{next(self._ids)}.{int(self.clock())}.{secrets.token_hex(16)}"
            self._triggers[trigger_id] = _Trigger(created_at=self.clock(), user_id=user_id)
            return trigger_id

    def new_response_url(self, channel_id: str, user_id: str, message_ts: str | None = None) -> str:
        """Issue a response_url bound to a channel/user (and the source message for replace/delete)."""
        base = self._require_base_url()
        with self._lock:
            hook_id = secrets.token_hex(12)
            self._hooks[hook_id] = _ResponseHook(channel_id, user_id, message_ts, created_at=self.clock())
            return f"{base}/response/{hook_id}"

    def dm_channel(self, user_id: str) -> str:
        """The id of the bot's DM channel with ``user_id`` (created on first use)."""
        with self._lock:
            return self._dm(user_id).id

    def add_dm(self, user_a: str, user_b: str) -> str:
        """A direct message between two people, without the bot (as in Slack, it can neither see nor post in it)."""
        with self._lock:
            dm = _Channel(
                id=self._new_id("D"),
                name=f"{user_a}-{user_b}",
                is_private=True,
                members=[user_a, user_b],
                created=int(self.clock()),
                creator=user_a,
                is_im=True,
                im_user=user_b,
            )
            self._channels[dm.id] = dm
            return dm.id

    def post_user_message(
        self,
        channel_id: str,
        user_id: str,
        text: str,
        thread_ts: str | None = None,
        files: Sequence[FileSpec] | None = None,
    ) -> JsonDict:
        """Store a message as if a human posted it (no Web API call is logged).

        ``files`` are ``(name, mimetype, content)`` uploads shared with the message: each becomes a Slack
        file object in the message's ``files`` (and ``upload`` is set), downloadable from ``url_private``.
        """
        _check_file_specs(files or ())
        with self._lock:
            channel = self._channel_for_helper(channel_id)
            message: JsonDict = {"type": "message", "user": user_id, "text": text, "ts": self._next_ts()}
            message["team"] = self.team_id
            if thread_ts:
                self._add_reply(channel, thread_ts, message, broadcast=False)
            else:
                self._add_top_level(channel, message)
            if files:  # stored once the message is, so a rejected reply leaves no orphan files
                message["files"] = self._share_files(channel, user_id, files)
                message["upload"] = True
            return json_copy(message)

    def post_remote_file(
        self, channel_id: str, user_id: str, title: str, external_url: str, thread_ts: str | None = None
    ) -> JsonDict:
        """A message sharing a remote file (``files.remote.add`` + ``files.remote.share`` by some app).

        As in Slack, the file's ``url_private`` is the ``external_url`` its app gave: any host at all.
        """
        with self._lock:
            channel = self._channel_for_helper(channel_id)
            file_id = self._new_id("F")
            remote: JsonDict = {
                "id": file_id,
                "created": int(self.clock()),
                "timestamp": int(self.clock()),
                "name": title,
                "title": title,
                "mimetype": "application/vnd.slack-remote",
                "filetype": "remote",
                "user": user_id,
                "mode": "external",
                "is_external": True,
                "external_type": "app",
                "external_url": external_url,
                "url_private": external_url,
                "permalink": f"{self.workspace_url}files/{user_id}/{file_id}/{quote(title, safe='')}",
                "size": 0,
            }
            message: JsonDict = {"type": "message", "user": user_id, "text": "", "ts": self._next_ts()}
            message["team"] = self.team_id
            if thread_ts:
                self._add_reply(channel, thread_ts, message, broadcast=False)
            else:
                self._add_top_level(channel, message)
            message["files"] = [remote]
            return json_copy(message)
