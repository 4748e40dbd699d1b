"""What engineering gets in a handoff: reproduction, expected vs actual, environment, evidence, impact and deadline.

Also the other texts the bot files in Jira (product feedback, follow-ups, the resolution comment). Everything
a person typed goes in through `bot.domain.jira_text`, so none of it is read as wiki markup.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.domain.durations import humanize_duration
from bot.domain.errors import FieldProblems
from bot.domain.incidents import environment_details
from bot.domain.jira_text import link_line, literal_block, plain_line, readable
from bot.models import ClientTier, Event, FollowUp, Incident

MAX_FIELD = 3000
NO_EVIDENCE = "None attached yet; see the Slack thread."


@dataclass(frozen=True)
class HandoffForm:
    """The engineering handoff as the person confirmed it in the modal."""

    reproduction: str
    expected: str
    actual: str
    environment: str
    evidence: str
    impact: str


def handoff_problems(form: HandoffForm) -> FieldProblems:
    """Engineering can act only with the reproduction, expected and actual behaviour, and the impact (the bare
    numbering the draft starts from, "1.", counts as empty)."""
    required = {
        "reproduction": form.reproduction,
        "expected": form.expected,
        "actual": form.actual,
        "impact": form.impact,
    }
    return {name: "Engineering needs this to act." for name, typed in required.items() if not typed.strip(" 1.")}


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
    return plain_line(f"[{incident.key}] {incident.severity.value} {incident.client.name}: {incident.title}")


def ticket_description(incident: Incident, form: HandoffForm, thread_link: str | None) -> str:
    """The Jira description, complete enough to act on without Slack: our headings, each answer as typed."""
    sections = [
        ("Business impact and deadline", literal_block(form.impact)),
        ("Steps to reproduce", literal_block(form.reproduction)),
        ("Expected", literal_block(form.expected)),
        ("Actual", literal_block(form.actual)),
        ("Environment", literal_block(form.environment)),
        ("Logs and screenshots", literal_block(form.evidence) if readable(form.evidence).strip() else NO_EVIDENCE),
        ("Slack thread", link_line(thread_link, fallback=f"{incident.key} in Slack (link pending)")),
    ]
    return "\n\n".join(f"h3. {title}\n{body}" for title, body in sections)


def feedback_summary(incident: Incident, track: str, area: str) -> str:
    return plain_line(f"[{track.capitalize()}] {area}: {incident.title} (from {incident.key})")


def feedback_description(incident: Incident, use_case: str, thread_link: str | None) -> str:
    what_happened = f"{incident.client.name}: {incident.blocker}"
    return (
        f"h3. Client use case\n{literal_block(use_case)}\n\n"
        f"h3. What happened\n{literal_block(what_happened)}\n\n"
        f"h3. Incident\n{incident.key} ({incident.severity.value})\n"
        f"{link_line(thread_link, fallback='Slack thread (link pending)')}"
    )


def follow_up_summary(incident: Incident, description: str) -> str:
    return plain_line(f"[{incident.key}] Follow-up: {description}")


def follow_up_description(incident: Incident, follow_up: FollowUp, owner_name: str | None = None) -> str:
    """A follow-up ticket: what needs doing, for whom (by name when the bot knows it) and by when, and the incident
    it came from."""
    owner = f"Owner: {owner_name} (Slack user {follow_up.owner_id})" if owner_name else ""
    owner = owner or f"Owner (Slack user): {follow_up.owner_id}"
    due = f"\nDue: {follow_up.due_on.isoformat()}" if follow_up.due_on else ""
    sections = [
        ("What needs doing", literal_block(follow_up.description)),
        ("Owner and due date", literal_block(owner + due)),
        ("Incident", literal_block(incident.title)),
        ("Root cause", literal_block(incident.root_cause or "")),
        ("Resolution", literal_block(incident.resolution or "")),
    ]
    if incident.root_permalink:
        sections.append(("Slack thread", link_line(incident.root_permalink, fallback="")))
    return f"Follow-up from {incident.key}.\n\n" + "\n\n".join(f"h3. {title}\n{body}" for title, body in sections)


def resolution_comment(incident: Incident) -> str:
    """The comment on the engineering ticket when the incident is resolved in Slack."""
    return (
        f"Resolved in Slack ({incident.key}).\n\n"
        f"*Root cause*\n{literal_block(incident.root_cause or '')}\n\n"
        f"*Resolution*\n{literal_block(incident.resolution or '')}"
    )
