"""Incidents by severity, client, workflow and region, against the previous period."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Select,
    SQLColumnExpression,
    and_,
    func,
    select,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement, True_

from bot.domain.reports.constants import SEVERITIES
from bot.domain.reports.model import Period, Tally
from bot.domain.reports.queries import lowered_key, opened_within, spelling, tallies, within_period
from bot.models import Client, Incident


def of_incidents_in(scope: ColumnElement[bool], incident_id: SQLColumnExpression[int]) -> ColumnElement[bool]:
    """Rows (feedback, learnings) of an incident within `scope` (no subquery when the scope is every incident)."""
    if isinstance(scope, True_):
        return scope
    return incident_id.in_(select(Incident.id).where(scope))


def incident_counts(
    session: Session, period: Period, previous: Period, scope: ColumnElement[bool]
) -> dict[str, tuple[Tally, ...]]:
    flag = within_period(Incident.opened_at, period)
    within = and_(opened_within(period, previous), scope)
    by_client = (
        select(Client.id, Client.name, flag, func.count())
        .join(Client, Client.id == Incident.client_id)
        .where(within)
        .group_by(Client.id, Client.name, "in_period")
    )
    severity = [s.value for s in SEVERITIES]
    return {
        "severity": tallies(session.execute(by_value(Incident.severity, flag, within)), order=severity),
        "client": tallies(session.execute(by_client)),
        "workflow": tallies(session.execute(by_text(session, Incident.workflow, flag, within))),
        "region": tallies(session.execute(by_text(session, Incident.region, flag, within))),
    }


def by_value(
    column: SQLColumnExpression[Any], flag: ColumnElement[bool], where: ColumnElement[bool]
) -> Select[Any, Any, bool, int]:
    """(value, value as its label, in_period, count)"""
    return select(column, column, flag, func.count()).where(where).group_by(column, "in_period")


def by_text(
    session: Session, column: SQLColumnExpression[Any], flag: ColumnElement[bool], where: ColumnElement[bool]
) -> Select[Any, Any, bool, int]:
    """(lower-cased text, one spelling of it, in_period, count)"""
    key = lowered_key(column).label("key")
    return select(key, spelling(session, column), flag, func.count()).where(where).group_by("key", "in_period")
