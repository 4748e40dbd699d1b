"""PNG charts of the period report: real PNGs of a fixed size, the same bytes every time, none when empty."""

from __future__ import annotations

import io
import struct
from dataclasses import replace
from datetime import date, timedelta

import numpy as np
from matplotlib.image import imread

from bot.domain.reports import SEVERITIES, ResponseTimes, WeekCounts
from bot.exports.charts import DPI, HEIGHT_INCHES, WIDTH_INCHES, Chart, render_charts
from tests.unit.report_samples import busy_report, empty_report, feedback_only_report

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _size(png: bytes) -> tuple[int, int]:
    """Width and height from the IHDR chunk, which always comes first."""
    assert png[12:16] == b"IHDR"
    width, height = struct.unpack(">II", png[16:24])
    return width, height


def _colours(chart: Chart) -> int:
    pixels = imread(io.BytesIO(chart.png), format="png")
    return len(np.unique(pixels.reshape(-1, pixels.shape[-1]), axis=0))


def test_a_busy_report_has_three_charts_that_are_pngs_of_the_fixed_size() -> None:
    charts = render_charts(busy_report())

    assert [c.filename for c in charts] == ["incidents-per-week.png", "feedback-by-track.png", "time-to-resolve.png"]
    for chart in charts:
        assert chart.png.startswith(PNG_SIGNATURE)
        assert _size(chart.png) == (int(WIDTH_INCHES * DPI), int(HEIGHT_INCHES * DPI))
        assert _colours(chart) > 20, f"{chart.filename} looks blank"
        assert chart.title


def test_titles_say_what_and_over_which_period() -> None:
    titles = [c.title for c in render_charts(busy_report())]

    assert titles[0] == "Incidents per week by severity — the last 30 days"
    assert titles[1].startswith("Product feedback by track — the last 30 days vs the 30 days before")
    assert titles[2] == "Time to resolve by severity — the last 30 days"


def test_the_same_report_gives_the_same_bytes_and_no_software_or_date_stamp() -> None:
    first, second = render_charts(busy_report()), render_charts(busy_report())

    assert [c.png for c in first] == [c.png for c in second]
    for chart in first:
        assert b"Software" not in chart.png and b"matplotlib" not in chart.png.lower()
        assert b"tIME" not in chart.png


def test_an_empty_report_has_no_charts() -> None:
    assert render_charts(empty_report()) == []


def test_only_charts_with_data_are_drawn() -> None:
    assert [c.filename for c in render_charts(feedback_only_report())] == ["feedback-by-track.png"]
    unresolved = replace(busy_report(), times=ResponseTimes())
    assert "time-to-resolve.png" not in [c.filename for c in render_charts(unresolved)]


def test_a_year_of_weeks_fits_on_one_chart() -> None:
    weeks = tuple(
        WeekCounts(date(2025, 12, 1) + timedelta(weeks=n), tuple((s, (n + i) % 5) for i, s in enumerate(SEVERITIES)))
        for n in range(53)
    )

    chart = render_charts(replace(busy_report(), weeks=weeks))[0]

    assert chart.filename == "incidents-per-week.png"
    assert _size(chart.png) == (int(WIDTH_INCHES * DPI), int(HEIGHT_INCHES * DPI))
