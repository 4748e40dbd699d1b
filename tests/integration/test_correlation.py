"""Correlating an incident with deployments, status-page incidents and our other incidents, on real PostgreSQL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.db import unit_of_work
from bot.domain.correlation import Correlation, correlate
from bot.domain.deployments import DeploymentReport, record_deployment
from bot.domain.incidents import open_incident
from bot.domain.status_page import StatusPageIncident, StatusPageResult
from bot.models import Deployment, Incident, IncidentStatus, Severity
from tests.conftest import T0
from tests.factories import a_report

NO_STATUS_PAGE = StatusPageResult(available=False, error="not configured")


def _open_at(factory: sessionmaker[Session], at: datetime, key: str, **report_changes: Any) -> int:
    with unit_of_work(factory) as session:
        opened = open_incident(
            session=session,
            report=a_report(at, **report_changes),
            reporter_id="UREP",
            channel_id="CSUPPORT",
            oncall_id=None,
            idempotency_key=key,
            now=at,
        )
        return opened.incident.id


def _deploy(factory: sessionmaker[Session], service: str, version: str, at: datetime, **fields: Any) -> int:
    report = DeploymentReport(service=service, version=version, deployed_at=at, **fields)
    with unit_of_work(factory) as session:
        return record_deployment(session=session, report=report, now=T0 + timedelta(hours=1)).id


def _correlate(
    factory: sessionmaker[Session], incident_id: int, status_page: StatusPageResult = NO_STATUS_PAGE, **kwargs: Any
) -> Correlation:
    with unit_of_work(factory) as session:
        incident = session.get_one(Incident, incident_id)
        kwargs.setdefault("now", T0)
        return correlate(session=session, incident=incident, status_page=status_page, **kwargs)


def _page(name: str, status: str, at: datetime, impact: str = "minor", link: str | None = None) -> StatusPageIncident:
    return StatusPageIncident(name=name, status=status, impact=impact, started_at=at, link=link)


def test_deployments_inside_the_window_are_listed_closest_to_the_start_first(
    session_factory: sessionmaker[Session],
) -> None:
    incident_id = _open_at(session_factory, T0, "view:subject")
    _deploy(session_factory, "checkout-api", "2.14.1", T0 - timedelta(minutes=30), link="https://ci.example.com/r/1")
    _deploy(session_factory, "search", "7.0.0", T0 - timedelta(hours=6), environment="staging")
    _deploy(session_factory, "billing", "1.0.0", T0 - timedelta(hours=6, seconds=1))
    _deploy(session_factory, "checkout-api", "2.14.2", T0 + timedelta(minutes=5))

    correlation = _correlate(session_factory, incident_id)

    assert [(i.kind, i.title, i.link, i.at, i.before_start) for i in correlation.items] == [
        (
            "deployment",
            "checkout-api 2.14.1 deployed to production",
            "https://ci.example.com/r/1",
            T0 - timedelta(minutes=30),
            timedelta(minutes=30),
        ),
        ("deployment", "search 7.0.0 deployed to staging", None, T0 - timedelta(hours=6), timedelta(hours=6)),
    ]
    assert (correlation.status_page_available, correlation.window) == (False, timedelta(hours=6))


def test_other_incidents_opened_in_the_window_are_listed_but_not_the_incident_itself(
    session_factory: sessionmaker[Session],
) -> None:
    earlier = _open_at(
        session_factory,
        T0 - timedelta(hours=1),
        "view:earlier",
        client_name="Acme Corp",
        title="Uploads fail",
        severity=Severity.SEV2,
    )
    _open_at(session_factory, T0 - timedelta(hours=7), "view:too-early")
    subject = _open_at(session_factory, T0, "view:subject")
    _open_at(session_factory, T0 + timedelta(minutes=10), "view:later")
    with unit_of_work(session_factory) as session:
        session.get_one(Incident, earlier).status = IncidentStatus.INVESTIGATING

    correlation = _correlate(session_factory, subject, now=T0 + timedelta(minutes=20))

    assert [(i.kind, i.title, i.link, i.before_start) for i in correlation.items] == [
        ("incident", f"INC-{earlier} Acme Corp: Uploads fail (SEV2, investigating)", None, timedelta(hours=1)),
    ]


def test_status_page_incidents_in_the_window_and_unresolved_older_ones_are_listed(
    session_factory: sessionmaker[Session],
) -> None:
    incident_id = _open_at(session_factory, T0, "view:subject")
    status_page = StatusPageResult(
        available=True,
        incidents=[
            _page("Elevated upload errors", "investigating", T0 - timedelta(minutes=15), "major", "https://stspg.io/a"),
            _page("API latency", "resolved", T0 - timedelta(hours=2)),
            _page("Old outage", "postmortem", T0 - timedelta(hours=8)),
            _page("Degraded EU storage", "monitoring", T0 - timedelta(days=2)),
            _page("Database maintenance", "in_progress", T0 - timedelta(hours=9), "maintenance"),
            _page("Posted after the start", "investigating", T0 + timedelta(minutes=3)),
        ],
    )

    correlation = _correlate(session_factory, incident_id, status_page, now=T0 + timedelta(minutes=5))

    assert correlation.status_page_available
    assert [(i.title, i.link, i.before_start) for i in correlation.items] == [
        ("Statuspage: Elevated upload errors (investigating, major)", "https://stspg.io/a", timedelta(minutes=15)),
        ("Statuspage: API latency (resolved, minor)", None, timedelta(hours=2)),
        ("Statuspage: Database maintenance (in progress, maintenance)", None, timedelta(hours=9)),
        ("Statuspage: Degraded EU storage (monitoring, minor)", None, timedelta(days=2)),
    ]
    assert {i.kind for i in correlation.items} == {"status_page"}


def test_all_kinds_are_merged_newest_first_within_a_custom_window(session_factory: sessionmaker[Session]) -> None:
    other = _open_at(session_factory, T0 - timedelta(minutes=50), "view:other", client_name="Acme Corp")
    subject = _open_at(session_factory, T0, "view:subject")
    _deploy(session_factory, "uploader", "3.2.0", T0 - timedelta(minutes=40))
    _deploy(session_factory, "uploader", "3.1.9", T0 - timedelta(minutes=70))
    status_page = StatusPageResult(
        available=True, incidents=[_page("Upload errors", "identified", T0 - timedelta(minutes=5))]
    )

    correlation = _correlate(session_factory, subject, status_page, window=timedelta(hours=1))

    assert [(i.kind, i.at) for i in correlation.items] == [
        ("status_page", T0 - timedelta(minutes=5)),
        ("deployment", T0 - timedelta(minutes=40)),
        ("incident", T0 - timedelta(minutes=50)),
    ]
    assert correlation.items[2].title.startswith(f"INC-{other} Acme Corp: ")
    assert correlation.window == timedelta(hours=1)


def test_nothing_later_than_now_is_listed(session_factory: sessionmaker[Session]) -> None:
    incident_id = _open_at(session_factory, T0, "view:subject")
    _deploy(session_factory, "uploader", "3.2.0", T0 - timedelta(minutes=40))
    _deploy(session_factory, "uploader", "3.2.1", T0 - timedelta(minutes=10))

    correlation = _correlate(session_factory, incident_id, now=T0 - timedelta(minutes=20))

    assert [(i.title, i.before_start) for i in correlation.items] == [
        ("uploader 3.2.0 deployed to production", timedelta(minutes=40))
    ]


def test_an_unavailable_status_page_contributes_nothing_and_says_so(session_factory: sessionmaker[Session]) -> None:
    incident_id = _open_at(session_factory, T0, "view:subject")
    _deploy(session_factory, "uploader", "3.2.0", T0 - timedelta(minutes=40))
    failed = StatusPageResult(available=False, error="timed out after 2s")

    correlation = _correlate(session_factory, incident_id, failed)

    assert not correlation.status_page_available
    assert [i.kind for i in correlation.items] == ["deployment"]


def test_each_kind_is_capped_at_the_twenty_closest_to_the_start(session_factory: sessionmaker[Session]) -> None:
    incident_id = _open_at(session_factory, T0, "view:subject")
    for minutes in range(1, 26):
        _deploy(session_factory, "worker", f"1.0.{minutes}", T0 - timedelta(minutes=minutes))
    pages = [_page(f"Blip {n}", "resolved", T0 - timedelta(minutes=n)) for n in range(1, 26)]

    correlation = _correlate(session_factory, incident_id, StatusPageResult(available=True, incidents=pages))

    deployments = [i for i in correlation.items if i.kind == "deployment"]
    statuses = [i for i in correlation.items if i.kind == "status_page"]
    assert [i.before_start for i in deployments] == [timedelta(minutes=m) for m in range(1, 21)]
    assert [i.title for i in statuses] == [f"Statuspage: Blip {n} (resolved, minor)" for n in range(1, 21)]


def test_a_repeated_identical_deployment_is_stored_once(session_factory: sessionmaker[Session]) -> None:
    at = T0 - timedelta(minutes=30)
    first = _deploy(session_factory, "checkout-api", "2.14.1", at)
    again = _deploy(session_factory, "checkout-api", "2.14.1", at)
    other_env = _deploy(session_factory, "checkout-api", "2.14.1", at, environment="staging")
    other_time = _deploy(session_factory, "checkout-api", "2.14.1", at + timedelta(seconds=1))

    assert again == first
    assert len({first, other_env, other_time}) == 3
    with unit_of_work(session_factory) as session:
        assert session.scalar(select(func.count()).select_from(Deployment)) == 3


def test_identical_deployments_reported_concurrently_are_stored_once(session_factory: sessionmaker[Session]) -> None:
    at = T0 - timedelta(minutes=30)
    with ThreadPoolExecutor(max_workers=6) as pool:
        ids = list(pool.map(lambda _: _deploy(session_factory, "checkout-api", "2.14.1", at), range(12)))
    assert len(set(ids)) == 1
    with unit_of_work(session_factory) as session:
        assert session.scalar(select(func.count()).select_from(Deployment)) == 1


def test_a_deployment_without_a_time_is_recorded_at_the_receive_time(session_factory: sessionmaker[Session]) -> None:
    report = DeploymentReport(service="uploader", version="3.2.0")
    with unit_of_work(session_factory) as session:
        deployment = record_deployment(session=session, report=report, now=T0)
        assert (deployment.deployed_at, deployment.received_at, deployment.environment) == (T0, T0, "production")
