"""Incidents per week by severity."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, timedelta

from sqlalchemy import (
    Date,
    cast,
    func,
    select,
    type_coerce,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from bot.domain.reports.constants import SEVERITIES
from bot.domain.reports.model import Period, WeekCounts
from bot.domain.reports.queries import is_postgresql
from bot.models import Incident, Severity


def _week_start(session: Session) -> ColumnElement[date]:
    """Monday (UTC) of the ISO week an incident opened in."""
    if is_postgresql(session):
        return cast(func.date_trunc("week", func.timezone("UTC", Incident.opened_at)), Date)
    return type_coerce(func.date(Incident.opened_at, "weekday 0", "-6 days"), Date)


def weeks(session: Session, period: Period, scope: ColumnElement[bool]) -> tuple[WeekCounts, ...]:
    """Every week the period touches, empty ones included, so a chart's bars keep their place."""
    week = _week_start(session).label("week")
    query = (
        select(week, Incident.severity, func.count())
        .where(Incident.opened_at >= period.start, Incident.opened_at < period.end, scope)
        .group_by("week", Incident.severity)
    )
    counts: dict[date, Counter[Severity]] = defaultdict(Counter)
    for week_start, severity, count in session.execute(query):
        counts[week_start][Severity(severity)] += int(count)
    first = _monday(period.start.date())
    last = _monday((period.end - timedelta(microseconds=1)).date())
    weeks = []
    monday = first
    while monday <= last:
        weeks.append(WeekCounts(monday, tuple((s, counts[monday][s]) for s in SEVERITIES)))
        monday += timedelta(days=7)
    return tuple(weeks)


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())
