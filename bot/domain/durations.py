"""Durations as people say them."""

from datetime import timedelta


def took(delta: timedelta) -> str:
    """`in under a minute`, `after 4 min`: how long something took, for a sentence."""
    return "in under a minute" if abs(delta) < timedelta(minutes=1) else f"after {humanize_duration(delta)}"


def humanize_duration(delta: timedelta) -> str:
    """`1 d 3 h`, `1 h 55 min`, `4 min`, `less than a minute`."""
    minutes = int(abs(delta).total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days == 1 and not hours:
        return "24 h"
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {mins} min" if mins else f"{hours} h"
    return f"{mins} min" if mins else "less than a minute"
