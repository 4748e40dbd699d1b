"""Ephemeral answers to `/triage` subcommands: help and the open-incident list."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import Block, ContextBlock, HeaderBlock, MarkdownTextObject, SectionBlock

from bot.blocks.incident import SEVERITY_ICONS
from bot.blocks.text import escape_mrkdwn, mention, time_left, truncate
from bot.models import Incident

MAX_LISTED = 40


def help_blocks(subcommands: Sequence[tuple[str, str]]) -> list[Block]:
    """One line per subcommand: usage and what it does."""
    lines = "\n".join(f"`{f'/triage {usage}'.strip()}` — {what}" for usage, what in subcommands)
    return [HeaderBlock(text="Triage bot"), SectionBlock(text=lines)]


def incident_list_line(incident: Incident, *, now: datetime, zone: ZoneInfo) -> str:
    deadline = f"deadline {time_left(incident.deadline_at, now)}" if incident.deadline_at else "no deadline"
    if incident.deadline_context:
        deadline += f" ({escape_mrkdwn(truncate(incident.deadline_context, 60))})"
    owner = mention(incident.owner_id) if incident.owner_id else "unassigned"
    return (
        f"{SEVERITY_ICONS[incident.severity]} *{incident.key}* {incident.severity.value} · "
        f"{escape_mrkdwn(truncate(incident.client.name, 60))} · {escape_mrkdwn(truncate(incident.title, 80))} · "
        f"{deadline} · {incident.status.value} · {owner}"
    )


def incident_list_blocks(incidents: Sequence[Incident], *, now: datetime, zone: ZoneInfo) -> list[Block]:
    if not incidents:
        return [SectionBlock(text="No open incidents. 🎉 `/triage` opens one.")]
    shown = incidents[:MAX_LISTED]
    blocks: list[Block] = [HeaderBlock(text=f"Open incidents ({len(incidents)}), nearest deadline first")]
    blocks += [SectionBlock(text=incident_list_line(i, now=now, zone=zone)) for i in shown]
    if len(incidents) > len(shown):
        more = f"…and {len(incidents) - len(shown)} more. `/triage show INC-n` shows any of them."
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=more)]))
    return blocks
