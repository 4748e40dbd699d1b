"""Thread replies about an incident: what changed, what was found, who is being paged."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import ActionsBlock, ButtonElement, ContextBlock, MarkdownTextObject, SectionBlock

from blocks.budget import lines_within
from blocks.ids import IncidentAction
from blocks.incident import Message
from blocks.text import clip, escape_mrkdwn, link, mention, slack_time, time_left, truncate, typed
from bot.domain.correlation import Correlation
from bot.domain.durations import humanize_duration
from bot.domain.isolation import Isolation
from bot.models import Incident

MAX_TEXT = 2900
QUOTE_CHARS = 2000  # a quoted text in a thread reply, leaving room for the lines around it
CORRELATION_ITEMS = 15


def note(text: str) -> Message:
    """A plain thread reply; `text` is already mrkdwn-safe (cut, if it must be, between entities and links)."""
    text = clip(text, MAX_TEXT)
    return Message(text=text, blocks=[SectionBlock(text=text)])


def isolation_reply(incident: Incident, isolation: Isolation, zone: ZoneInfo) -> Message:
    """What the cross-account search found, with a one-click way to call it systemic and link the incidents."""
    head = f"🔎 *Isolation for {incident.key}:* {typed(isolation.summary, 1000)}"
    matches = []
    for match in isolation.matches[:8]:
        shared = typed(", ".join(match.shared), 300)
        who, what = escape_mrkdwn(truncate(match.client_name, 60)), escape_mrkdwn(truncate(match.title, 80))
        matches.append(
            f"• *{match.key}* {who}: {what} ({match.status}, opened {slack_time(match.opened_at, zone)}) — {shared}"
        )
    if len(isolation.matches) > 8:
        matches.append(f"…and {len(isolation.matches) - 8} more (Isolate shows them all).")
    text = "\n".join([head, lines_within(matches, MAX_TEXT - len(head) - 1)]) if matches else head
    blocks: list = [SectionBlock(text=text)]
    if isolation.matches and incident.is_open and incident.scope != "systemic":
        button = ButtonElement(
            text=f"Mark systemic & link {min(len(isolation.matches), 10)}",
            action_id=IncidentAction.MARK_SYSTEMIC.value,
            value=str(incident.id),
            style="danger" if isolation.likely_systemic else None,
        )
        blocks.append(ActionsBlock(block_id=f"isolation_{incident.id}", elements=[button]))
    return Message(text=f"Isolation for {incident.key}: {typed(isolation.summary, 250)}", blocks=blocks)


def correlation_reply(incident: Incident, correlation: Correlation) -> Message:
    """What else happened around the time the problem started: deployments, status page, our other incidents."""
    window = humanize_duration(correlation.window)
    head = f"🧭 *What else happened in the {window} before {incident.key} opened*"
    kinds = {"deployment": "🚀 Deployment", "status_page": "📣 Status page", "incident": "🧯 Incident"}
    items = [
        f"{kinds[item.kind] + ':' if item.kind in kinds else '•'} {link(item.link, truncate(item.title, 150))} — "
        f"{humanize_duration(item.before_start)} before"
        for item in correlation.items
    ]
    tail = []
    if not correlation.items:
        tail.append("Nothing: no deployments, status-page incidents or other incidents of ours in that window.")
    if not correlation.status_page_configured:
        tail.append("_No status page is configured (`STATUSPAGE_URL`): checked deployments and our own incidents._")
    elif not correlation.status_page_available:
        tail.append("_Status page unavailable — checked deployments and our own incidents only._")
    room = MAX_TEXT - sum(len(line) + 1 for line in [head, *tail])
    listed = [lines_within(items, room, most=CORRELATION_ITEMS)] if items else []
    return note("\n".join([head, *listed, *tail]))


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
