"""Text helpers for mrkdwn: escaping what users typed, mentions, times."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from bot.domain.durations import humanize_duration
from bot.domain.names import CHANNEL, Ref, pieces

if TYPE_CHECKING:
    from slack_sdk.models.blocks import Block


def escape_mrkdwn(text: str) -> str:
    """Make typed text inert: `<!channel>`, `<@U1>` and `<url|label>` show as text, never as pings or links."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def link(url: str | None, label: str) -> str:
    """`<url|label>` for a plain http(s) URL; anything that could break out of the link is shown as text."""
    safe_label = escape_mrkdwn(label)
    if not url or not url.startswith(("http://", "https://")) or any(c in url for c in "<>| \n\t"):
        return safe_label
    return f"<{url.replace('&', '&amp;')}|{safe_label}>"


def truncate(text: str, limit: int) -> str:
    """Plain text cut to `limit` characters with …; for mrkdwn that is already escaped, use `clip`."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def clip(mrkdwn: str, limit: int) -> str:
    """mrkdwn cut to `limit` characters with …, never inside an entity (`&amp;`) or a link or mention (`<@U1>`)."""
    if len(mrkdwn) <= limit:
        return mrkdwn
    cut = mrkdwn[: max(limit - len(CUT_MARK), 0)]
    entity, token = cut.rfind("&"), cut.rfind("<")
    if entity > cut.rfind(";") and len(cut) - entity < len("&amp;"):
        cut = cut[:entity]
    if token > cut.rfind(">"):
        cut = cut[:token]
    return cut.rstrip() + CUT_MARK if limit >= len(CUT_MARK) else ""


def mention(slack_id: str) -> str:
    """A user (U…/W…) or user group (S…) mention."""
    return f"<!subteam^{slack_id}>" if slack_id.startswith("S") else f"<@{slack_id}>"


def reference(ref: Ref) -> str:
    """A reference as Slack shows it: a mention (`<@U…>`, `<!subteam^S…>`) or a channel link (`<#C…>`)."""
    return f"<#{ref.slack_id}>" if ref.kind == CHANNEL else mention(ref.slack_id)


def said(text: str, refs: Collection[str], limit: int) -> str:
    """An audit summary for Slack, on one line and at most `limit` characters: the people and channels it refers to
    (`refs`) as mentions and channel links, everything else escaped like typed text (nothing in it pings)."""
    shown: list[str] = []
    room = limit
    for piece in pieces(" ".join(text.split()), refs):
        part = reference(piece) if isinstance(piece, Ref) else escape_mrkdwn(piece)
        if len(part) <= room:
            shown.append(part)
            room -= len(part)
            continue
        if isinstance(piece, str):
            shown.append(_fit(piece, room, newline=" "))
        elif room >= len(CUT_MARK):
            shown.append(CUT_MARK)
        break
    return "".join(shown)


def slack_time(moment: datetime, zone: ZoneInfo) -> str:
    """A time Slack shows in each viewer's own time zone; the fallback is in the configured zone."""
    fallback = moment.astimezone(zone).strftime("%a %d %b %H:%M %Z")
    return f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} {{time}}|{fallback}>"


def time_left(deadline: datetime, now: datetime) -> str:
    """`in 1 h 55 min` before the deadline, `passed 5 min ago` after it."""
    delta = deadline - now
    if delta.total_seconds() >= 0:
        return f"in {humanize_duration(delta)}"
    return f"passed {humanize_duration(delta)} ago"


_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_ESCAPES = str.maketrans(_ENTITIES)
QUOTE = ">"
CUT_MARK = "…"


def typed(text: str, limit: int, *, one_line: bool = True) -> str:
    """Text someone typed, escaped for mrkdwn and cut (with …) to at most `limit` characters once escaped.

    `one_line` folds every run of whitespace (newlines too) into one space; otherwise lines are kept.
    """
    return _fit(_normalised(text, one_line), limit, newline="\n")


def quoted(text: str, limit: int) -> str:
    """Text someone typed as a mrkdwn block quote (`>` opening every line), at most `limit` characters in all.

    Cut first, then escaped and quoted, counting every entity and every `>`: the result never passes `limit` and
    never ends inside an `&amp;`, however many lines or `& < >` the text has.
    """
    return QUOTE + _fit(_normalised(text, one_line=False), limit - len(QUOTE), newline="\n" + QUOTE)


def _normalised(text: str, one_line: bool) -> str:
    if one_line:
        return " ".join(text.split())
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "\n".join(line.rstrip() for line in lines).strip()


def _fit(text: str, limit: int, *, newline: str) -> str:
    """`text` escaped (each newline written as `newline`), cut between whole characters to fit `limit` with …"""
    head = text[: limit + 1]  # every character takes at least one: none past `limit` can be kept
    escaped = head.translate(_ESCAPES).replace("\n", newline)
    if len(escaped) <= limit:
        return escaped
    cut = escaped[: max(limit - len(CUT_MARK), 0)]
    entity = cut.rfind("&")  # every & in `escaped` opens an entity
    if entity >= 0 and ";" not in cut[entity:]:
        cut = cut[:entity]
    cut = cut.rstrip()  # a newline cut in half (`\n` of `\n>`) goes too
    while cut.endswith(newline):  # no empty quoted line before the …
        cut = cut.removesuffix(newline).rstrip()
    return cut + CUT_MARK if limit >= len(CUT_MARK) else ""


def pack_lines(lines: Sequence[str], limit: int, *, first: str = "") -> list[str]:
    """`first` and the lines, in order, joined into texts of at most `limit` characters (a longer line stands alone)."""
    chunks: list[str] = []
    current = first
    for line in lines:
        candidate = f"{current}\n{line}" if current else line
        if current and len(candidate) > limit:
            chunks.append(current)
            current = line
        else:
            current = candidate
    if current:
        chunks.append(current)
    return chunks


def message_text_length(blocks: Sequence[Block]) -> int:
    """All the text in the blocks, as Slack counts it against a message."""

    def walk(value: object) -> int:
        if isinstance(value, dict):
            return sum(len(v) if k == "text" and isinstance(v, str) else walk(v) for k, v in value.items())
        if isinstance(value, list):
            return sum(walk(v) for v in value)
        return 0

    return sum(walk(block.to_dict()) for block in blocks)
