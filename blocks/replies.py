"""Thread replies about an incident: what changed, what was found, who is being paged."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import ActionsBlock, ButtonElement, ContextBlock, MarkdownTextObject, SectionBlock

from blocks.ids import IncidentAction
from blocks.incident import Message
from blocks.text import escape_mrkdwn, link, mention, slack_time, time_left, truncate
from bot.domain.correlation import Correlation
from bot.domain.durations import humanize_duration
from bot.domain.isolation import Isolation
from bot.models import Incident

MAX_TEXT = 2900
QUOTE_CHARS = 2000  # a quoted text in a thread reply, leaving room for the lines around it


def note(text: str) -> Message:
    """A plain thread reply; `text` is already mrkdwn-safe."""
    text = truncate(text, MAX_TEXT)
    return Message(text=text, blocks=[SectionBlock(text=text)])


def isolation_reply(incident: Incident, isolation: Isolation, zone: ZoneInfo) -> Message:
    """What the cross-account search found, with a one-click way to call it systemic and link the incidents."""
    lines = [f"🔎 *Isolation for {incident.key}:* {escape_mrkdwn(isolation.summary)}"]
    for match in isolation.matches[:8]:
        shared = ", ".join(escape_mrkdwn(s) for s in match.shared)
        who = escape_mrkdwn(truncate(match.client_name, 60))
        what = escape_mrkdwn(truncate(match.title, 80))
        lines.append(
            f"• *{match.key}* {who}: {what} ({match.status}, opened {slack_time(match.opened_at, zone)}) — {shared}"
        )
    if len(isolation.matches) > 8:
        lines.append(f"…and {len(isolation.matches) - 8} more (Isolate shows them all).")
    text = truncate("\n".join(lines), MAX_TEXT)
    blocks: list = [SectionBlock(text=text)]
    if isolation.matches and incident.is_open and incident.scope != "systemic":
        button = ButtonElement(
            text=f"Mark systemic & link {min(len(isolation.matches), 10)}",
            action_id=IncidentAction.MARK_SYSTEMIC.value,
            value=str(incident.id),
            style="danger" if isolation.likely_systemic else None,
        )
        blocks.append(ActionsBlock(block_id=f"isolation_{incident.id}", elements=[button]))
    return Message(
        text=truncate(f"Isolation for {incident.key}: {escape_mrkdwn(isolation.summary)}", 300), blocks=blocks
    )


def correlation_reply(incident: Incident, correlation: Correlation) -> Message:
    """What else happened around the time the problem started: deployments, status page, our other incidents."""
    window = humanize_duration(correlation.window)
    lines = [f"🧭 *What else happened in the {window} before {incident.key} opened*"]
    kinds = {"deployment": "🚀 Deployment", "status_page": "📣 Status page", "incident": "🧯 Incident"}
    for item in correlation.items[:15]:
        linked = link(item.link, truncate(item.title, 150))
        kind = f"{kinds[item.kind]}:" if item.kind in kinds else "•"
        lines.append(f"{kind} {linked} — {humanize_duration(item.before_start)} before")
    if not correlation.items:
        lines.append("Nothing: no deployments, status-page incidents or other incidents of ours in that window.")
    if not correlation.status_page_configured:
        lines.append("_No status page is configured (`STATUSPAGE_URL`): checked deployments and our own incidents._")
    elif not correlation.status_page_available:
        lines.append("_Status page unavailable — checked deployments and our own incidents only._")
    return note("\n".join(lines))


def escalation_page(incident: Incident, *, mentions: Sequence[str], waited_minutes: int, level: int) -> Message:
    who = " ".join(mention(m) for m in mentions) or "nobody to page: configure an on-call rotation"
    ask = "please acknowledge" if level == 1 else "the on-call engineer has not answered; please take it"
    text = (
        f"⏰ *{incident.key}* ({incident.severity.value}) has not been acknowledged after {waited_minutes} min — "
        f"{who}, {ask}."
    )
    return note(text)


def channel_escalation(incident: Incident, permalink_hint: str, waited_minutes: int) -> Message:
    client, title = escape_mrkdwn(incident.client.name), escape_mrkdwn(truncate(incident.title, 150))
    text = (
        f"🚨 *{incident.key}* {incident.severity.value} for {client} is unacknowledged after {waited_minutes} min: "
        f"{title}. {permalink_hint}"
    )
    return Message(
        text=truncate(text, MAX_TEXT),
        blocks=[
            SectionBlock(text=truncate(text, MAX_TEXT)),
            ContextBlock(elements=[MarkdownTextObject(text="Triage bot escalation")]),
        ],
    )


def update_due_reminder(incident: Incident, due_at: datetime, zone: ZoneInfo) -> Message:
    owner = mention(incident.owner_id) if incident.owner_id else mention(incident.reporter_id)
    return note(
        f"🗣️ {owner} the next client update for *{incident.key}* is due now ({slack_time(due_at, zone)}). "
        "Use *Client update* to draft and record it."
    )


def deadline_reminder(incident: Incident, *, now: datetime, zone: ZoneInfo, raised: bool) -> Message:
    """The client's deadline is getting close: tell whoever owns it (or reported it), and what it is."""
    assert incident.deadline_at is not None
    who = mention(incident.owner_id or incident.reporter_id)
    context = f" ({escape_mrkdwn(incident.deadline_context)})" if incident.deadline_context else ""
    left, at = time_left(incident.deadline_at, now), slack_time(incident.deadline_at, zone)
    text = f"⏳ {who} *{incident.key}*: the client's deadline{context} is {left}, at {at}."
    if raised:
        text += " Severity raised to *SEV1*."
    return note(text)
