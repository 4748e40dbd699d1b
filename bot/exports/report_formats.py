"""The key-learnings & patterns report as terminal text, Markdown and JSON.

Text and Markdown show the largest groups first (`TOP` rows per breakdown, `THEMES_SHOWN` themes) and every
product-feedback item and key learning; JSON has everything the report holds and is stable:

    format "triage-bot/period-report", version 1
    period, previous_period   {days, start, end}       ISO-8601 UTC ("2026-11-30T09:00:00Z"), end excluded
    empty                     true when nothing was opened, filed or learned in the period
    incidents  {count, previous, by_severity, by_client, by_workflow, by_region: [{label, count, previous, change}],
                per_week: [{week ("2026-W48"), week_start, total, by_severity {SEV1..SEV4}}]}
    response_times_seconds {acknowledge, resolve, previous_acknowledge, previous_resolve: {incidents, mean, p90},
                            resolve_by_severity {SEV1..SEV4: {incidents, mean, p90}}}     null when none
    deadlines, previous_deadlines {met, missed, pending, without_deadline, met_share}
    themes [{workflow, blocker, count, keys}], more_themes
    feedback {count, previous, by_track, by_area, items {stability, messaging, monitoring: [{incident_key, area,
              use_case, pm_user_id, pm_name, ticket_key, ticket_url, ticket_state, created_at}]}}
    learnings [{incident_key, text, created_at}]
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.domain.durations import humanize_duration
from bot.domain.reports import (
    TRACKS,
    Deadlines,
    FeedbackItem,
    Period,
    PeriodReport,
    Tally,
    Theme,
    TimeStats,
    last_days,
)
from bot.exports.summary_formats import display_time, iso, md_inline, md_link, seconds

REPORT_FORMAT = "triage-bot/period-report"
JSON_VERSION = 1
TOP = 15
THEMES_SHOWN = 25
THEME_KEYS_SHOWN = 12
UTC_ZONE = ZoneInfo("UTC")


class ReportFormat(enum.StrEnum):
    TEXT = "text"
    MARKDOWN = "md"
    JSON = "json"


def render_report(report: PeriodReport, report_format: ReportFormat, *, zone: ZoneInfo = UTC_ZONE) -> str:
    if report_format == ReportFormat.JSON:
        return report_json(report)
    if report_format == ReportFormat.MARKDOWN:
        return report_markdown(report, zone=zone)
    return report_text(report, zone=zone)


def title(report: PeriodReport) -> str:
    return f"Key learnings & patterns — {last_days(report.days)}"


def nothing_opened(report: PeriodReport) -> str:
    """`No incidents opened in the last 30 days`"""
    return f"No incidents opened in {last_days(report.days)}"


def change(tally_change: int) -> str:
    """`+3`, `-2`, `±0`"""
    return f"{tally_change:+d}" if tally_change else "±0"


def trend(count: int, previous: int) -> str:
    """`12 (before: 9, +3)`"""
    return f"{count} (before: {previous}, {change(count - previous)})"


def duration(delta: timedelta | None) -> str:
    return "—" if delta is None else humanize_duration(delta)


def deadline_line(deadlines: Deadlines) -> str:
    """`5 met, 2 missed, 1 still ahead, 3 without a deadline (71% met)`"""
    share = f" ({deadlines.met_share:.0%} met)" if deadlines.met_share is not None else ""
    return (
        f"{deadlines.met} met, {deadlines.missed} missed, {deadlines.pending} still ahead, "
        f"{deadlines.without} without a deadline{share}"
    )


def ticket_label(item: FeedbackItem) -> str:
    """`PROD-12 (filed)`, or why there is no ticket."""
    if item.ticket_key:
        return f"{item.ticket_key} ({item.ticket_state})" if item.ticket_state else item.ticket_key
    return f"no ticket ({(item.ticket_state or 'not filed').replace('_', ' ')})"


def _period_line(report: PeriodReport, zone: ZoneInfo) -> str:
    period = report.period
    return (
        f"Opened {display_time(period.start, zone)} to {display_time(period.end, zone)}, "
        f"compared with the {report.days} day{'s' if report.days != 1 else ''} before."
    )


def _one_line(text: str, limit: int = 160) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _shown_keys(theme: Theme) -> str:
    shown = ", ".join(theme.keys[:THEME_KEYS_SHOWN])
    rest = theme.count - min(len(theme.keys), THEME_KEYS_SHOWN)
    return f"{shown} and {rest} more" if rest else shown


# --- terminal text -------------------------------------------------------------------------------------------


def _columns(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    """An aligned table: the first column left, the others right, two spaces between."""
    table = [list(header), *[list(row) for row in rows]]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    lines = []
    for row in table:
        cells = [row[0].ljust(widths[0])] + [cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)]
        lines.append("  " + "  ".join(cells).rstrip())
    return lines


def _text_tallies(name: str, tallies: Sequence[Tally]) -> list[str]:
    shown = tallies[:TOP]
    heading = f"{name} (top {len(shown)} of {len(tallies)})" if len(tallies) > len(shown) else name
    rows = [(_one_line(t.label, 40), str(t.count), str(t.previous), change(t.change)) for t in shown]
    return ["", *_columns((heading, "Now", "Before", "Change"), rows)]


def _text_times(report: PeriodReport) -> list[str]:
    times = report.times
    rows = [
        ("Time to acknowledge", times.acknowledge, times.previous_acknowledge),
        ("Time to resolve", times.resolve, times.previous_resolve),
    ]
    table = [
        (label, duration(now.mean), duration(now.p90), str(now.incidents), duration(before.mean), duration(before.p90))
        for label, now, before in rows
    ]
    lines = ["", *_columns(("Response times", "Mean", "p90", "Incidents", "Before: mean", "p90"), table)]
    by_severity = [
        (severity.value, duration(stats.mean), duration(stats.p90), str(stats.incidents))
        for severity, stats in times.resolve_by_severity
    ]
    return [*lines, "", *_columns(("Time to resolve by severity", "Mean", "p90", "Resolved"), by_severity)]


def _text_themes(report: PeriodReport) -> list[str]:
    if not report.themes:
        return ["", "Recurring themes: none (no two incidents of a workflow with similar blockers)."]
    lines = ["", "Recurring themes"]
    for number, theme in enumerate(report.themes[:THEMES_SHOWN], start=1):
        lines.append(
            f"  {number}. {theme.workflow or 'No workflow given'} — {theme.count} incidents: {_shown_keys(theme)}"
        )
        lines.append(f'     "{_one_line(theme.blocker)}"')
    hidden = len(report.themes) - min(len(report.themes), THEMES_SHOWN) + report.more_themes
    if hidden:
        lines.append(f"  … and {hidden} smaller themes.")
    return lines


def _text_feedback(report: PeriodReport, zone: ZoneInfo) -> list[str]:
    lines = ["", f"Product feedback: {trend(report.feedback, report.previous_feedback)}"]
    if not report.feedback and not report.previous_feedback:
        return lines
    lines += _text_tallies("By track", report.feedback_by_track)
    lines += _text_tallies("By area", report.feedback_by_area)
    for track in TRACKS:
        items = report.feedback_for(track)
        lines += ["", f"{track.value.capitalize()} ({len(items)})"]
        if not items:
            lines.append("  none in this period")
        for item in items:
            url = f" {item.ticket_url}" if item.ticket_url else ""
            lines.append(
                f"  - {item.incident_key} · {_one_line(item.area, 60)} · {ticket_label(item)}{url} · "
                f"{display_time(item.created_at, zone)}"
            )
            lines.append(f"    {_one_line(item.use_case)}")
    return lines


def _text_learnings(report: PeriodReport, zone: ZoneInfo) -> list[str]:
    lines = ["", f"Key learnings ({len(report.learnings)})"]
    lines += [
        f"  - {item.incident_key} · {display_time(item.created_at, zone)}: {_one_line(item.text, 400)}"
        for item in report.learnings
    ]
    return lines


def report_text(report: PeriodReport, *, zone: ZoneInfo = UTC_ZONE) -> str:
    """Plain, aligned text for a terminal."""
    heading = title(report)
    lines = [heading, "=" * len(heading), _period_line(report, zone)]
    if report.is_empty:
        lines += ["", f"{nothing_opened(report)}, and no product feedback or key learnings were recorded."]
        return "\n".join(lines) + "\n"
    if report.incidents:
        lines += [
            "",
            f"Incidents: {trend(report.incidents, report.previous_incidents)}",
        ]
        lines += _text_tallies("By severity", report.by_severity)
        lines += _text_tallies("By client", report.by_client)
        lines += _text_tallies("By workflow", report.by_workflow)
        lines += _text_tallies("By region", report.by_region)
        lines += _text_times(report)
        lines += ["", f"Deadlines: {deadline_line(report.deadlines)}"]
        lines += [f"  before: {deadline_line(report.previous_deadlines)}"]
        lines += _text_themes(report)
    else:
        lines += ["", f"{nothing_opened(report)}."]
    lines += _text_feedback(report, zone)
    lines += _text_learnings(report, zone)
    return "\n".join(lines) + "\n"


# --- Markdown ------------------------------------------------------------------------------------------------


def _md_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    """A pipe table; the cells are already escaped."""
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(["---"] + ["---:"] * (len(header) - 1)) + " |"]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def _md_tallies(name: str, tallies: Sequence[Tally]) -> list[str]:
    shown = tallies[:TOP]
    heading = f"{name} (top {len(shown)} of {len(tallies)})" if len(tallies) > len(shown) else name
    rows = [(md_inline(t.label), str(t.count), str(t.previous), change(t.change)) for t in shown]
    return ["", f"**{heading}**", "", *_md_table(("", "Now", "Before", "Change"), rows)]


def _md_stats(stats: TimeStats) -> tuple[str, str, str]:
    return duration(stats.mean), duration(stats.p90), str(stats.incidents)


def _md_times(report: PeriodReport) -> list[str]:
    times = report.times
    rows = [
        ("Time to acknowledge", *_md_stats(times.acknowledge), *_md_stats(times.previous_acknowledge)[:2]),
        ("Time to resolve", *_md_stats(times.resolve), *_md_stats(times.previous_resolve)[:2]),
    ]
    by_severity = [(severity.value, *_md_stats(stats)) for severity, stats in times.resolve_by_severity]
    return [
        "",
        "## Response times",
        "",
        *_md_table(("", "Mean", "p90", "Incidents", "Before: mean", "Before: p90"), rows),
        "",
        "**Time to resolve by severity**",
        "",
        *_md_table(("", "Mean", "p90", "Resolved"), by_severity),
    ]


def _md_themes(report: PeriodReport) -> list[str]:
    lines = ["", "## Recurring themes", ""]
    if not report.themes:
        return [*lines, "None: no two incidents of a workflow with similar blockers."]
    for number, theme in enumerate(report.themes[:THEMES_SHOWN], start=1):
        workflow = md_inline(theme.workflow) if theme.workflow else "_No workflow given_"
        lines.append(f"{number}. **{workflow}** — {theme.count} incidents: {_shown_keys(theme)}  ")
        lines.append(f"   > {md_inline(_one_line(theme.blocker, 300))}")
    hidden = len(report.themes) - min(len(report.themes), THEMES_SHOWN) + report.more_themes
    if hidden:
        lines += ["", f"… and {hidden} smaller themes."]
    return lines


def _md_feedback(report: PeriodReport, zone: ZoneInfo) -> list[str]:
    lines = ["", "## Product feedback", "", f"Filed: {trend(report.feedback, report.previous_feedback)}"]
    if not report.feedback and not report.previous_feedback:
        return lines
    lines += _md_tallies("By track", report.feedback_by_track) + _md_tallies("By area", report.feedback_by_area)
    for track in TRACKS:
        items = report.feedback_for(track)
        lines += ["", f"### {track.value.capitalize()} ({len(items)})", ""]
        if not items:
            lines.append("None in this period.")
        for item in items:
            ticket = md_link(ticket_label(item), item.ticket_url) if item.ticket_key else md_inline(ticket_label(item))
            when = display_time(item.created_at, zone)
            lines.append(f"- **{item.incident_key}** · {md_inline(item.area)} · {ticket} · {when}  ")
            lines.append(f"  {md_inline(_one_line(item.use_case, 500))}")
    return lines


def _md_learnings(report: PeriodReport, zone: ZoneInfo) -> list[str]:
    lines = ["", "## Key learnings", ""]
    if not report.learnings:
        return [*lines, "None recorded in this period."]
    return lines + [
        f"- **{item.incident_key}** ({display_time(item.created_at, zone)}): {md_inline(item.text)}"
        for item in report.learnings
    ]


def report_markdown(report: PeriodReport, *, zone: ZoneInfo = UTC_ZONE) -> str:
    lines = [f"# {title(report)}", "", _period_line(report, zone)]
    if report.is_empty:
        lines += ["", f"{nothing_opened(report)}, and no product feedback or key learnings were recorded."]
        return "\n".join(lines) + "\n"
    lines += ["", "## Incidents", ""]
    if report.incidents:
        lines.append(f"Opened: {trend(report.incidents, report.previous_incidents)}")
        for name, tallies in (
            ("By severity", report.by_severity),
            ("By client", report.by_client),
            ("By workflow", report.by_workflow),
            ("By region", report.by_region),
        ):
            lines += _md_tallies(name, tallies)
        lines += _md_times(report)
        lines += ["", "## Deadlines", "", f"- This period: {deadline_line(report.deadlines)}"]
        lines += [f"- Before: {deadline_line(report.previous_deadlines)}"]
        lines += _md_themes(report)
    else:
        lines.append(f"{nothing_opened(report)}.")
    lines += _md_feedback(report, zone)
    lines += _md_learnings(report, zone)
    return "\n".join(lines) + "\n"


# --- JSON ----------------------------------------------------------------------------------------------------


def report_json(report: PeriodReport) -> str:
    return json.dumps(report_document(report), indent=2, ensure_ascii=False) + "\n"


def report_document(report: PeriodReport) -> dict[str, Any]:
    return {
        "format": REPORT_FORMAT,
        "version": JSON_VERSION,
        "period": _period(report.period),
        "previous_period": _period(report.previous_period),
        "empty": report.is_empty,
        "incidents": {
            "count": report.incidents,
            "previous": report.previous_incidents,
            "by_severity": _tallies(report.by_severity),
            "by_client": _tallies(report.by_client),
            "by_workflow": _tallies(report.by_workflow),
            "by_region": _tallies(report.by_region),
            "per_week": [
                {
                    "week": week.label,
                    "week_start": week.week_start.isoformat(),
                    "total": week.total,
                    "by_severity": {severity.value: count for severity, count in week.by_severity},
                }
                for week in report.weeks
            ],
        },
        "response_times_seconds": {
            "acknowledge": _stats(report.times.acknowledge),
            "resolve": _stats(report.times.resolve),
            "previous_acknowledge": _stats(report.times.previous_acknowledge),
            "previous_resolve": _stats(report.times.previous_resolve),
            "resolve_by_severity": {s.value: _stats(stats) for s, stats in report.times.resolve_by_severity},
        },
        "deadlines": _deadlines(report.deadlines),
        "previous_deadlines": _deadlines(report.previous_deadlines),
        "themes": [
            {"workflow": t.workflow, "blocker": t.blocker, "count": t.count, "keys": list(t.keys)}
            for t in report.themes
        ],
        "more_themes": report.more_themes,
        "feedback": {
            "count": report.feedback,
            "previous": report.previous_feedback,
            "by_track": _tallies(report.feedback_by_track),
            "by_area": _tallies(report.feedback_by_area),
            "items": {track.value: [_feedback_item(i) for i in report.feedback_for(track)] for track in TRACKS},
        },
        "learnings": [
            {"incident_key": item.incident_key, "text": item.text, "created_at": iso(item.created_at)}
            for item in report.learnings
        ],
    }


def _period(period: Period) -> dict[str, Any]:
    return {"days": period.days, "start": iso(period.start), "end": iso(period.end)}


def _tallies(tallies: Sequence[Tally]) -> list[dict[str, Any]]:
    return [{"label": t.label, "count": t.count, "previous": t.previous, "change": t.change} for t in tallies]


def _stats(stats: TimeStats) -> dict[str, Any]:
    return {"incidents": stats.incidents, "mean": seconds(stats.mean), "p90": seconds(stats.p90)}


def _deadlines(deadlines: Deadlines) -> dict[str, Any]:
    share = round(deadlines.met_share, 4) if deadlines.met_share is not None else None
    return {
        "met": deadlines.met,
        "missed": deadlines.missed,
        "pending": deadlines.pending,
        "without_deadline": deadlines.without,
        "met_share": share,
    }


def _feedback_item(item: FeedbackItem) -> dict[str, Any]:
    return {
        "incident_key": item.incident_key,
        "area": item.area,
        "use_case": item.use_case,
        "pm_user_id": item.pm_user_id,
        "pm_name": item.pm_name,
        "ticket_key": item.ticket_key,
        "ticket_url": item.ticket_url,
        "ticket_state": item.ticket_state,
        "created_at": iso(item.created_at),
    }
