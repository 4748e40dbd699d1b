"""What engineering gets in a handoff: reproduction, expected vs actual, environment, evidence, impact and deadline."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.domain.durations import humanize_duration
from bot.domain.incidents import environment_details
from bot.models import ClientTier, Event, Incident

MAX_FIELD = 3000


@dataclass(frozen=True)
class HandoffForm:
    """The engineering handoff as the person confirmed it in the modal."""

    reproduction: str
    expected: str
    actual: str
    environment: str
    evidence: str
    impact: str


def draft_handoff(*, incident: Incident, events: list[Event], now: datetime, zone: ZoneInfo) -> HandoffForm:
    """Prefill from what the audit trail already knows, so nobody retypes it under pressure."""
    steps = [
        e.details.get("description", "")
        for e in events
        if e.kind in ("reproduction", "step") and e.details.get("description")
    ]
    reproduction = "\n".join(f"{n}. {text}" for n, text in enumerate(steps, 1)) or "1. "
    environment = "\n".join(f"{label}: {value}" for label, value in environment_details(incident.environment).items())
    return HandoffForm(
        reproduction=reproduction[:MAX_FIELD],
        expected=f"{incident.workflow or 'The operation'} completes normally."[:MAX_FIELD],
        actual=incident.blocker[:MAX_FIELD],
        environment=environment[:MAX_FIELD],
        evidence="",
        impact=business_impact(incident, now=now, zone=zone)[:MAX_FIELD],
    )


def business_impact(incident: Incident, *, now: datetime, zone: ZoneInfo) -> str:
    tier = "premium client" if incident.client.tier == ClientTier.PREMIUM else "client"
    text = f"{incident.client.name} ({tier}) is blocked: {incident.title}."
    if incident.deadline_at is not None:
        when = incident.deadline_at.astimezone(zone).strftime("%a %d %b %H:%M %Z")
        left = incident.deadline_at - now
        remaining = f"in {humanize_duration(left)}" if left.total_seconds() > 0 else "already passed"
        text += f" Deadline: {incident.deadline_context or 'client deadline'} at {when} ({remaining})."
    if incident.scope:
        text += f" Scope: {incident.scope}."
    return text


def ticket_summary(incident: Incident) -> str:
    return f"[{incident.key}] {incident.severity.value} {incident.client.name}: {incident.title}"[:250]


def ticket_description(incident: Incident, form: HandoffForm, thread_link: str | None) -> str:
    """The Jira description (plain text with Jira headings), complete enough to act on without Slack."""
    sections = [
        ("Business impact and deadline", form.impact),
        ("Steps to reproduce", form.reproduction),
        ("Expected", form.expected),
        ("Actual", form.actual),
        ("Environment", form.environment),
        ("Logs and screenshots", form.evidence or "None attached yet; see the Slack thread."),
        ("Slack thread", thread_link or f"{incident.key} in Slack (link pending)"),
    ]
    return "\n\n".join(f"h3. {title}\n{body}" for title, body in sections)[:30000]


def feedback_summary(incident: Incident, track: str, area: str) -> str:
    return f"[{track.capitalize()}] {area}: {incident.title} (from {incident.key})"[:250]


def feedback_description(incident: Incident, use_case: str, thread_link: str | None) -> str:
    return (
        f"h3. Client use case\n{use_case}\n\n"
        f"h3. What happened\n{incident.client.name}: {incident.blocker}\n\n"
        f"h3. Incident\n{incident.key} ({incident.severity.value}) — {thread_link or 'Slack thread'}"
    )[:30000]
