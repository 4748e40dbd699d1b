"""auth.test and the chat.* Web API methods."""

from __future__ import annotations

from bot.sandbox.emulator.messages import MessageStore
from bot.sandbox.emulator.state import JsonDict, SlackApiFailure
from bot.sandbox.emulator.validation import _truthy


class ChatApi(MessageStore):
    """Handlers for ``auth.test`` and ``chat.*``."""

    def _auth_test(self, args: JsonDict) -> JsonDict:
        return {
            "url": self.workspace_url,
            "team": self.team_name,
            "user": self.bot_name,
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _chat_post_message(self, args: JsonDict) -> JsonDict:
        channel = self._postable_channel(args.get("channel"))
        message = self._new_bot_message(self._message_content(args))
        thread_ts = args.get("thread_ts")
        if thread_ts:
            self._add_reply(channel, str(thread_ts), message, broadcast=_truthy(args.get("reply_broadcast")))
        else:
            self._add_top_level(channel, message)
        return {"channel": channel.id, "ts": message["ts"], "message": message}

    def _chat_update(self, args: JsonDict) -> JsonDict:
        channel = self._postable_channel(args.get("channel"))
        message = self._message_or_fail(channel, args.get("ts"))
        if message.get("user") != self.bot_user_id or message.get("subtype") == "tombstone":
            raise SlackApiFailure("cant_update_message")
        message.update(self._message_content(args, partial=True))
        message["edited"] = {"user": self.bot_user_id, "ts": self._next_ts()}
        return {
            "channel": channel.id,
            "ts": message["ts"],
            "text": message.get("text", ""),
            "message": message,
        }

    def _chat_post_ephemeral(self, args: JsonDict) -> JsonDict:
        channel = self._writable_channel(args.get("channel"))
        user = self._user_or_fail(args.get("user"))
        if not channel.is_im and user["id"] not in channel.members:
            raise SlackApiFailure("user_not_in_channel")
        content = self._message_content(args)
        if args.get("thread_ts"):
            content["thread_ts"] = str(args["thread_ts"])
        record = self._store_ephemeral(channel.id, user["id"], content, "chat.postEphemeral")
        return {"message_ts": record["ts"]}

    def _chat_get_permalink(self, args: JsonDict) -> JsonDict:
        channel = self._visible_channel(args.get("channel"))
        message = self._message_or_fail(channel, args.get("message_ts"))
        return {"channel": channel.id, "permalink": self._permalink(channel, message)}

    def _chat_delete(self, args: JsonDict) -> JsonDict:
        channel = self._postable_channel(args.get("channel"))
        message = self._message_or_fail(channel, args.get("ts"))
        if message.get("user") != self.bot_user_id:
            raise SlackApiFailure("cant_delete_message")
        self._remove_message(channel, message)
        return {"channel": channel.id, "ts": str(args["ts"])}
