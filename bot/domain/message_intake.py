"""Opening an incident from a Slack message: its words become the blocker, and a link back to it is kept."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.domain.incidents import TEXT_LIMITS, ReportField

BLOCKER_LIMIT = TEXT_LIMITS[ReportField.BLOCKER]
CUT_MARK = " …"
_TEAM_DOMAIN = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_CHANNEL = re.compile(r"^[CGD][A-Z0-9]{2,30}$")
_TS = re.compile(r"^\d{9,11}\.\d{6}$")


@dataclass(frozen=True)
class SourceMessage:
    """The message an incident was opened from: where it is, who wrote it, and a link to it."""

    channel_id: str
    ts: str
    author_id: str | None
    link: str | None


@dataclass(frozen=True)
class BlockerDraft:
    text: str
    cut_from: int | None = None  # the message's length when it was cut to fit the field


def unescaped(slack_text: str) -> str:
    """Slack's message text as a person typed it: `&lt;` `&gt;` `&amp;` back to `<` `>` `&` (for an input)."""
    return slack_text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def blocker_from_message(slack_text: str, limit: int = BLOCKER_LIMIT) -> BlockerDraft:
    """The message's words for the blocker field, cut to what the field takes (saying so)."""
    text = unescaped(slack_text).strip()
    if len(text) <= limit:
        return BlockerDraft(text)
    return BlockerDraft(text[: limit - len(CUT_MARK)].rstrip() + CUT_MARK, cut_from=len(text))


def message_link(team_domain: str | None, channel_id: str, ts: str, thread_ts: str | None = None) -> str | None:
    """Slack's link to a message (as chat.getPermalink gives it); None when the parts don't look like Slack's."""
    if not team_domain or not _TEAM_DOMAIN.match(team_domain) or not _CHANNEL.match(channel_id) or not _TS.match(ts):
        return None
    link = f"https://{team_domain}.slack.com/archives/{channel_id}/p{ts.replace('.', '')}"
    if thread_ts and thread_ts != ts and _TS.match(thread_ts):
        link += f"?thread_ts={thread_ts}&cid={channel_id}"
    return link
