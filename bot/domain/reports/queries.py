"""SQL pieces every section of the report shares."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    SQLColumnExpression,
    and_,
    func,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from bot.domain.reports.constants import NOT_GIVEN
from bot.domain.reports.model import Period, Tally
from bot.models import Incident


def is_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def opened_within(period: Period, previous: Period) -> ColumnElement[bool]:
    return and_(Incident.opened_at >= previous.start, Incident.opened_at < period.end)


def within_period(column: SQLColumnExpression[datetime], period: Period) -> ColumnElement[bool]:
    """True for this period, False for the one before: the column every two-period query groups by."""
    return (column >= period.start).label("in_period")


def spelling(session: Session, column: SQLColumnExpression[Any]) -> ColumnElement[Any]:
    """One spelling of a group's text, the same on every database: the least by code point (PostgreSQL's "C"
    collation; SQLite compares that way already), not by the database's locale."""
    if is_postgresql(session):
        return func.min(column.collate("C"))
    return func.min(column)


def lowered_key(column: SQLColumnExpression[Any]) -> ColumnElement[str | None]:
    """Free text typed by people, grouped regardless of case and surrounding spaces."""
    return func.lower(func.trim(column))


def tallies(rows: Iterable[Sequence[Any]], *, order: Sequence[str] | None = None) -> tuple[Tally, ...]:
    """Rows of (key, label, in_period, count) as tallies; most this period first, or in the given label order."""
    labels: dict[object, str] = {}
    now: Counter[object] = Counter()
    before: Counter[object] = Counter()
    for key, label, in_period, count in rows:
        shown = str(label) if label is not None else NOT_GIVEN
        labels[key] = min(labels.get(key, shown), shown)
        (now if in_period else before)[key] += int(count)
    tallies = [Tally(labels[key], now[key], before[key]) for key in labels]
    if order is not None:
        by_label = {t.label: t for t in tallies}
        return tuple(by_label.get(label, Tally(label, 0, 0)) for label in order)
    return tuple(sorted(tallies, key=lambda t: (-t.count, -t.previous, t.label.casefold(), t.label)))
