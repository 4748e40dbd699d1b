"""App Home: my open incidents, all open incidents by deadline, and who is on call."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from blocks.budget import page_of
from blocks.ids import HomeAction
from blocks.lists import INCIDENTS_PER_PAGE, incident_list_line
from blocks.oncall import no_rotation_text, oncall_page, team_sections
from bot.domain.oncall import OnCall
from bot.models import Incident

# Each list on the Home tab shows the first page `/triage list` would (20 lines, 6,000 characters at most).
MAX_PER_SECTION = INCIDENTS_PER_PAGE


def _incident_sections(
    incidents: Sequence[Incident], empty: str, now: datetime, zone: ZoneInfo, *, more_with: str
) -> list[Block]:
    if not incidents:
        return [SectionBlock(text=empty)]
    page = page_of([incident_list_line(i, now=now, zone=zone) for i in incidents], 1, max_lines=MAX_PER_SECTION)
    blocks: list[Block] = [SectionBlock(text=line) for line in page.lines]
    if not page.is_last:
        more = f"…and {page.after} more — `{more_with}`"
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
    may_configure: bool = False,
) -> View:
    """Your incidents, everyone's, who is on call; a Settings button for the workspace's admins and declarers."""
    blocks: list[Block] = [
        HeaderBlock(text="My open incidents"),
        *_incident_sections(mine, "_Nothing you own or reported is open._", now, zone, more_with="/triage list"),
        DividerBlock(),
        HeaderBlock(text="All open incidents, nearest deadline first"),
        *_incident_sections(
            everyone, "No open incidents. 🎉 `/triage` opens one.", now, zone, more_with="/triage list 2"
        ),
        DividerBlock(),
        HeaderBlock(text="On call now"),
        *(
            team_sections(oncall_page(oncalls, zone))
            if oncalls
            else [SectionBlock(text=no_rotation_text(fallback_oncall))]
        ),
    ]
    if may_configure:
        settings = ButtonElement(text="Settings", action_id=HomeAction.OPEN_SETTINGS, value="settings")
        blocks.extend([DividerBlock(), ActionsBlock(elements=[settings])])
    return View(type="home", blocks=blocks)  # each part is capped: well under 100 blocks in all


def members_only_home(reason: str) -> View:
    """The App Home of someone who may not see incidents (a guest, someone from another organisation)."""
    return View(type="home", blocks=[HeaderBlock(text="Triage Bot"), SectionBlock(text=reason)])
