"""Who is on call: for `/triage oncall` and App Home; the notices an override sends."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import Block, ContextBlock, HeaderBlock, MarkdownTextObject, SectionBlock

from bot.blocks.incident import Message
from bot.blocks.text import escape_mrkdwn, mention, slack_time
from bot.domain.oncall import ActiveOverride, OnCall

OVERRIDE_HELP = "Cover for someone: `/triage oncall override @user 4h [team]` · end it: `/triage oncall cancel [team]`"


def oncall_line(oncall: OnCall, zone: ZoneInfo) -> str:
    until = f" until {slack_time(oncall.until, zone)}" if oncall.until else ""
    cover = " (override)" if oncall.via_override else ""
    after = f" · next: {mention(oncall.next_user_id)}" if oncall.next_user_id else ""
    return f"*{escape_mrkdwn(oncall.team)}*: {mention(oncall.user_id)}{cover}{until}{after}"


def oncall_text(oncalls: Sequence[OnCall], fallback_id: str | None, zone: ZoneInfo) -> str:
    if oncalls:
        return "\n".join(oncall_line(o, zone) for o in oncalls)
    fallback = f" Meanwhile {mention(fallback_id)} (ONCALL_SLACK_ID) is paged." if fallback_id else ""
    return f"No on-call rotation is set up. Load one with `triage-bot oncall load rotations.yaml`.{fallback}"


def override_line(cover: ActiveOverride, zone: ZoneInfo) -> str:
    """`*platform*: @dave covers for @bob until … (set by @lena)`"""
    instead = f" for {mention(cover.replaces)}" if cover.replaces and cover.replaces != cover.user_id else ""
    return (
        f"*{escape_mrkdwn(cover.team)}*: {mention(cover.user_id)} covers{instead} until "
        f"{slack_time(cover.ends_at, zone)} (set by {mention(cover.created_by)})"
    )


def oncall_blocks(
    oncalls: Sequence[OnCall], overrides: Sequence[ActiveOverride], fallback_id: str | None, zone: ZoneInfo
) -> list[Block]:
    blocks: list[Block] = [HeaderBlock(text="On call now"), SectionBlock(text=oncall_text(oncalls, fallback_id, zone))]
    if overrides:
        lines = "\n".join(override_line(o, zone) for o in overrides[:20])
        blocks.append(SectionBlock(text=f"*Active overrides*\n{lines}"))
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=OVERRIDE_HELP)]))
    return blocks


def override_set_notice(
    *, team: str, cover_id: str, replaces: str | None, ends_at: datetime, set_by: str, zone: ZoneInfo
) -> Message:
    """Posted where the team escalates (or to the person replaced) whenever someone sets an override."""
    instead = f" instead of {mention(replaces)}" if replaces and replaces != cover_id else ""
    text = (
        f"🔁 {mention(cover_id)} is on call for *{escape_mrkdwn(team)}*{instead} until {slack_time(ends_at, zone)} "
        f"(override set by {mention(set_by)}). Pages for new incidents go to them. "
        f"Not expected? `/triage oncall cancel {escape_mrkdwn(team)}` ends it."
    )
    return Message(text=text, blocks=[SectionBlock(text=text)])


def override_cancelled_notice(*, team: str, cover_id: str, back_to: str | None, cancelled_by: str) -> Message:
    back = f" {mention(back_to)} is on call again." if back_to else ""
    text = f"↩️ {mention(cancelled_by)} ended {mention(cover_id)}'s override of *{escape_mrkdwn(team)}*.{back}"
    return Message(text=text, blocks=[SectionBlock(text=text)])
