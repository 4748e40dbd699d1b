"""Clients' deadlines met and missed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    and_,
    case,
    func,
    or_,
    select,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from bot.domain.reports.model import Deadlines, Period
from bot.domain.reports.queries import opened_within, within_period
from bot.models import Incident


def deadline_outcomes(
    session: Session, period: Period, previous: Period, now: datetime, scope: ColumnElement[bool]
) -> dict[bool, Deadlines]:
    mitigated, resolved, deadline = Incident.mitigated_at, Incident.resolved_at, Incident.deadline_at
    done = case(
        (mitigated.is_(None), resolved),
        (resolved.is_(None), mitigated),
        (mitigated <= resolved, mitigated),
        else_=resolved,
    )
    has_deadline = deadline.is_not(None)
    met = and_(has_deadline, done.is_not(None), done <= deadline)
    missed = and_(has_deadline, or_(and_(done.is_not(None), done > deadline), and_(done.is_(None), deadline < now)))
    query = (
        select(
            within_period(Incident.opened_at, period),
            _count_if(met),
            _count_if(missed),
            _count_if(deadline.is_(None)),
            func.count(),
        )
        .where(opened_within(period, previous), scope)
        .group_by("in_period")
    )
    outcomes = {}
    for in_period, met_count, missed_count, without, total in session.execute(query):
        pending = int(total) - int(met_count) - int(missed_count) - int(without)
        outcomes[bool(in_period)] = Deadlines(int(met_count), int(missed_count), pending, int(without))
    return outcomes


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)
