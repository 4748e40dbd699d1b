"""Building the whole report from its sections."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from bot.domain.reports.counts import incident_counts
from bot.domain.reports.deadlines import deadline_outcomes
from bot.domain.reports.feedback import feedback_counts, feedback_items, learnings
from bot.domain.reports.model import Deadlines, Period, PeriodReport, validate_days
from bot.domain.reports.response_times import response_times
from bot.domain.reports.themes import recurring_themes
from bot.domain.reports.weeks import weeks
from bot.domain.workspaces import in_workspace


def build_report(session: Session, *, days: int, now: datetime, workspace: str | None = None) -> PeriodReport:
    """Incidents opened in [now - days, now), feedback and learnings recorded then, against the period before.

    With `workspace`, only that Slack workspace's incidents (and their feedback and learnings) count.
    """
    days = validate_days(days)
    period = Period(now - timedelta(days=days), now)
    previous = Period(period.start - timedelta(days=days), period.start)
    scope = in_workspace(workspace)
    counts = incident_counts(session, period, previous, scope)
    feedback = feedback_counts(session, period, previous, scope)
    themes, all_themes = recurring_themes(session, period, scope)
    deadlines = deadline_outcomes(session, period, previous, now, scope)
    return PeriodReport(
        period=period,
        previous_period=previous,
        incidents=sum(t.count for t in counts["severity"]),
        previous_incidents=sum(t.previous for t in counts["severity"]),
        by_severity=counts["severity"],
        by_client=counts["client"],
        by_workflow=counts["workflow"],
        by_region=counts["region"],
        times=response_times(session, period, previous, scope),
        deadlines=deadlines.get(True, Deadlines()),
        previous_deadlines=deadlines.get(False, Deadlines()),
        themes=tuple(themes),
        more_themes=all_themes - len(themes),
        weeks=weeks(session, period, scope),
        feedback=sum(t.count for t in feedback["track"]),
        previous_feedback=sum(t.previous for t in feedback["track"]),
        feedback_by_track=feedback["track"],
        feedback_by_area=feedback["area"],
        feedback_items=feedback_items(session, period, scope),
        learnings=learnings(session, period, scope),
    )
