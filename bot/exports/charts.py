"""PNG charts of the period report, for people who would rather look than read.

Drawn on matplotlib `Figure`s with the Agg canvas: no display, no pyplot global state (safe in a web worker),
and the same bytes for the same report (fixed size and dpi, bundled font, no software or time stamp in the file).
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from datetime import timedelta

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from bot.domain.reports import SEVERITIES, PeriodReport, TimeStats, last_days
from bot.models import Severity

# 800 x 450 pixels (16:9): small in inches at a high dpi, so the text stays legible when a pane shows it at half size
WIDTH_INCHES, HEIGHT_INCHES, DPI = 6.4, 3.6, 125
SEVERITY_COLOURS = {
    Severity.SEV1: "#d62728",
    Severity.SEV2: "#ff7f0e",
    Severity.SEV3: "#f2c12e",
    Severity.SEV4: "#1f77b4",
}
NOW_COLOUR, BEFORE_COLOUR, MEAN_COLOUR, P90_COLOUR = "#1f77b4", "#c7c7c7", "#08519c", "#9ecae1"
MAX_WEEK_LABELS = 14


@dataclass(frozen=True)
class Chart:
    filename: str
    title: str
    png: bytes


def render_charts(report: PeriodReport) -> list[Chart]:
    """Incidents per week by severity, feedback by track, time to resolve by severity — those with data to show."""
    if report.is_empty:
        return []
    charts = []
    if report.incidents:
        charts.append(incidents_per_week(report))
    if report.feedback or report.previous_feedback:
        charts.append(feedback_by_track(report))
    if report.times.resolve.incidents:
        charts.append(time_to_resolve(report))
    return charts


def _axes(title: str) -> tuple[Figure, Axes]:
    figure = Figure(figsize=(WIDTH_INCHES, HEIGHT_INCHES), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.set_title(title, loc="left", fontsize=12, fontweight="bold")
    axes.spines[["top", "right"]].set_visible(False)
    axes.grid(axis="y", color="#e5e5e5", linewidth=0.8)
    axes.set_axisbelow(True)
    return figure, axes


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


def incidents_per_week(report: PeriodReport) -> Chart:
    """Stacked bars: incidents opened each ISO week, split by severity."""
    title = f"Incidents per week by severity — {last_days(report.days)}"
    figure, axes = _axes(title)
    positions = list(range(len(report.weeks)))
    bottoms = [0] * len(report.weeks)
    for severity in SEVERITIES:
        counts = [week.count(severity) for week in report.weeks]
        axes.bar(positions, counts, bottom=bottoms, color=SEVERITY_COLOURS[severity], label=severity.value, width=0.7)
        bottoms = [b + c for b, c in zip(bottoms, counts, strict=True)]
    step = max(1, math.ceil(len(positions) / MAX_WEEK_LABELS))
    axes.set_xticks(positions[::step], [f"{w.label}\n{w.week_start:%d %b}" for w in report.weeks][::step], fontsize=8)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_ylabel("Incidents opened")
    axes.legend(ncols=len(SEVERITIES), loc="upper left", bbox_to_anchor=(0, -0.16), frameon=False, fontsize=9)
    return Chart("incidents-per-week.png", title, _png(figure))


def feedback_by_track(report: PeriodReport) -> Chart:
    """Grouped bars per track: product feedback filed this period and the period before."""
    title = f"Product feedback by track — {last_days(report.days)} vs the {report.days} days before"
    figure, axes = _axes(title)
    labels = [tally.label for tally in report.feedback_by_track]
    positions = list(range(len(labels)))
    before = axes.bar(
        [p - 0.2 for p in positions],
        [t.previous for t in report.feedback_by_track],
        width=0.4,
        color=BEFORE_COLOUR,
        label="Before",
    )
    now = axes.bar(
        [p + 0.2 for p in positions],
        [t.count for t in report.feedback_by_track],
        width=0.4,
        color=NOW_COLOUR,
        label="This period",
    )
    axes.bar_label(before, fontsize=9)
    axes.bar_label(now, fontsize=9)
    axes.set_xticks(positions, labels)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_ylabel("Feedback items")
    axes.legend(frameon=False, fontsize=9)
    return Chart("feedback-by-track.png", title, _png(figure))


def _hours_or_minutes(stats: list[TimeStats]) -> tuple[str, float]:
    """Hours, unless every p90 is under two hours."""
    longest = max((s.p90.total_seconds() for s in stats if s.p90 is not None), default=0.0)
    return ("minutes", 60.0) if longest < 2 * 3600 else ("hours", 3600.0)


def time_to_resolve(report: PeriodReport) -> Chart:
    """Mean and p90 time to resolve per severity, for incidents opened and resolved in the period."""
    title = f"Time to resolve by severity — {last_days(report.days)}"
    figure, axes = _axes(title)
    severities = [severity for severity, _ in report.times.resolve_by_severity]
    stats = [s for _, s in report.times.resolve_by_severity]
    unit, per_unit = _hours_or_minutes(stats)
    positions = list(range(len(severities)))
    means = [s.mean.total_seconds() / per_unit if s.mean is not None else 0.0 for s in stats]
    p90s = [s.p90.total_seconds() / per_unit if s.p90 is not None else 0.0 for s in stats]
    mean_bars = axes.bar([p - 0.2 for p in positions], means, width=0.4, color=MEAN_COLOUR, label="Mean")
    p90_bars = axes.bar([p + 0.2 for p in positions], p90s, width=0.4, color=P90_COLOUR, label="p90")
    axes.bar_label(mean_bars, labels=[_bar_text(s.mean, per_unit) for s in stats], fontsize=9)
    axes.bar_label(p90_bars, labels=[_bar_text(s.p90, per_unit) for s in stats], fontsize=9)
    axes.set_xticks(
        positions, [f"{sev.value}\n({s.incidents} resolved)" for sev, s in zip(severities, stats, strict=True)]
    )
    axes.set_ylabel(f"Time to resolve ({unit})")
    axes.legend(frameon=False, fontsize=9)
    return Chart("time-to-resolve.png", title, _png(figure))


def _bar_text(value: timedelta | None, per_unit: float) -> str:
    return "n/a" if value is None else f"{value.total_seconds() / per_unit:.1f}"
