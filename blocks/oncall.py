"""Who is on call: for `/triage oncall` and App Home; the notices an override sends."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import Block, ContextBlock, HeaderBlock, MarkdownTextObject, SectionBlock

from blocks.budget import SECTION_SAFE, Page, lines_within, more_note, page_of
from blocks.incident import Message
from blocks.text import mention, pack_lines, slack_time, typed
from bot.domain.oncall import ActiveOverride, OnCall
from bot.domain.oncall_sources import ExternalOnCall, OnCallSource, SourceKind

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


@dataclass(frozen=True)
class SourceStatus:
    """What `/triage oncall` says of `ONCALL_SOURCE`: the source, and who it names now (when it was read)."""

    source: OnCallSource
    answer: ExternalOnCall | None = None  # PagerDuty / Opsgenie: their last answer
    group_members: tuple[str, ...] = ()  # a Slack user group: its members


def source_text(status: SourceStatus, fallback_id: str | None, zone: ZoneInfo) -> str:
    source, answer = status.source, status.answer
    head = f"*On-call source:* {typed(source.describe(), 200)}"
    if source.kind == SourceKind.USERGROUP:
        members = ", ".join(mention(m) for m in status.group_members[:20]) or "nobody yet"
        return f"{head}: new incidents page {mention(source.reference)} (members: {members})"
    if not source.external:
        return f"{head}: new incidents page who that rotation has on call (below)"
    fallback = mention(fallback_id) if fallback_id else "nobody (set `ONCALL_SLACK_ID`)"
    if answer is None:
        return f"{head}: not read yet; until it is, new incidents page {fallback}"
    if answer.primary is None:
        why = typed(answer.problem or "it names nobody Slack knows", 300)
        return f"{head}: {why}; new incidents page {fallback}"
    named = mention(answer.primary) + (f" (next: {mention(answer.next_person)})" if answer.next_person else "")
    if answer.stale:
        return (
            f"{head}: ⚠️ did not answer ({typed(answer.problem or 'unknown error', 200)}); "
            f"paging the last known on-call, {named}, as of {slack_time(answer.read_at, zone)}"
        )
    unmatched = f" · not in Slack: {typed(', '.join(answer.unmatched), 300)}" if answer.unmatched else ""
    return f"{head}: on call now {named}, read {slack_time(answer.read_at, zone)}{unmatched}"


def oncall_blocks(
    oncalls: Sequence[OnCall],
    overrides: Sequence[ActiveOverride],
    fallback_id: str | None,
    zone: ZoneInfo,
    *,
    page: int = 1,
    source: SourceStatus | None = None,
) -> list[Block]:
    """`/triage oncall [page]`: the on-call source and a page of teams (the source and the overrides in force on
    the first page), within a message's limits."""
    teams = oncall_page(oncalls, zone, page) if oncalls else None
    title = f"On call now ({teams.number}/{teams.count})" if teams is not None and teams.count > 1 else "On call now"
    first = teams is None or teams.number == 1
    blocks: list[Block] = [HeaderBlock(text=title)]
    if source is not None and first:
        blocks.append(SectionBlock(text=source_text(source, fallback_id, zone)))
    if teams is not None:
        blocks.extend(team_sections(teams))
    elif source is None or source.source.kind == SourceKind.ROTATION:
        blocks.append(SectionBlock(text=no_rotation_text(fallback_id)))
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
