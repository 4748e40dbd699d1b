"""Who is on call: for `/triage oncall` and App Home; the notices an override sends."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import Block, ContextBlock, HeaderBlock, MarkdownTextObject, SectionBlock

from blocks.budget import SECTION_SAFE, Page, lines_within, more_note, page_of
from blocks.incident import Message
from blocks.text import mention, pack_lines, slack_time, typed
from bot.domain.oncall import ActiveOverride, OnCall

OVERRIDE_HELP = "Cover for someone: `/triage oncall override @user 4h [team]` · end it: `/triage oncall cancel [team]`"
ONCALL_COMMAND = "/triage oncall"
TEAMS_PER_PAGE = 30
OVERRIDES_CHARS = 2000
TEAM_NAME_CHARS = 100


def oncall_line(oncall: OnCall, zone: ZoneInfo) -> str:
    until = f" until {slack_time(oncall.until, zone)}" if oncall.until else ""
    cover = " (override)" if oncall.via_override else ""
    after = f" · next: {mention(oncall.next_user_id)}" if oncall.next_user_id else ""
    return f"*{typed(oncall.team, TEAM_NAME_CHARS)}*: {mention(oncall.user_id)}{cover}{until}{after}"


def no_rotation_text(fallback_id: str | None) -> str:
    fallback = f" Meanwhile {mention(fallback_id)} (ONCALL_SLACK_ID) is paged." if fallback_id else ""
    return f"No on-call rotation is set up. Load one with `triage-bot oncall load rotations.yaml`.{fallback}"


def oncall_page(oncalls: Sequence[OnCall], zone: ZoneInfo, number: int = 1) -> Page:
    """A page of `/triage oncall`: as many teams as fit a message (App Home shows the first)."""
    return page_of([oncall_line(o, zone) for o in oncalls], number, max_lines=TEAMS_PER_PAGE)


def team_sections(page: Page) -> list[Block]:
    """A page of teams, one line each, in sections of at most 2,900 characters; then how to see the next teams."""
    blocks: list[Block] = [SectionBlock(text=chunk) for chunk in pack_lines(page.lines, SECTION_SAFE)]
    more = more_note(page, ONCALL_COMMAND, noun="more teams")
    return [*blocks, more] if more else blocks


def override_line(cover: ActiveOverride, zone: ZoneInfo) -> str:
    """`*platform*: @dave covers for @bob until … (set by @lena)`"""
    instead = f" for {mention(cover.replaces)}" if cover.replaces and cover.replaces != cover.user_id else ""
    return (
        f"*{typed(cover.team, TEAM_NAME_CHARS)}*: {mention(cover.user_id)} covers{instead} until "
        f"{slack_time(cover.ends_at, zone)} (set by {mention(cover.created_by)})"
    )


def oncall_blocks(
    oncalls: Sequence[OnCall],
    overrides: Sequence[ActiveOverride],
    fallback_id: str | None,
    zone: ZoneInfo,
    *,
    page: int = 1,
) -> list[Block]:
    """`/triage oncall [page]`: a page of teams (the overrides in force on the first), within a message's limits."""
    if not oncalls:
        blocks: list[Block] = [HeaderBlock(text="On call now"), SectionBlock(text=no_rotation_text(fallback_id))]
        first = True
    else:
        teams = oncall_page(oncalls, zone, page)
        title = f"On call now ({teams.number}/{teams.count})" if teams.count > 1 else "On call now"
        blocks = [HeaderBlock(text=title), *team_sections(teams)]
        first = teams.number == 1
    if overrides and first:
        lines = lines_within([override_line(o, zone) for o in overrides], OVERRIDES_CHARS)
        blocks.append(SectionBlock(text=f"*Active overrides*\n{lines}"))
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=OVERRIDE_HELP)]))
    return blocks


def override_set_notice(
    *, team: str, cover_id: str, replaces: str | None, ends_at: datetime, set_by: str, zone: ZoneInfo
) -> Message:
    """Posted where the team escalates (or to the person replaced) whenever someone sets an override."""
    instead = f" instead of {mention(replaces)}" if replaces and replaces != cover_id else ""
    text = (
        f"🔁 {mention(cover_id)} is on call for *{typed(team, TEAM_NAME_CHARS)}*{instead} until "
        f"{slack_time(ends_at, zone)} (override set by {mention(set_by)}). Pages for new incidents go to them. "
        f"Not expected? `/triage oncall cancel {typed(team, 150)}` ends it."
    )
    return Message(text=text, blocks=[SectionBlock(text=text)])


def override_cancelled_notice(*, team: str, cover_id: str, back_to: str | None, cancelled_by: str) -> Message:
    back = f" {mention(back_to)} is on call again." if back_to else ""
    text = f"↩️ {mention(cancelled_by)} ended {mention(cover_id)}'s override of *{typed(team, TEAM_NAME_CHARS)}*.{back}"
    return Message(text=text, blocks=[SectionBlock(text=text)])
