"""Ephemeral answers to `/triage` subcommands: help and the open-incident list."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import Block, ContextBlock, HeaderBlock, MarkdownTextObject, SectionBlock

from blocks.budget import more_note, page_of
from blocks.incident import deadline_in_brief, severity_badge
from blocks.text import mention, typed
from bot.models import Incident

INCIDENTS_PER_PAGE = 20
LIST_COMMAND = "/triage list"


def help_blocks(subcommands: Sequence[tuple[str, str]]) -> list[Block]:
    """One line per subcommand: usage and what it does."""
    lines = "\n".join(f"`{f'/triage {usage}'.strip()}` — {what}" for usage, what in subcommands)
    return [HeaderBlock(text="Triage bot"), SectionBlock(text=lines)]


def incident_list_line(incident: Incident, *, now: datetime, zone: ZoneInfo) -> str:
    deadline = deadline_in_brief(incident, now=now)
    if incident.deadline_context:
        deadline += f" ({typed(incident.deadline_context, 60)})"
    owner = mention(incident.owner_id) if incident.owner_id else "unassigned"
    return (
        f"*{incident.key}* {severity_badge(incident.severity)} · "
        f"{typed(incident.client.name, 60)} · {typed(incident.title, 80)} · "
        f"{deadline} · {incident.status.value} · {owner}"
    )


def incident_list_blocks(incidents: Sequence[Incident], *, now: datetime, zone: ZoneInfo, page: int = 1) -> list[Block]:
    """`/triage list [page]`: a page of open incidents (at most 20 and 6,000 characters), and how to see the next."""
    if not incidents:
        return [SectionBlock(text="No open incidents. 🎉 `/triage` opens one.")]
    shown = page_of([incident_list_line(i, now=now, zone=zone) for i in incidents], page, max_lines=INCIDENTS_PER_PAGE)
    part = f" · page {shown.number} of {shown.count}" if shown.count > 1 else ""
    blocks: list[Block] = [HeaderBlock(text=f"Open incidents ({len(incidents)}), nearest deadline first{part}")]
    blocks += [SectionBlock(text=line) for line in shown.lines]
    more = more_note(shown, LIST_COMMAND)
    if more is not None:
        blocks.append(more)
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text="`/triage show INC-n` shows any of them.")]))
    return blocks
