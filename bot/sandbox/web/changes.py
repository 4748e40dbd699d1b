"""A version counter for the page's live updates: bumped whenever the workspace may have changed.

The bot changes the workspace only through the emulator's Web API (and response URLs), so :meth:`ChangeFeed.watch`
wraps the emulator's WSGI app and bumps after every call that can write; the page's own actions bump too. The page
long-polls :meth:`ChangeFeed.wait` and re-reads the state when the version moved.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = ["READ_ONLY_METHODS", "ChangeFeed"]

READ_ONLY_METHODS = frozenset(
    {
        "auth.test",
        "users.info",
        "users.list",
        "users.lookupByEmail",
        "usergroups.list",
        "usergroups.users.list",
        "conversations.info",
        "conversations.list",
        "conversations.history",
        "conversations.replies",
        "conversations.members",
        "chat.getPermalink",
        "pins.list",
        "files.info",
    }
)


class ChangeFeed:
    """A monotonically increasing version with waiting: many readers, any number of writers."""

    def __init__(self) -> None:
        self._version = 0
        self._closed = False
        self._changed = threading.Condition()

    @property
    def version(self) -> int:
        with self._changed:
            return self._version

    def bump(self) -> int:
        """Record a change and wake every waiter."""
        with self._changed:
            self._version += 1
            self._changed.notify_all()
            return self._version

    def wait(self, since: int, timeout: float) -> int:
        """The version once it differs from ``since`` (or after ``timeout`` seconds, or when closed)."""
        with self._changed:
            self._changed.wait_for(lambda: self._version != since or self._closed, timeout)
            return self._version

    def close(self) -> None:
        """Release every waiter (shutting down)."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    def watch(self, app: WSGIApplication) -> WSGIApplication:
        """``app`` (the emulator) wrapped so that every call that may write bumps the version once answered."""

        def watched(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
            body = list(app(environ, start_response))
            if _may_write(environ):
                self.bump()
            return body

        return watched


def _may_write(environ: WSGIEnvironment) -> bool:
    path = str(environ.get("PATH_INFO", ""))
    if path.startswith("/api/"):
        return path.removeprefix("/api/") not in READ_ONLY_METHODS
    return path.startswith(("/response/", "/upload/"))
