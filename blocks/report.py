"""`/triage report 30d`: the key-learnings & patterns report as Slack messages, inside Block Kit's limits.

Lists are cut to what a channel can read (the largest groups first) and say how many are left out; the full
report is `triage-bot report --format md`. The blocks go over as many messages as they need, each within
50 blocks and about 10,000 characters of text, each section within 3,000.
"""

from __future__ import annotations

from collections.abc import Sequence
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

from blocks.ids import ReportAction
from blocks.incident import SEVERITY_ICONS, Message
from blocks.text import link, message_text_length, pack_lines, slack_time, typed
from bot.domain.durations import humanize_duration
from bot.domain.glossary import FEEDBACK_TRACKS
from bot.domain.reports import TRACKS, Deadlines, FeedbackItem, PeriodReport, Tally, Theme, TimeStats, last_days
from bot.models import Severity

MAX_BLOCKS = 50
SECTION_CHARS = 2900  # Slack's limit is 3,000
MESSAGE_TEXT_BUDGET = 10_000  # Slack rejects about 12,000 characters of block text per message (msg_blocks_too_long)
TOP = 8
THEMES_SHOWN = 15
THEME_KEYS_SHOWN = 8
FEEDBACK_SHOWN = 25  # per track
LEARNINGS_SHOWN = 25
FULL_REPORT = "`triage-bot report --format md`"
UTC_ZONE = ZoneInfo("UTC")


def report_messages(report: PeriodReport, *, zone: ZoneInfo = UTC_ZONE) -> list[Message]:
    """The report as one message, or several when it does not fit in one ("(continued 2/3)")."""
    title = f"📊 Key learnings & patterns — {last_days(report.days)}"
    blocks: list[Block] = [HeaderBlock(text=title), _context(_period_line(report, zone))]
    if report.is_empty:
        empty = f"No incidents opened in {last_days(report.days)}, and no product feedback or key learnings recorded."
        return [Message(text=empty, blocks=[*blocks, SectionBlock(text=empty)])]
    blocks += _incident_blocks(report) if report.incidents else [_nothing_opened(report)]
    blocks += _feedback_blocks(report)
    blocks += _learning_blocks(report)
    return _paginate(blocks, title=title, text=_notification(report))


def _notification(report: PeriodReport) -> str:
    return (
        f"Key learnings & patterns — {last_days(report.days)}: {report.incidents} incidents, "
        f"{report.feedback} product feedback items, {len(report.learnings)} key learnings"
    )


def _nothing_opened(report: PeriodReport) -> SectionBlock:
    return SectionBlock(text=f"No incidents opened in {last_days(report.days)}.")


def _context(text: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=text)])


def _period_line(report: PeriodReport, zone: ZoneInfo) -> str:
    period = report.period
    return (
        f"Opened {slack_time(period.start, zone)} to {slack_time(period.end, zone)}, "
        f"compared with the {report.days} day{'s' if report.days != 1 else ''} before"
    )


def trend(count: int, previous: int) -> str:
    """`12 (↑3 from 9)`, `4 (↓1 from 5)`, `7 (same as before)`"""
    if count == previous:
        return f"{count} (same as before)"
    arrow = "↑" if count > previous else "↓"
    return f"{count} ({arrow}{abs(count - previous)} from {previous})"


def _sections(heading: str, lines: Sequence[str]) -> list[Block]:
    """`heading` and the lines, packed into as few sections of at most SECTION_CHARS as they fit in."""
    return [SectionBlock(text=text) for text in pack_lines(lines, SECTION_CHARS, first=heading)]


def _more(shown: int, total: int, what: str) -> list[str]:
    return [f"_…and {total - shown} more {what}: {FULL_REPORT} lists them all._"] if total > shown else []


# --- incidents -----------------------------------------------------------------------------------------------


def _incident_blocks(report: PeriodReport) -> list[Block]:
    severities = [
        MarkdownTextObject(text=f"{SEVERITY_ICONS[Severity(t.label)]} *{t.label}*  {trend(t.count, t.previous)}")
        for t in report.by_severity
    ]
    blocks: list[Block] = [
        SectionBlock(text=f"*Incidents opened:* {trend(report.incidents, report.previous_incidents)}"),
        SectionBlock(fields=severities),
    ]
    breakdowns = [("By client", report.by_client), ("By workflow", report.by_workflow), ("By region", report.by_region)]
    blocks.append(SectionBlock(fields=[MarkdownTextObject(text=_tally_text(n, t)) for n, t in breakdowns]))
    blocks.append(SectionBlock(text=_times_text(report)))
    blocks.append(SectionBlock(text=f"*Deadlines:* {_deadline_text(report.deadlines, report.previous_deadlines)}"))
    blocks.append(DividerBlock())
    blocks += _theme_blocks(report)
    return blocks


def _tally_text(name: str, tallies: Sequence[Tally]) -> str:
    """A field (at most 2,000 characters): the TOP largest groups."""
    lines = [f"• {typed(t.label, 60)} — {trend(t.count, t.previous)}" for t in tallies[:TOP]]
    if len(tallies) > TOP:
        lines.append(f"_…and {len(tallies) - TOP} more_")
    return f"*{name}*\n" + "\n".join(lines)


def _stats_text(stats: TimeStats) -> str:
    if stats.mean is None or stats.p90 is None:
        return "—"
    incidents = f"{stats.incidents} incident{'s' if stats.incidents != 1 else ''}"
    return f"mean {humanize_duration(stats.mean)} · p90 {humanize_duration(stats.p90)} ({incidents})"


def _times_text(report: PeriodReport) -> str:
    times = report.times
    lines = [
        f"*Time to acknowledge:* {_stats_text(times.acknowledge)}  _before: {_stats_text(times.previous_acknowledge)}_",
        f"*Time to resolve:* {_stats_text(times.resolve)}  _before: {_stats_text(times.previous_resolve)}_",
    ]
    lines += [
        f"{SEVERITY_ICONS[severity]} {severity.value} resolved in {_stats_text(stats)}"
        for severity, stats in times.resolve_by_severity
        if stats.incidents
    ]
    return "\n".join(lines)


def _deadline_text(now: Deadlines, before: Deadlines) -> str:
    share = f" — *{now.met_share:.0%} met*" if now.met_share is not None else ""
    text = f"✅ {now.met} met · ❌ {now.missed} missed · ⏳ {now.pending} still ahead · {now.without} without{share}"
    if before.met_share is not None:
        text += f"  _before: {before.met_share:.0%} met ({before.met} of {before.met + before.missed})_"
    return text


def _theme_line(number: int, theme: Theme) -> str:
    workflow = f"*{typed(theme.workflow, 80)}*" if theme.workflow else "_No workflow given_"
    keys = ", ".join(theme.keys[:THEME_KEYS_SHOWN]) + ("…" if theme.count > THEME_KEYS_SHOWN else "")
    return f"{number}. {workflow} — {theme.count} incidents ({keys})\n>{typed(theme.blocker, 200)}"


def _theme_blocks(report: PeriodReport) -> list[Block]:
    if not report.themes:
        return [SectionBlock(text="*Recurring themes:* none — no two incidents of a workflow with similar blockers.")]
    shown = report.themes[:THEMES_SHOWN]
    lines = [_theme_line(n, theme) for n, theme in enumerate(shown, start=1)]
    lines += _more(len(shown), len(report.themes) + report.more_themes, "themes")
    return _sections("*Recurring themes*", lines)


# --- feedback and learnings ----------------------------------------------------------------------------------


def _feedback_blocks(report: PeriodReport) -> list[Block]:
    blocks: list[Block] = [
        DividerBlock(),
        SectionBlock(text=f"*Product feedback filed:* {trend(report.feedback, report.previous_feedback)}"),
    ]
    if not report.feedback and not report.previous_feedback:
        return blocks
    blocks.append(
        SectionBlock(
            fields=[
                MarkdownTextObject(text=_tally_text("By track", report.feedback_by_track)),
                MarkdownTextObject(text=_tally_text("By area", report.feedback_by_area)),
            ]
        )
    )
    for track in TRACKS:
        items = report.feedback_for(track)
        if not items:
            continue
        lines = [_feedback_line(item) for item in items[:FEEDBACK_SHOWN]]
        lines += _more(min(len(items), FEEDBACK_SHOWN), len(items), "items")
        blocks += _sections(f"*{FEEDBACK_TRACKS[track]}* ({len(items)})", lines)
    return blocks


def _feedback_line(item: FeedbackItem) -> str:
    """`• INC-7 · Uploads · <url|PROD-12> · the client's use case`"""
    if item.ticket_key:
        ticket = link(item.ticket_url, item.ticket_key)
    else:
        ticket = f"_no ticket ({(item.ticket_state or 'not filed').replace('_', ' ')})_"
    return f"• {item.incident_key} · {typed(item.area, 60)} · {ticket} · {typed(item.use_case, 160)}"


def _learning_blocks(report: PeriodReport) -> list[Block]:
    if not report.learnings:
        return []
    shown = report.learnings[:LEARNINGS_SHOWN]
    lines = [f"• {item.incident_key}: {typed(item.text, 300)}" for item in shown]
    lines += _more(len(shown), len(report.learnings), "learnings")
    return [DividerBlock(), *_sections(f"*Key learnings* ({len(report.learnings)})", lines)]


# --- pages ---------------------------------------------------------------------------------------------------


def _paginate(blocks: Sequence[Block], *, title: str, text: str) -> list[Message]:
    """Blocks in order over as few messages as they fit in; every page after the first says it continues."""
    pages: list[list[Block]] = [[]]
    used = 0
    for block in blocks:
        length = message_text_length([block])
        if pages[-1] and (len(pages[-1]) >= MAX_BLOCKS - 1 or used + length > MESSAGE_TEXT_BUDGET):
            pages.append([])
            used = 0
        pages[-1].append(block)
        used += length
    if len(pages) == 1:
        return [Message(text=text, blocks=pages[0])]
    count = len(pages)
    messages = [Message(text=f"{text} (1/{count})", blocks=pages[0])]
    for number, page in enumerate(pages[1:], start=2):
        continued = _context(f"*{title}* (continued, {number}/{count})")
        messages.append(Message(text=f"{text} ({number}/{count})", blocks=[continued, *page]))
    return messages


def report_sharing(days: int, *, may_post: bool, left_out: int = 0) -> Message:
    """Closes the report only its asker sees: how to get the charts, and (for those allowed) a button to post it."""
    lines = []
    if left_out:
        lines.append(f"{left_out} more part(s) left out here: {FULL_REPORT} prints everything.")
    charts = "Charts (incidents per week, feedback by track, time to resolve) come with the report when it is posted"
    lines.append(f"🔒 Only you can see this report. {charts} in a channel, or `triage-bot report --charts DIR`.")
    blocks: list[Block] = [SectionBlock(text=" ".join(lines))]
    if may_post:
        button = ButtonElement(
            text="Post in this channel", action_id=ReportAction.POST_IN_CHANNEL, value=str(days), style="primary"
        )
        blocks.append(ActionsBlock(elements=[button]))
    return Message(text=" ".join(lines), blocks=blocks)
