"""Durations too long to mean anything (or to fit a datetime) are refused with one line, never an OverflowError."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.domain.oncall import LONGEST_DURATION, parse_duration


@pytest.mark.parametrize("text", ["999999999999999999999h", "9" * 5000 + "m", "366d", "53w", "1000000w", "365d 1m"])
def test_longer_than_a_year_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"is longer than a year; give at most 365d$") as raised:
        parse_duration(text)
    assert len(str(raised.value)) < 100, "the typed text is shortened, not echoed whole"


def test_a_year_is_the_longest_and_fits_any_date_in_use() -> None:
    assert parse_duration("365d") == LONGEST_DURATION
    assert datetime(9000, 1, 1, tzinfo=UTC) + LONGEST_DURATION > datetime(9000, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("text", ["\u0661\u0662h", "\u00b2h"])  # Arabic-Indic digits, a superscript two
def test_only_ascii_digits_are_read(text: str) -> None:
    with pytest.raises(ValueError, match="as a duration"):
        parse_duration(text)


def test_ordinary_overrides_still_read() -> None:
    assert parse_duration("14d") == timedelta(days=14)
