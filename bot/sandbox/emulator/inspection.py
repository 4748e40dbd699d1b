"""Inspection helpers: read-only views of the workspace for tests and the sandbox UI."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import bot.jsontext as jsontext
from bot.sandbox.emulator.http import decoded_for_reading
from bot.sandbox.emulator.state import Call, JsonDict, json_copy
from bot.sandbox.emulator.workspace import WorkspaceBase


class Inspection(WorkspaceBase):
    """Copies of the recorded calls, messages, ephemerals, views, channels and users."""

    def calls(self, method: str | None = None) -> list[Call]:
        """Recorded Web API calls, oldest first, optionally filtered by method."""
        with self._lock:
            return [
                Call(m, decoded_for_reading(jsontext.decoded(args)), jsontext.decoded(response))
                for m, args, response in self._calls
                if method is None or m == method
            ]

    def messages(self, channel_id: str) -> list[JsonDict]:
        """Top-level messages (incl. thread broadcasts) of a channel, oldest first."""
        with self._lock:
            return json_copy(self._channel_for_helper(channel_id).messages)

    def replies(self, channel_id: str, thread_ts: str) -> list[JsonDict]:
        """Replies in a thread (without the parent), oldest first."""
        with self._lock:
            return json_copy(self._channel_for_helper(channel_id).threads.get(thread_ts, []))

    def message(self, channel_id: str, ts: str) -> JsonDict | None:
        """A single message (top-level or reply) by ts."""
        with self._lock:
            found = self._channel_for_helper(channel_id).index.get(ts)
            return json_copy(found) if found else None

    def ephemerals(self, channel_id: str | None = None, user: str | None = None) -> list[JsonDict]:
        """Ephemeral messages shown so far, optionally filtered by channel and/or user."""
        with self._lock:
            return json_copy(
                [
                    e
                    for e in self._ephemerals
                    if (channel_id is None or e["channel"] == channel_id) and (user is None or e["user"] == user)
                ]
            )

    def view(self, view_id: str) -> JsonDict | None:
        """A stored view (open, closed or home) by id."""
        with self._lock:
            found = self._views.get(view_id)
            return json_copy(found) if found else None

    def modal_stack(self, user_id: str) -> list[JsonDict]:
        """The user's open modals, root first."""
        with self._lock:
            return [json_copy(self._views[v]) for v in self._stacks.get(user_id, [])]

    def current_modal(self, user_id: str) -> JsonDict | None:
        """The top of the user's modal stack, if any."""
        stack = self.modal_stack(user_id)
        return stack[-1] if stack else None

    def modal_owner(self, view_id: str) -> str | None:
        """The user whose modal stack contains ``view_id`` (None if the view is not open)."""
        with self._lock:
            return next((user for user, stack in self._stacks.items() if view_id in stack), None)

    def home(self, user_id: str) -> JsonDict | None:
        """The App Home view published for the user."""
        with self._lock:
            view_id = self._homes.get(user_id)
            return json_copy(self._views[view_id]) if view_id else None

    def channel(self, channel_id: str) -> JsonDict | None:
        """conversations.info shape of a channel plus its ``members`` list."""
        with self._lock:
            found = self._channels.get(channel_id)
            return self._channel_record(found) if found else None

    def channel_by_name(self, name: str) -> JsonDict | None:
        """Like :meth:`channel`, looked up by name (leading ``#`` allowed)."""
        with self._lock:
            found = self._find_channel_by_name(name.lstrip("#"))
            return self._channel_record(found) if found else None

    def user(self, user_id: str) -> JsonDict | None:
        """users.info shape of a user."""
        with self._lock:
            found = self._users.get(user_id)
            return json_copy(found) if found else None

    def file_bytes(self, file_id: str) -> bytes | None:
        """The content of a shared file (None if no such file)."""
        with self._lock:
            stored = self._files.get(file_id)
            return stored.content if stored else None

    wait_timeout: float = 5.0

    def wait_for(self, predicate: Callable[[], Any], timeout: float | None = None, interval: float = 0.02) -> Any:
        """Poll ``predicate`` (real time) until it returns something truthy, and return that.

        The default limit is ``wait_timeout``; raise it where the machine may be busy (CI).
        """
        timeout = self.wait_timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while True:
            result = predicate()
            if result:
                return result
            if time.monotonic() >= deadline:
                raise TimeoutError(f"condition not met within {timeout}s")
            time.sleep(interval)
