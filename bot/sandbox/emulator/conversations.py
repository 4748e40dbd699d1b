"""conversations.*, pins.* and reactions.* Web API methods."""

from __future__ import annotations

from bot.sandbox.emulator.seeding import Seeding
from bot.sandbox.emulator.state import CHANNEL_NAME_RE, JsonDict, SlackApiFailure, _Channel, json_copy
from bot.sandbox.emulator.validation import _in_range, _paginate, _split_ids, _truthy


class ConversationsApi(Seeding):
    """Handlers for ``conversations.*``, ``pins.*`` and ``reactions.*``.

    Built on :class:`Seeding` because ``conversations.create`` goes through ``add_channel``.
    """

    def _conversations_info(self, args: JsonDict) -> JsonDict:
        return {"channel": self._render_channel(self._visible_channel(args.get("channel")))}

    def _listable(self, channel: _Channel, types: set[str], exclude_archived: bool) -> bool:
        if exclude_archived and channel.is_archived:
            return False
        if channel.is_im or channel.is_mpim:
            return ("im" if channel.is_im else "mpim") in types and self.bot_user_id in channel.members
        if channel.is_private:
            return "private_channel" in types and self.bot_user_id in channel.members
        return "public_channel" in types

    def _conversations_list(self, args: JsonDict) -> JsonDict:
        types = set(_split_ids(args.get("types") or "public_channel"))
        exclude_archived = _truthy(args.get("exclude_archived"))
        found = [self._render_channel(c) for c in self._channels.values() if self._listable(c, types, exclude_archived)]
        page = _paginate(found, args, "channels")
        page.pop("has_more")
        return page

    def _history_args(self, args: JsonDict) -> JsonDict:
        """``limit`` as Slack reads it: at most 15 (and 15 by default) for a distributed non-Marketplace app."""
        most = self.rate_limits.history_page_limit
        if most is None:
            return args
        try:
            asked = int(args.get("limit") or most)
        except (TypeError, ValueError) as exc:
            raise SlackApiFailure("invalid_arguments") from exc
        return {**args, "limit": min(asked, most)}

    def _conversations_history(self, args: JsonDict) -> JsonDict:
        channel = self._member_channel(args.get("channel"))
        selected = [m for m in channel.messages if _in_window(m, args)]
        page = _paginate(list(reversed(selected)), self._history_args(args), "messages")
        return {**page, "pin_count": len(channel.pins)}

    def _conversations_replies(self, args: JsonDict) -> JsonDict:
        """The thread's parent, then its replies oldest first (``oldest`` / ``latest`` choose among the replies)."""
        channel = self._member_channel(args.get("channel"))
        message = channel.index.get(str(args.get("ts") or ""))
        if message is None:
            raise SlackApiFailure("thread_not_found")
        thread_ts = str(message.get("thread_ts") or message["ts"])
        parent = channel.index.get(thread_ts, message)
        replies = [m for m in channel.threads.get(thread_ts, []) if _in_window(m, args)]
        return _paginate([parent, *replies], self._history_args(args), "messages")

    def _conversations_create(self, args: JsonDict) -> JsonDict:
        name = str(args.get("name") or "")
        if not name:
            raise SlackApiFailure("invalid_name_required")
        if len(name) > 80:
            raise SlackApiFailure("invalid_name_maxlength")
        if not CHANNEL_NAME_RE.match(name):
            raise SlackApiFailure("invalid_name_specials")
        if self._find_channel_by_name(name) is not None:
            raise SlackApiFailure("name_taken")
        record = self.add_channel(name, is_private=_truthy(args.get("is_private")), members=[self.bot_user_id])
        return {"channel": self._render_channel(self._channels[record["id"]])}

    def _conversations_invite(self, args: JsonDict) -> JsonDict:
        channel = self._member_channel(args.get("channel"))
        user_ids = _split_ids(args.get("users"))
        if not user_ids:
            raise SlackApiFailure("no_user")
        for user_id in user_ids:
            self._check_invitable(channel, user_id)
        channel.members.extend(u for u in dict.fromkeys(user_ids))
        return {"channel": self._render_channel(channel)}

    def _check_invitable(self, channel: _Channel, user_id: str) -> None:
        if user_id == self.bot_user_id:
            raise SlackApiFailure("cant_invite_self")
        self._user_or_fail(user_id)
        if user_id in channel.members:
            raise SlackApiFailure("already_in_channel", errors=[{"user": user_id, "ok": False}])

    def _conversations_join(self, args: JsonDict) -> JsonDict:
        channel = self._writable_channel(args.get("channel"))
        if channel.is_private or channel.is_im or channel.is_mpim:  # only public channels can be joined
            raise SlackApiFailure("method_not_supported_for_channel_type")
        if self.bot_user_id in channel.members:
            return {
                "channel": self._render_channel(channel),
                "warning": "already_in_channel",
                "response_metadata": {"warnings": ["already_in_channel"]},
            }
        channel.members.append(self.bot_user_id)
        return {"channel": self._render_channel(channel)}

    def _conversations_members(self, args: JsonDict) -> JsonDict:
        channel = self._visible_channel(args.get("channel"))
        page = _paginate([{"id": m} for m in channel.members], args, "members")
        page.pop("has_more")
        page["members"] = [m["id"] for m in page["members"]]
        return page

    def _conversations_open(self, args: JsonDict) -> JsonDict:
        if args.get("channel"):
            return {"channel": {"id": self._visible_channel(args["channel"]).id}}
        user_ids = _split_ids(args.get("users"))
        if len(user_ids) != 1:
            raise SlackApiFailure("users_list_not_supplied" if not user_ids else "not_implemented")
        self._user_or_fail(user_ids[0])
        return {"channel": {"id": self._dm(user_ids[0]).id}}

    def _conversations_set_topic(self, args: JsonDict) -> JsonDict:
        channel = self._member_channel(args.get("channel"))
        channel.topic = str(args.get("topic") or "")
        return {"channel": self._render_channel(channel)}

    def _conversations_set_purpose(self, args: JsonDict) -> JsonDict:
        channel = self._member_channel(args.get("channel"))
        channel.purpose = str(args.get("purpose") or "")
        return {"channel": self._render_channel(channel), "purpose": channel.purpose}

    # ---------------------------------------------------------------- pins / reactions

    def _pins_add(self, args: JsonDict) -> JsonDict:
        channel = self._member_channel(args.get("channel"))
        message = self._message_or_fail(channel, args.get("timestamp"))
        if message["ts"] in channel.pins:
            raise SlackApiFailure("already_pinned")
        channel.pins.append(message["ts"])
        message.setdefault("pinned_to", []).append(channel.id)
        message["pinned_info"] = {"channel": channel.id, "pinned_by": self.bot_user_id, "pinned_ts": self.clock()}
        return {}

    def _pins_list(self, args: JsonDict) -> JsonDict:
        channel = self._visible_channel(args.get("channel"))
        items = []
        for ts in reversed(channel.pins):
            message = channel.index.get(ts)
            if message is None:
                continue
            items.append(
                {
                    "type": "message",
                    "created": int(message.get("pinned_info", {}).get("pinned_ts", 0)),
                    "created_by": self.bot_user_id,
                    "channel": channel.id,
                    "message": json_copy(message),
                }
            )
        return {"items": items}

    def _reactions_add(self, args: JsonDict) -> JsonDict:
        channel = self._visible_channel(args.get("channel"))
        message = self._message_or_fail(channel, args.get("timestamp"))
        name = str(args.get("name") or "").strip(":")
        if not name:
            raise SlackApiFailure("invalid_name")
        reactions = message.setdefault("reactions", [])
        reaction = next((r for r in reactions if r["name"] == name), None)
        if reaction is None:
            reaction = {"name": name, "users": [], "count": 0}
            reactions.append(reaction)
        if self.bot_user_id in reaction["users"]:
            raise SlackApiFailure("already_reacted")
        reaction["users"].append(self.bot_user_id)
        reaction["count"] = len(reaction["users"])
        return {}


def _in_window(message: JsonDict, args: JsonDict) -> bool:
    """Whether a message is within the call's ``oldest`` / ``latest`` (``inclusive`` keeps the bounds)."""
    try:
        oldest = float(args.get("oldest") or 0)
        latest = float(args.get("latest") or "inf")
    except (TypeError, ValueError) as exc:
        raise SlackApiFailure("invalid_ts_oldest") from exc
    return _in_range(float(message["ts"]), oldest, latest, _truthy(args.get("inclusive")))
