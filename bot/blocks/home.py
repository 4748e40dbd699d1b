"""App Home: my open incidents, all open incidents by deadline, and who is on call."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import Block, ContextBlock, DividerBlock, HeaderBlock, MarkdownTextObject, SectionBlock
from slack_sdk.models.views import View

from bot.blocks.lists import incident_list_line
from bot.blocks.oncall import oncall_text
from bot.domain.oncall import OnCall
from bot.models import Incident

MAX_PER_SECTION = 20


def _incident_sections(incidents: Sequence[Incident], empty: str, now: datetime, zone: ZoneInfo) -> list[Block]:
    if not incidents:
        return [SectionBlock(text=empty)]
    blocks: list[Block] = [
        SectionBlock(text=incident_list_line(i, now=now, zone=zone)) for i in incidents[:MAX_PER_SECTION]
    ]
    if len(incidents) > MAX_PER_SECTION:
        more = f"…and {len(incidents) - MAX_PER_SECTION} more: `/triage list`."
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=more)]))
    return blocks


def home_view(
    *,
    mine: Sequence[Incident],
    everyone: Sequence[Incident],
    oncalls: Sequence[OnCall],
    fallback_oncall: str | None,
    now: datetime,
    zone: ZoneInfo,
) -> View:
    blocks: list[Block] = [
        HeaderBlock(text="My open incidents"),
        *_incident_sections(mine, "_Nothing you own or reported is open._", now, zone),
        DividerBlock(),
        HeaderBlock(text="All open incidents, nearest deadline first"),
        *_incident_sections(everyone, "No open incidents. 🎉 `/triage` opens one.", now, zone),
        DividerBlock(),
        HeaderBlock(text="On call now"),
        SectionBlock(text=oncall_text(oncalls, fallback_oncall, zone)),
    ]
    return View(type="home", blocks=blocks[:100])


def members_only_home(reason: str) -> View:
    """The App Home of someone who may not see incidents (a guest, someone from another organisation)."""
    return View(type="home", blocks=[HeaderBlock(text="Triage Bot"), SectionBlock(text=reason)])
