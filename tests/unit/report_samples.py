"""Period reports built in memory, for the chart and Slack-message tests (no database)."""

from __future__ import annotations

from datetime import date, timedelta

from bot.domain.reports import (
    SEVERITIES,
    Deadlines,
    FeedbackItem,
    LearningItem,
    Period,
    PeriodReport,
    ResponseTimes,
    Tally,
    Theme,
    TimeStats,
    WeekCounts,
)
from bot.models import FeedbackTrack, Severity
from tests.conftest import T0

PERIOD = Period(T0 - timedelta(days=30), T0)
BEFORE = Period(T0 - timedelta(days=60), T0 - timedelta(days=30))
EVIL = "<!channel> & <@U123|boss> <https://evil.example|click>"


def empty_report(days: int = 30) -> PeriodReport:
    return PeriodReport(
        period=Period(T0 - timedelta(days=days), T0), previous_period=Period(T0 - timedelta(days=2 * days), T0)
    )


def _weeks() -> tuple[WeekCounts, ...]:
    first = date(2026, 10, 26)
    return tuple(
        WeekCounts(first + timedelta(weeks=n), tuple((s, (n + i) % 4) for i, s in enumerate(SEVERITIES)))
        for n in range(6)
    )


def _feedback(
    number: int, track: FeedbackTrack, *, filed: bool = True, text: str = "Needs large uploads"
) -> FeedbackItem:
    return FeedbackItem(
        incident_key=f"INC-{number}",
        track=track,
        area="Uploads" if number % 2 else EVIL,
        use_case=f"{text} #{number}",
        pm_user_id="UPM",
        ticket_key=f"PROD-{number}" if filed else None,
        ticket_url=f"https://jira.example.com/browse/PROD-{number}" if filed else None,
        ticket_state="filed" if filed else "failed",
        created_at=T0 - timedelta(days=1, minutes=number),
    )


def busy_report(
    *, themes: int = 3, feedback_per_track: int = 2, learnings: int = 2, long_text: int = 0
) -> PeriodReport:
    """A report with everything in it; `long_text` pads typed texts to test Slack's limits."""
    padding = " and more" * (long_text // 9)
    resolve = TimeStats(40, timedelta(hours=7), timedelta(hours=20))
    return PeriodReport(
        period=PERIOD,
        previous_period=BEFORE,
        incidents=60,
        previous_incidents=48,
        by_severity=(Tally("SEV1", 6, 4), Tally("SEV2", 20, 14), Tally("SEV3", 24, 20), Tally("SEV4", 10, 10)),
        by_client=tuple(Tally(f"{EVIL} client {n}{padding}", 30 - n, n) for n in range(25)),
        by_workflow=(Tally("document upload", 30, 20), Tally("not given", 30, 28)),
        by_region=(Tally("eu-west", 40, 30), Tally("us-east", 20, 18)),
        times=ResponseTimes(
            acknowledge=TimeStats(55, timedelta(minutes=12), timedelta(minutes=40)),
            resolve=resolve,
            previous_acknowledge=TimeStats(45, timedelta(minutes=15), timedelta(minutes=50)),
            previous_resolve=TimeStats(30, timedelta(hours=9), timedelta(hours=30)),
            resolve_by_severity=(
                (Severity.SEV1, TimeStats(6, timedelta(hours=2), timedelta(hours=4))),
                (Severity.SEV2, TimeStats(15, timedelta(hours=5), timedelta(hours=12))),
                (Severity.SEV3, TimeStats()),
                (Severity.SEV4, TimeStats(19, timedelta(hours=10), timedelta(hours=30))),
            ),
        ),
        deadlines=Deadlines(met=30, missed=10, pending=5, without=15),
        previous_deadlines=Deadlines(met=20, missed=15, pending=0, without=13),
        themes=tuple(
            Theme(
                workflow="document upload" if n % 2 else None,
                blocker=f"{EVIL} upload stops at 99% ({n}){padding}",
                count=60 - n % 50,
                keys=tuple(f"INC-{k}" for k in range(1, 51)),
            )
            for n in range(themes)
        ),
        more_themes=7 if themes > 100 else 0,
        weeks=_weeks(),
        feedback=3 * feedback_per_track,
        previous_feedback=4,
        feedback_by_track=(
            Tally("Stability", feedback_per_track, 2),
            Tally("Messaging", feedback_per_track, 1),
            Tally("Monitoring", feedback_per_track, 1),
        ),
        feedback_by_area=(Tally("Uploads", 3, 2), Tally(EVIL, 3, 2)),
        feedback_items=tuple(
            _feedback(n, track, filed=n % 3 != 0, text=f"{EVIL}{padding}")
            for track in FeedbackTrack
            for n in range(1, feedback_per_track + 1)
        ),
        learnings=tuple(
            LearningItem(f"INC-{n}", f"Learning {n}: {EVIL}{padding}", T0 - timedelta(hours=n))
            for n in range(learnings)
        ),
    )


def feedback_only_report() -> PeriodReport:
    """Nothing opened in the period, but feedback filed from older incidents."""
    return PeriodReport(
        period=PERIOD,
        previous_period=BEFORE,
        previous_incidents=3,
        feedback=1,
        feedback_by_track=(Tally("Stability", 1, 0), Tally("Messaging", 0, 0), Tally("Monitoring", 0, 0)),
        feedback_by_area=(Tally("Uploads", 1, 0),),
        feedback_items=(_feedback(1, FeedbackTrack.STABILITY),),
    )
