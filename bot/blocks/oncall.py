"""Who is on call: for `/triage oncall` and App Home."""

from __future__ import annotations

from collections.abc import Sequence
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import Block, ContextBlock, HeaderBlock, MarkdownTextObject, SectionBlock

from bot.blocks.text import escape_mrkdwn, mention, slack_time
from bot.domain.oncall import OnCall


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


def oncall_blocks(oncalls: Sequence[OnCall], fallback_id: str | None, zone: ZoneInfo) -> list[Block]:
    return [
        HeaderBlock(text="On call now"),
        SectionBlock(text=oncall_text(oncalls, fallback_id, zone)),
        ContextBlock(
            elements=[MarkdownTextObject(text="Cover for someone: `/triage oncall override @user 4h [team]`")]
        ),
    ]
