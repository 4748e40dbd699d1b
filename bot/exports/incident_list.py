"""`triage-bot list`: incidents as plain lines for a terminal, like `/triage list` in Slack.

One line an incident: key, severity, status, client, title, deadline and owner. People are shown by name where
`names` knows them (ids otherwise); no emoji and no Slack markup, so the lines read and grep the same anywhere.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.domain.durations import humanize_duration
from bot.domain.summary import DeadlineOutcome, incident_deadline_outcome
from bot.exports.summary_formats import display_time
from bot.models import Incident, IncidentStatus

__all__ = ["incident_line", "render_incident_list"]

TITLE_CHARS = 80
STATUS_WIDTH = max(len(s.value) for s in IncidentStatus)


def render_incident_list(
    open_incidents: Sequence[Incident],
    *,
    now: datetime,
    zone: ZoneInfo,
    names: Mapping[str, str],
    finished: Sequence[Incident] | None = None,
) -> str:
    """The open incidents (nearest deadline first) and, when given, the resolved and closed ones after them."""
    if open_incidents:
        lines = [f"Open incidents ({len(open_incidents)}), nearest deadline first:"]
        lines += [incident_line(i, now=now, zone=zone, names=names) for i in open_incidents]
    else:
        lines = ["No open incidents."]
    if finished is not None:
        lines += [
            "",
            f"Resolved and closed ({len(finished)}), latest first:" if finished else "None resolved or closed.",
        ]
        lines += [incident_line(i, now=now, zone=zone, names=names) for i in finished]
    return "\n".join(lines) + "\n"


def incident_line(incident: Incident, *, now: datetime, zone: ZoneInfo, names: Mapping[str, str]) -> str:
    """`INC-3  SEV1  investigating  Hartley & Moss LLP · Upload fails · deadline … · owner Olu Adeyemi`"""
    owner = f"owner {_name(incident.owner_id, names)}" if incident.owner_id else "no owner yet"
    return (
        f"{incident.key:<7} {incident.severity.value}  {incident.status.value:<{STATUS_WIDTH}}  "
        f"{_one_line(incident.client.name, 60)} · {_one_line(incident.title, TITLE_CHARS)} · "
        f"{_deadline(incident, now=now, zone=zone)} · {owner}"
    )


def _deadline(incident: Incident, *, now: datetime, zone: ZoneInfo) -> str:
    if incident.deadline_at is None:
        return "no deadline"
    when = display_time(incident.deadline_at, zone)
    outcome = incident_deadline_outcome(incident, now)
    if outcome == DeadlineOutcome.PENDING:
        return f"deadline {when} (in {humanize_duration(incident.deadline_at - now)})"
    if outcome == DeadlineOutcome.MISSED and incident.is_open:
        return f"deadline {when} (passed {humanize_duration(now - incident.deadline_at)} ago)"
    return f"deadline {when} ({outcome.value})"


def _name(slack_id: str, names: Mapping[str, str]) -> str:
    return names.get(slack_id) or slack_id


def _one_line(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
