"""Text helpers for mrkdwn: escaping what users typed, mentions, times."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from bot.domain.durations import humanize_duration


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
    return text if len(text) <= limit else text[: limit - 1] + "…"


def mention(slack_id: str) -> str:
    """A user (U…/W…) or user group (S…) mention."""
    return f"<!subteam^{slack_id}>" if slack_id.startswith("S") else f"<@{slack_id}>"


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
