"""Message storage shared by chat.*, response_url and the seeding helpers: content, threads, ephemerals."""

from __future__ import annotations

from collections.abc import Sequence

from bot.sandbox.emulator.blockkit import Problem, check_message
from bot.sandbox.emulator.state import PAYLOADS, JsonDict, SlackApiFailure, _Channel, json_copy
from bot.sandbox.emulator.validation import _iter_block_elements
from bot.sandbox.emulator.workspace import WorkspaceBase


def refusal(problems: Sequence[Problem]) -> SlackApiFailure:
    """Slack's answer to a refused payload: the first problem's error, every problem in Slack's words."""
    messages = [str(problem) for problem in problems]
    return SlackApiFailure(problems[0].error, errors=messages, response_metadata={"messages": messages})


class MessageStore(WorkspaceBase):
    """Validating, storing, threading and deleting messages in channels."""

    def _normalize_blocks(self, blocks: list[JsonDict]) -> list[JsonDict]:
        """Deep-copy blocks, filling in block_id / action_id the way Slack generates them."""
        return self._with_generated_ids(json_copy(blocks))

    def _with_generated_ids(self, blocks: list[JsonDict]) -> list[JsonDict]:
        """The blocks (changed in place), with block_id / action_id filled in the way Slack generates them."""
        for block in blocks:
            if "block_id" not in block:
                block["block_id"] = self._generated_id()
            for element in _iter_block_elements(block):
                if "action_id" not in element:
                    element["action_id"] = self._generated_id()
        return blocks

    def _counted(self, problems: list[Problem]) -> list[Problem]:
        """Count one checked payload (on this emulator and for the whole process)."""
        self.tally.count(refused=bool(problems))
        PAYLOADS.count(refused=bool(problems))
        return problems

    def _message_content(self, args: JsonDict, *, partial: bool = False, via_response_url: bool = False) -> JsonDict:
        """text / blocks / attachments / metadata of a message, validated like chat.postMessage."""
        problems = self._counted(check_message(args.get("text"), args.get("blocks"), via_response_url=via_response_url))
        if problems:
            raise refusal(problems)
        content: JsonDict = {}
        if args.get("text") is not None:
            content["text"] = str(args["text"])
        if args.get("blocks") is not None:
            content["blocks"] = self._normalize_blocks(args["blocks"])
        for key in ("attachments", "metadata"):
            if args.get(key) is not None:
                content[key] = json_copy(args[key])
        if not (content.get("text") or content.get("blocks") or content.get("attachments")):
            raise SlackApiFailure("no_text")
        if not partial:
            content.setdefault("text", "")
        return content

    def _new_bot_message(self, content: JsonDict) -> JsonDict:
        return {
            "type": "message",
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "app_id": self.app_id,
            "team": self.team_id,
            "ts": self._next_ts(),
            **content,
        }

    def _add_top_level(self, channel: _Channel, message: JsonDict) -> None:
        channel.messages.append(message)
        channel.index[message["ts"]] = message

    def _add_reply(self, channel: _Channel, thread_ts: str, message: JsonDict, *, broadcast: bool) -> None:
        parent = channel.index.get(thread_ts)
        if parent is None or parent.get("thread_ts", thread_ts) != thread_ts:
            raise SlackApiFailure("invalid_thread_ts")
        message["thread_ts"] = thread_ts
        parent["thread_ts"] = thread_ts
        parent["reply_count"] = parent.get("reply_count", 0) + 1
        users = parent.setdefault("reply_users", [])
        if message.get("user") and message["user"] not in users:
            users.append(message["user"])
        parent["reply_users_count"] = len(users)
        parent["latest_reply"] = message["ts"]
        channel.threads.setdefault(thread_ts, []).append(message)
        channel.index[message["ts"]] = message
        if broadcast:
            message["subtype"] = "thread_broadcast"
            channel.messages.append(message)

    def _remove_message(self, channel: _Channel, message: JsonDict) -> None:
        """Delete a message; a thread parent with replies becomes a tombstone like in Slack."""
        ts = message["ts"]
        if channel.threads.get(ts):
            kept = ("ts", "thread_ts", "reply_count", "reply_users", "reply_users_count", "latest_reply")
            keep = {k: message[k] for k in kept if k in message}
            message.clear()
            message.update({"type": "message", "subtype": "tombstone", "text": "This message was deleted.", **keep})
            return
        channel.index.pop(ts, None)
        channel.messages[:] = [m for m in channel.messages if m is not message]
        thread_ts = message.get("thread_ts")
        if thread_ts and thread_ts != ts:
            replies = channel.threads.get(thread_ts, [])
            replies[:] = [m for m in replies if m is not message]
            parent = channel.index.get(thread_ts)
            if parent is not None:
                parent["reply_count"] = len(replies)

    def _permalink(self, channel: _Channel, message: JsonDict) -> str:
        ts = message["ts"]
        link = f"{self.message_link_base}archives/{channel.id}/p{ts.replace('.', '')}"
        thread_ts = message.get("thread_ts")
        if thread_ts and thread_ts != ts:
            link += f"?thread_ts={thread_ts}&cid={channel.id}"
        return link

    def _store_ephemeral(self, channel_id: str, user_id: str, content: JsonDict, source: str) -> JsonDict:
        record: JsonDict = {
            "channel": channel_id,
            "user": user_id,
            "text": content.get("text", ""),
            "blocks": content.get("blocks", []),
            "ts": self._next_ts(),
            "thread_ts": content.get("thread_ts"),
            "source": source,
        }
        self._ephemerals.append(record)
        return record
