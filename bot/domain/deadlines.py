"""The client's deadline: reminders as it approaches, and (if configured) raising the severity near it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from bot.domain.lifecycle import change_severity
from bot.domain.summary import first_relief, milestones_of
from bot.domain.timers import schedule_timer
from bot.models import Incident, Severity, Timer

DEADLINE_REMINDER = "deadline_reminder"


def parse_offsets(text: str) -> list[timedelta]:
    """`120,60,30,10` (minutes before the deadline) -> offsets, largest first."""
    minutes = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        try:
            value = int(part)
        except ValueError:
            raise ValueError(f"'{part}' is not a whole number of minutes") from None
        if not 0 < value <= 7 * 24 * 60:
            raise ValueError(f"'{part}' must be between 1 and 10080 minutes")
        minutes.append(value)
    return [timedelta(minutes=m) for m in sorted(set(minutes), reverse=True)]


def schedule_deadline_reminders(
    *, session: Session, incident: Incident, offsets: Sequence[timedelta], now: datetime
) -> int:
    """One reminder per offset that is still ahead; returns how many were scheduled."""
    if incident.deadline_at is None:
        return 0
    scheduled = 0
    for offset in offsets:
        due = incident.deadline_at - offset
        if due <= now:
            continue
        minutes = int(offset.total_seconds() // 60)
        schedule_timer(
            session=session,
            kind=DEADLINE_REMINDER,
            due_at=due,
            dedupe_key=f"{incident.key}:deadline:{incident.deadline_at.isoformat()}:{minutes}",
            now=now,
            incident_id=incident.id,
            sequence=minutes,
            payload={"deadline_at": incident.deadline_at.isoformat()},
        )
        scheduled += 1
    return scheduled


def reminder_wanted(incident: Incident, timer: Timer) -> bool:
    """Only while the deadline is still at stake (see `deadline_outcome`: an incident mitigated or resolved has met
    or missed it), and only for the deadline the reminder was set for."""
    deadline = incident.deadline_at.isoformat() if incident.deadline_at else None
    at_stake = incident.is_open and first_relief(milestones_of(incident)) is None
    return at_stake and deadline == timer.payload.get("deadline_at")


def raise_near_deadline(*, session: Session, incident: Incident, within: timedelta | None, now: datetime) -> bool:
    """With SEV1_WITHIN_MINUTES set, an incident that close to its deadline becomes SEV1 (recorded, with why)."""
    if within is None or incident.deadline_at is None or incident.severity == Severity.SEV1:
        return False
    left = incident.deadline_at - now
    if left > within:
        return False
    minutes = max(int(left.total_seconds() // 60), 0)
    return change_severity(
        session=session,
        incident=incident,
        to=Severity.SEV1,
        actor_id="bot",
        now=now,
        reason=f"deadline in {minutes} min",
    )
