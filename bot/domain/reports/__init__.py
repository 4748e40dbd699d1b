"""Key learnings and patterns over a period: what broke, for whom, how fast we answered, and what recurs.

Built from SQL aggregates (GROUP BY; `percentile_cont` on PostgreSQL), never from every incident as an ORM
row, so a year of 100,000 incidents reads in well under two seconds. On SQLite the durations come back as
numbers and their percentiles are computed in Python, the same way PostgreSQL does.
"""

from bot.domain.reports.build import build_report
from bot.domain.reports.constants import (
    DEFAULT_DAYS,
    MAX_DAYS,
    MAX_THEMES,
    MIN_DAYS,
    NOT_GIVEN,
    P90,
    SEVERITIES,
    THEME_KEYS,
    THEME_MIN_INCIDENTS,
    TRACKS,
)
from bot.domain.reports.model import (
    Deadlines,
    FeedbackItem,
    InvalidPeriod,
    LearningItem,
    Period,
    PeriodReport,
    ResponseTimes,
    Tally,
    Theme,
    TimeStats,
    WeekCounts,
    last_days,
    parse_days,
    validate_days,
)
from bot.domain.reports.response_times import percentile_cont
from bot.domain.reports.themes import blocker_signature

__all__ = [
    "DEFAULT_DAYS",
    "MAX_DAYS",
    "MAX_THEMES",
    "MIN_DAYS",
    "NOT_GIVEN",
    "P90",
    "SEVERITIES",
    "THEME_KEYS",
    "THEME_MIN_INCIDENTS",
    "TRACKS",
    "Deadlines",
    "FeedbackItem",
    "InvalidPeriod",
    "LearningItem",
    "Period",
    "PeriodReport",
    "ResponseTimes",
    "Tally",
    "Theme",
    "TimeStats",
    "WeekCounts",
    "blocker_signature",
    "build_report",
    "last_days",
    "parse_days",
    "percentile_cont",
    "validate_days",
]
