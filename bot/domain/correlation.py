"""What else happened around the time an incident started: deployments, status-page incidents, our other incidents."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.domain.status_page import NOT_CONFIGURED, StatusPageIncident, StatusPageResult
from bot.domain.workspaces import same_workspace
from bot.models import Deployment, Incident

MAX_PER_KIND = 20
DEFAULT_WINDOW = timedelta(hours=6)

CorrelationKind = Literal["deployment", "status_page", "incident"]


@dataclass(frozen=True)
class CorrelationItem:
    """One thing that happened before the start; `before_start` is how long before (never negative)."""

    kind: CorrelationKind
    title: str
    link: str | None
    at: datetime
    before_start: timedelta


@dataclass(frozen=True)
class Correlation:
    items: list[CorrelationItem]
    status_page_available: bool
    window: timedelta
    status_page_configured: bool = True


def correlate(
    *,
    session: Session,
    incident: Incident,
    status_page: StatusPageResult,
    window: timedelta = DEFAULT_WINDOW,
    now: datetime,
) -> Correlation:
    """Everything in `[opened_at - window, opened_at]`, closest to the start first, at most 20 of each kind.

    Status-page incidents that are still unresolved are kept however early they started. Nothing later
    than `now` is listed, should the incident's start lie in the caller's future.
    """
    start = incident.opened_at
    since, until = start - window, min(start, now)
    items = [
        *_deployment_items(session, since, until, start),
        *_status_page_items(status_page.incidents, since, until, start),
        *_incident_items(session, incident, since, until),
    ]
    items.sort(key=lambda item: (item.at, item.kind, item.title), reverse=True)
    return Correlation(
        items=items,
        status_page_available=status_page.available,
        window=window,
        status_page_configured=status_page.error != NOT_CONFIGURED,
    )


def _deployment_items(session: Session, since: datetime, until: datetime, start: datetime) -> list[CorrelationItem]:
    deployments = session.scalars(
        select(Deployment)
        .where(Deployment.deployed_at.between(since, until))
        .order_by(Deployment.deployed_at.desc(), Deployment.id.desc())
        .limit(MAX_PER_KIND)
    )
    return [
        CorrelationItem(
            kind="deployment",
            title=f"{d.service} {d.version} deployed to {d.environment}",
            link=d.link,
            at=d.deployed_at,
            before_start=start - d.deployed_at,
        )
        for d in deployments
    ]


def _status_page_items(
    incidents: list[StatusPageIncident], since: datetime, until: datetime, start: datetime
) -> list[CorrelationItem]:
    relevant = [i for i in incidents if i.started_at <= until and (i.started_at >= since or not i.resolved)]
    relevant.sort(key=lambda i: i.started_at, reverse=True)
    return [
        CorrelationItem(
            kind="status_page",
            title=f"Statuspage: {i.name} ({_words(i.status)}, {_words(i.impact)})",
            link=i.link,
            at=i.started_at,
            before_start=start - i.started_at,
        )
        for i in relevant[:MAX_PER_KIND]
    ]


def _incident_items(session: Session, incident: Incident, since: datetime, until: datetime) -> list[CorrelationItem]:
    start = incident.opened_at
    others = session.scalars(
        select(Incident)
        .where(Incident.opened_at.between(since, until), Incident.id != incident.id, same_workspace(incident))
        .order_by(Incident.opened_at.desc(), Incident.id.desc())
        .limit(MAX_PER_KIND)
    ).unique()
    return [
        CorrelationItem(
            kind="incident",
            title=f"{o.key} {o.client.name}: {o.title} ({o.severity.value}, {o.status.value})",
            link=None,
            at=o.opened_at,
            before_start=start - o.opened_at,
        )
        for o in others
    ]


def _words(value: str) -> str:
    return value.replace("_", " ")
