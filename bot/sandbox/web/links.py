"""Slack message links (permalinks) as places in the sandbox page: never a host the browser cannot reach.

The emulator's `chat.getPermalink` answers with links on the sandbox page (`http://127.0.0.1:8080/archives/C…/p…`),
the page opens them in place (the channel, with the message's thread), and the server answers a link opened in a
new tab by sending it to that place. Links the bot builds itself in Slack's shape (`https://team.slack.com/
archives/C…/p…`, say for the message an incident was opened from) are opened the same way when the sandbox has
that channel.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urlsplit

_ARCHIVE_PATH = re.compile(r"^/archives/([CGD][A-Z0-9]{2,30})/p(\d{10})(\d{6})$")
_TS = re.compile(r"^\d{10}\.\d{6}$")


@dataclass(frozen=True)
class MessagePlace:
    """A message in a channel, and the thread to show it in (its own, or the one it replies in)."""

    channel_id: str
    ts: str
    thread_ts: str

    @property
    def page_path(self) -> str:
        """`/?c=C1&thread=…`: the page showing the channel with the thread open."""
        return "/?" + urlencode({"c": self.channel_id, "thread": self.thread_ts})


def archive_place(path: str, query: str = "") -> MessagePlace | None:
    """The place of `/archives/C…/p…[?thread_ts=…]`, None when it is not a message link."""
    found = _ARCHIVE_PATH.match(path)
    if found is None:
        return None
    channel_id, seconds, micros = found.groups()
    ts = f"{seconds}.{micros}"
    thread = parse_qs(query).get("thread_ts", [""])[-1]
    return MessagePlace(channel_id, ts, thread if _TS.match(thread) else ts)


def message_place(url: str) -> MessagePlace | None:
    """The place a message link (any host: the sandbox's own or Slack's shape) points at, None for other links."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https"):
        return None
    return archive_place(parts.path, parts.query)
