"""The report's shape, and reading the period asked for."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from bot.domain.errors import DomainError, quoted
from bot.domain.reports.constants import DEFAULT_DAYS, MAX_DAYS, MIN_DAYS
from bot.models import FeedbackTrack, Severity


class InvalidPeriod(DomainError):
    def __init__(self, given: object) -> None:
        shown = quoted(repr(given))
        super().__init__(f"A report covers {MIN_DAYS} to {MAX_DAYS} days (e.g. `30d`); {shown} is not such a period.")


@dataclass(frozen=True)
class Period:
    """[start, end): opened at or after `start` and before `end`."""

    start: datetime
    end: datetime

    @property
    def days(self) -> int:
        return round((self.end - self.start) / timedelta(days=1))


@dataclass(frozen=True)
class Tally:
    """How many in this period, and in the one before."""

    label: str
    count: int
    previous: int

    @property
    def change(self) -> int:
        return self.count - self.previous


@dataclass(frozen=True)
class TimeStats:
    """Mean and 90th percentile of a duration over the incidents that have it (rounded to seconds)."""

    incidents: int = 0
    mean: timedelta | None = None
    p90: timedelta | None = None


@dataclass(frozen=True)
class ResponseTimes:
    acknowledge: TimeStats = TimeStats()
    resolve: TimeStats = TimeStats()
    previous_acknowledge: TimeStats = TimeStats()
    previous_resolve: TimeStats = TimeStats()
    resolve_by_severity: tuple[tuple[Severity, TimeStats], ...] = ()  # this period, every severity


@dataclass(frozen=True)
class Deadlines:
    """Met: mitigated or resolved (whichever came first) at or before the deadline. Missed: after it, or still
    open past it. Pending: still open with the deadline ahead."""

    met: int = 0
    missed: int = 0
    pending: int = 0
    without: int = 0

    @property
    def met_share(self) -> float | None:
        decided = self.met + self.missed
        return self.met / decided if decided else None


@dataclass(frozen=True)
class Theme:
    """Incidents of one workflow whose blockers read alike."""

    workflow: str | None
    blocker: str
    count: int
    keys: tuple[str, ...]


@dataclass(frozen=True)
class WeekCounts:
    """Incidents opened in one ISO week (Monday to Sunday, UTC) by severity; the first and last week may be partial."""

    week_start: date
    by_severity: tuple[tuple[Severity, int], ...]

    @property
    def label(self) -> str:
        year, week, _ = self.week_start.isocalendar()
        return f"{year}-W{week:02d}"

    @property
    def total(self) -> int:
        return sum(count for _, count in self.by_severity)

    def count(self, severity: Severity) -> int:
        return dict(self.by_severity).get(severity, 0)


@dataclass(frozen=True)
class FeedbackItem:
    incident_key: str
    track: FeedbackTrack
    area: str
    use_case: str
    pm_user_id: str | None
    ticket_key: str | None
    ticket_url: str | None
    ticket_state: str | None
    created_at: datetime
    pm_name: str | None = None  # what Slack calls the PM (bot.domain.names), None when not known


@dataclass(frozen=True)
class LearningItem:
    incident_key: str
    text: str
    created_at: datetime


@dataclass(frozen=True)
class PeriodReport:
    period: Period
    previous_period: Period
    incidents: int = 0
    previous_incidents: int = 0
    by_severity: tuple[Tally, ...] = ()
    by_client: tuple[Tally, ...] = ()
    by_workflow: tuple[Tally, ...] = ()
    by_region: tuple[Tally, ...] = ()
    times: ResponseTimes = ResponseTimes()
    deadlines: Deadlines = Deadlines()
    previous_deadlines: Deadlines = Deadlines()
    themes: tuple[Theme, ...] = ()
    more_themes: int = 0
    weeks: tuple[WeekCounts, ...] = ()
    feedback: int = 0
    previous_feedback: int = 0
    feedback_by_track: tuple[Tally, ...] = ()
    feedback_by_area: tuple[Tally, ...] = ()
    feedback_items: tuple[FeedbackItem, ...] = ()
    learnings: tuple[LearningItem, ...] = ()

    @property
    def days(self) -> int:
        return self.period.days

    @property
    def is_empty(self) -> bool:
        """Nothing opened, no feedback filed and no learning recorded in the period."""
        return not self.incidents and not self.feedback and not self.learnings

    def feedback_for(self, track: FeedbackTrack) -> tuple[FeedbackItem, ...]:
        return tuple(item for item in self.feedback_items if item.track == track)


def validate_days(days: object) -> int:
    if isinstance(days, bool) or not isinstance(days, int) or not MIN_DAYS <= days <= MAX_DAYS:
        raise InvalidPeriod(days)
    return days


_PERIOD_TEXT = re.compile(r"^\s*(\d{1,4})\s*(d|days?|w|weeks?)?\s*$", re.IGNORECASE)


def parse_days(text: str | None) -> int:
    """`30d`, `30`, `2w` (14 days); empty means the default 30 days."""
    if not text or not text.strip():
        return DEFAULT_DAYS
    found = _PERIOD_TEXT.match(text)
    if found is None:
        raise InvalidPeriod(text.strip())
    number, unit = int(found.group(1)), (found.group(2) or "d").lower()
    return validate_days(number * 7 if unit.startswith("w") else number)


def last_days(days: int) -> str:
    """`the last 30 days`, `the last day`"""
    return "the last day" if days == 1 else f"the last {days} days"
