"""Slack mrkdwn to safe HTML.

Everything is HTML-escaped before any markup is added: the only tags in the output are the ones this module
writes (``b``, ``i``, ``s``, ``code``, ``pre``, ``blockquote``, ``br``, ``a``, ``span``, ``time``), links only
for http(s) and mailto URLs, and a link to a message of this workspace opens it in the page (see `links`).
Slack's own escapes (``&amp;``, ``&lt;``, ``&gt;``) are undone first, so a bot's ``&lt;script&gt;`` and a raw
``<script>`` both show as the text ``<script>``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.sandbox.web.html import esc, tag
from bot.sandbox.web.links import message_place

__all__ = ["RenderContext", "format_date_token", "render_mrkdwn", "render_plain", "unescape_slack"]

SAFE_SCHEMES = ("http://", "https://", "mailto:")
SPECIAL_MENTIONS = {"here": "@here", "channel": "@channel", "everyone": "@everyone"}

_CODE_BLOCK = re.compile(r"```\n?(.*?)```", re.DOTALL)
_INLINE_CODE = re.compile(r"`([^`\n]+)`")
_ANGLE_TOKEN = re.compile(r"<([^<>\n]*)>")
_PLACEHOLDER = re.compile(r"\x00(\d+)\x00")
_QUOTE_MARK = re.compile(r"^(?:>|&gt;) ?")
_FORMATS = (
    (re.compile(r"(?<![\w*])\*(?=\S)([^*\n]*?\S)\*(?![\w*])"), "b"),
    (re.compile(r"(?<![\w_])_(?=\S)([^_\n]*?\S)_(?![\w_])"), "i"),
    (re.compile(r"(?<![\w~])~(?=\S)([^~\n]*?\S)~(?![\w~])"), "s"),
)
_DATE_TOKEN = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class RenderContext:
    """What rendering needs to know about the workspace: names for ids, and the time it is now."""

    users: Mapping[str, str] = field(default_factory=dict)
    channels: Mapping[str, str] = field(default_factory=dict)
    usergroups: Mapping[str, str] = field(default_factory=dict)
    people: tuple[tuple[str, str], ...] = ()  # (id, name) of the humans, for user pickers
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))

    def user_name(self, user_id: str) -> str:
        return self.users.get(user_id, user_id)

    def channel_name(self, channel_id: str) -> str:
        return self.channels.get(channel_id, channel_id)


def unescape_slack(text: str) -> str:
    """Undo the three escapes Slack uses in message text (and nothing else)."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def render_plain(text: str) -> str:
    """A plain_text object: shown as typed, line breaks kept."""
    return esc(text).replace("\n", "<br>")


class _Placeholders:
    """Already-rendered HTML fragments parked behind ``\\x00n\\x00`` markers while the rest is formatted."""

    def __init__(self) -> None:
        self.fragments: list[str] = []

    def park(self, fragment: str) -> str:
        self.fragments.append(fragment)
        return f"\x00{len(self.fragments) - 1}\x00"

    def restore(self, text: str) -> str:
        return _PLACEHOLDER.sub(lambda m: self.fragments[int(m.group(1))], text)


def render_mrkdwn(text: str, ctx: RenderContext) -> str:
    """Slack mrkdwn as HTML: code, links, mentions, dates, bold/italic/strike, quotes and line breaks."""
    parked = _Placeholders()
    work = text.replace("\x00", "")
    work = _CODE_BLOCK.sub(lambda m: parked.park(tag("pre", esc(unescape_slack(m.group(1))))), work)
    work = _INLINE_CODE.sub(lambda m: parked.park(tag("code", esc(unescape_slack(m.group(1))))), work)
    work = _ANGLE_TOKEN.sub(lambda m: parked.park(_angle_token(m.group(1), ctx)), work)
    return parked.restore(_render_lines(work))


def _render_lines(text: str) -> str:
    """Lines with their formatting, joined by ``<br>``; consecutive ``>`` lines become one blockquote."""
    html = ""
    quote: list[str] = []
    previous_was_line = False
    for line in text.split("\n"):
        marker = _QUOTE_MARK.match(line)
        if marker:
            quote.append(_format_line(line[marker.end() :]))
            continue
        if quote:
            html += tag("blockquote", "<br>".join(quote))
            quote, previous_was_line = [], False
        html += ("<br>" if previous_was_line else "") + _format_line(line)
        previous_was_line = True
    if quote:
        html += tag("blockquote", "<br>".join(quote))
    return html


def _format_line(line: str) -> str:
    formatted = esc(unescape_slack(line))
    for pattern, name in _FORMATS:
        formatted = pattern.sub(rf"<{name}>\1</{name}>", formatted)
    return formatted


def _angle_token(content: str, ctx: RenderContext) -> str:
    """``<@U1>``, ``<#C1|name>``, ``<!here>``, ``<!subteam^S1>``, ``<!date^…>``, ``<url|label>``, else literal."""
    if content.startswith("!date^"):
        return _date(content, ctx)
    body, _, label = content.partition("|")
    if body.startswith("@"):
        return tag("span", esc("@" + (label or ctx.user_name(body[1:]))), class_="mention", data_user=body[1:])
    if body.startswith("#"):
        name = label or ctx.channel_name(body[1:])
        return tag("a", esc("#" + name), class_="channel-mention", href="#", data_channel=body[1:])
    if body.startswith("!"):
        return _special(body[1:], label, ctx)
    return _link(body, label, ctx) or esc(unescape_slack(f"<{content}>"))


def _special(body: str, label: str, ctx: RenderContext) -> str:
    if body in SPECIAL_MENTIONS:
        return tag("span", esc(SPECIAL_MENTIONS[body]), class_="mention mention-special")
    if body.startswith("subteam^"):
        group_id = body.removeprefix("subteam^")
        name = label or "@" + ctx.usergroups.get(group_id, group_id)
        return tag("span", esc(name), class_="mention")
    return esc(unescape_slack(label or f"<!{body}>"))


def _link(body: str, label: str, ctx: RenderContext) -> str | None:
    url = unescape_slack(body)
    if not url.lower().startswith(SAFE_SCHEMES):
        return None
    shown = unescape_slack(label) if label else url.removeprefix("mailto:")
    place = message_place(url)
    if place is not None and place.channel_id in ctx.channels:
        return tag(
            "a",
            esc(shown),
            href=place.page_path,
            class_="message-link",
            data_channel=place.channel_id,
            data_thread=place.thread_ts,
            data_ts=place.ts,
        )
    return tag("a", esc(shown), href=url, target="_blank", rel="noopener noreferrer")


def _date(content: str, ctx: RenderContext) -> str:
    """``<!date^1700000000^{date_short_pretty} {time}^optional_link|fallback>``."""
    spec, _, fallback = content.partition("|")
    parts = spec.split("^", 3)
    try:
        moment = datetime.fromtimestamp(int(parts[1]), tz=UTC)
    except (IndexError, ValueError, OverflowError, OSError):
        return esc(unescape_slack(fallback or content))
    shown = format_date_token(parts[2] if len(parts) > 2 else "{date_num}", moment, ctx)
    return tag("time", esc(shown), datetime=moment.isoformat(), title=unescape_slack(fallback) or None)


def format_date_token(template: str, moment: datetime, ctx: RenderContext) -> str:
    """Slack's date tokens (``{date_num}``, ``{date_short_pretty}``, ``{time}``, ``{ago}``, …) in ``ctx.zone``."""
    local = moment.astimezone(ctx.zone)
    today = ctx.now.astimezone(ctx.zone).date()

    def pretty(fallback: Callable[[datetime], str]) -> str:
        names = {today: "today", today - timedelta(days=1): "yesterday", today + timedelta(days=1): "tomorrow"}
        return names.get(local.date(), fallback(local))

    renderers: dict[str, Callable[[], str]] = {
        "date_num": lambda: local.strftime("%Y-%m-%d"),
        "date": lambda: _long_date(local, weekday=False),
        "date_short": lambda: local.strftime("%b %-d, %Y"),
        "date_long": lambda: _long_date(local, weekday=True),
        "date_pretty": lambda: pretty(lambda d: _long_date(d, weekday=False)),
        "date_short_pretty": lambda: pretty(lambda d: d.strftime("%b %-d")),
        "date_long_pretty": lambda: pretty(lambda d: _long_date(d, weekday=True)),
        "time": lambda: local.strftime("%H:%M"),
        "time_secs": lambda: local.strftime("%H:%M:%S"),
        "ago": lambda: _ago(ctx.now - moment),
    }
    return _DATE_TOKEN.sub(lambda m: renderers[m.group(1)]() if m.group(1) in renderers else m.group(0), template)


def _long_date(moment: datetime, *, weekday: bool) -> str:
    day = moment.day
    suffix = "th" if 11 <= day % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    text = f"{moment:%B} {day}{suffix}, {moment.year}"
    return f"{moment:%A}, {text}" if weekday else text


def _ago(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    future = seconds < 0
    seconds = abs(seconds)
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = seconds // size
            words = f"{count} {unit}{'s' if count != 1 else ''}"
            return f"in {words}" if future else f"{words} ago"
    return "just now"
