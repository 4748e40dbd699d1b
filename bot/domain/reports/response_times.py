"""Time to acknowledge and to resolve: mean and p90, overall and per severity."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Float,
    SQLColumnExpression,
    func,
    select,
    type_coerce,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from bot.domain.reports.constants import P90, SEVERITIES
from bot.domain.reports.model import Period, ResponseTimes, TimeStats
from bot.domain.reports.queries import is_postgresql, opened_within, within_period
from bot.models import Incident, Severity


def _seconds(
    session: Session, later: SQLColumnExpression[datetime | None], earlier: SQLColumnExpression[datetime]
) -> ColumnElement[float]:
    """`later - earlier` in seconds; NULL when `later` is."""
    if is_postgresql(session):
        return type_coerce(func.extract("epoch", later - earlier), Float)
    return type_coerce((func.julianday(later) - func.julianday(earlier)) * 86400.0, Float)


def response_times(session: Session, period: Period, previous: Period, scope: ColumnElement[bool]) -> ResponseTimes:
    if is_postgresql(session):
        return _response_times_in_sql(session, period, previous, scope)
    return _response_times_in_python(session, period, previous, scope)


def _stats(count: Any, mean: Any, p90: Any) -> TimeStats:
    """From a row's count, mean and p90 in seconds (floats, or Decimals from PostgreSQL's numeric)."""
    if not count or mean is None or p90 is None:
        return TimeStats()
    return TimeStats(int(count), _rounded(float(mean)), _rounded(float(p90)))


def _rounded(seconds: float) -> timedelta:
    return timedelta(seconds=round(seconds))


def _response_times_in_sql(
    session: Session, period: Period, previous: Period, scope: ColumnElement[bool]
) -> ResponseTimes:
    acknowledge = _seconds(session, Incident.acknowledged_at, Incident.opened_at)
    resolve = _seconds(session, Incident.resolved_at, Incident.opened_at)

    def measures(seconds: ColumnElement[float]) -> tuple[ColumnElement[Any], ...]:
        return func.count(seconds), func.avg(seconds), func.percentile_cont(P90).within_group(seconds)

    flag = within_period(Incident.opened_at, period)
    overall = (
        select(flag, *measures(acknowledge), *measures(resolve))
        .where(opened_within(period, previous), scope)
        .group_by("in_period")
    )
    stats = {row[0]: (_stats(*row[1:4]), _stats(*row[4:7])) for row in session.execute(overall)}
    per_severity = (
        select(Incident.severity, *measures(resolve))
        .where(Incident.opened_at >= period.start, Incident.opened_at < period.end, scope)
        .group_by(Incident.severity)
    )
    by_severity = {Severity(row[0]): _stats(*row[1:4]) for row in session.execute(per_severity)}
    return _times(stats, by_severity)


def _response_times_in_python(
    session: Session, period: Period, previous: Period, scope: ColumnElement[bool]
) -> ResponseTimes:
    """SQLite has no percentile_cont: fetch the durations as numbers (two floats per incident) and rank them here."""
    rows = session.execute(
        select(
            within_period(Incident.opened_at, period),
            Incident.severity,
            _seconds(session, Incident.acknowledged_at, Incident.opened_at),
            _seconds(session, Incident.resolved_at, Incident.opened_at),
        ).where(opened_within(period, previous), scope)
    )
    acknowledge: dict[bool, list[float]] = defaultdict(list)
    resolve: dict[bool, list[float]] = defaultdict(list)
    resolve_by_severity: dict[Severity, list[float]] = defaultdict(list)
    for in_period, severity, to_acknowledge, to_resolve in rows:
        if to_acknowledge is not None:
            acknowledge[bool(in_period)].append(to_acknowledge)
        if to_resolve is not None:
            resolve[bool(in_period)].append(to_resolve)
            if in_period:
                resolve_by_severity[Severity(severity)].append(to_resolve)
    stats = {flag: (_stats_of(acknowledge[flag]), _stats_of(resolve[flag])) for flag in (True, False)}
    return _times(stats, {severity: _stats_of(values) for severity, values in resolve_by_severity.items()})


def _stats_of(values: Sequence[float]) -> TimeStats:
    if not values:
        return TimeStats()
    return _stats(len(values), sum(values) / len(values), percentile_cont(values, P90))


def percentile_cont(values: Sequence[float], fraction: float) -> float:
    """PostgreSQL's `percentile_cont`: the value at `fraction` of the way through the sorted values, interpolated."""
    ordered = sorted(values)
    rank = fraction * (len(ordered) - 1)
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _times(stats: dict[bool, tuple[TimeStats, TimeStats]], by_severity: dict[Severity, TimeStats]) -> ResponseTimes:
    empty = (TimeStats(), TimeStats())
    (acknowledge, resolve), (before_acknowledge, before_resolve) = stats.get(True, empty), stats.get(False, empty)
    return ResponseTimes(
        acknowledge=acknowledge,
        resolve=resolve,
        previous_acknowledge=before_acknowledge,
        previous_resolve=before_resolve,
        resolve_by_severity=tuple((s, by_severity.get(s, TimeStats())) for s in SEVERITIES),
    )
