"""Acknowledgement escalation: the first minutes define the tone, so silence is escalated on a clock."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from bot.domain.timers import schedule_timer
from bot.models import Incident, Severity

ACK_ESCALATION = "ack_escalation"
MAX_MINUTES = 7 * 24 * 60
LAST_LEVEL = 2


@dataclass(frozen=True)
class AckEscalation:
    """What to do when an incident is still unacknowledged at `level`."""

    level: int
    repage_user_id: str | None
    next_user_id: str | None
    escalation_channel_id: str | None
    waited: timedelta


def schedule_ack_escalation(
    *, session: Session, incident: Incident, windows: Mapping[Severity, timedelta], now: datetime, level: int = 1
) -> None:
    due = now + windows[incident.severity] if level > 1 else incident.opened_at + windows[incident.severity]
    schedule_timer(
        session=session,
        kind=ACK_ESCALATION,
        due_at=due,
        dedupe_key=f"{incident.key}:ack:{level}",
        now=now,
        incident_id=incident.id,
        sequence=level,
    )


def plan_ack_escalation(
    *,
    incident: Incident,
    level: int,
    now: datetime,
    oncall_id: str | None,
    next_user_id: str | None,
    escalation_channel_id: str | None,
) -> AckEscalation | None:
    """Level 1 re-pages the on-call engineer; level 2 pages the next person and the escalation channel.

    None when the work is no longer wanted: acknowledged meanwhile, closed, or past the last level.
    """
    if incident.acknowledged_at is not None or not incident.is_open or level > LAST_LEVEL:
        return None
    waited = now - incident.opened_at
    if level == 1:
        return AckEscalation(1, oncall_id, None, None, waited)
    return AckEscalation(2, None, next_user_id if next_user_id != oncall_id else None, escalation_channel_id, waited)


def parse_minutes_by_severity(text: str) -> dict[Severity, timedelta]:
    """`SEV1=5,SEV2=15,SEV3=60,SEV4=240` -> minutes per severity; every severity must be given."""
    windows: dict[Severity, timedelta] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, minutes = part.partition("=")
        try:
            severity = Severity(name.strip().upper())
            value = float(minutes)
        except ValueError:
            raise ValueError(f"'{part}' is not SEVn=minutes") from None
        if not math.isfinite(value) or value <= 0:
            raise ValueError(f"'{part}' must be a positive number of minutes")
        if value > MAX_MINUTES:
            raise ValueError(f"'{part}' must be at most {MAX_MINUTES} minutes (a week)")
        windows[severity] = timedelta(minutes=value)
    missing = [s.value for s in Severity if s not in windows]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}")
    return windows
