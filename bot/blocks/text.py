"""Text helpers for mrkdwn: escaping what users typed, mentions, times."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo


def escape_mrkdwn(text: str) -> str:
    """Make typed text inert: `<!channel>`, `<@U1>` and `<url|label>` show as text, never as pings or links."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def mention(slack_id: str) -> str:
    """A user (U…/W…) or user group (S…) mention."""
    return f"<!subteam^{slack_id}>" if slack_id.startswith("S") else f"<@{slack_id}>"


def slack_time(moment: datetime, zone: ZoneInfo) -> str:
    """A time Slack shows in each viewer's own time zone; the fallback is in the configured zone."""
    fallback = moment.astimezone(zone).strftime("%a %d %b %H:%M %Z")
    return f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} {{time}}|{fallback}>"


def humanize_duration(delta: timedelta) -> str:
    """`1 d 3 h`, `1 h 55 min`, `4 min`, `less than a minute`."""
    minutes = int(abs(delta).total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {mins} min" if mins else f"{hours} h"
    return f"{mins} min" if mins else "less than a minute"


def time_left(deadline: datetime, now: datetime) -> str:
    """`in 1 h 55 min` before the deadline, `passed 5 min ago` after it."""
    delta = deadline - now
    if delta.total_seconds() >= 0:
        return f"in {humanize_duration(delta)}"
    return f"passed {humanize_duration(delta)} ago"
