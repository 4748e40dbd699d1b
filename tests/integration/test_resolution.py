"""Resolving on real PostgreSQL: the record and its audit trail, refusing a second resolution, append-only events."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from bot.db import unit_of_work
from bot.domain.resolution import AlreadyResolved, FollowUpItem, ResolutionReport, follow_ups_of, resolve_incident
from bot.models import Event, Incident, IncidentStatus, Learning
from tests.builders import events_of, open_test_incident
from tests.conftest import T0

REPORT = ResolutionReport(
    root_cause="Proxy timeout on bundles over 200 MB",
    resolution="Timeout raised; bundle uploaded",
    follow_ups=(FollowUpItem("Size check before upload", "UONCALL", date(2026, 12, 15), wants_ticket=True),),
    learnings=("Ask for the bundle size first",),
)


def _resolve(factory: sessionmaker[Session], incident_id: int, report: ResolutionReport = REPORT) -> None:
    with unit_of_work(factory) as session:
        incident = session.get_one(Incident, incident_id)
        resolve_incident(
            session=session, incident=incident, report=report, actor_id="UAGENT", now=T0 + timedelta(hours=1)
        )


def test_resolving_stores_the_record_and_audits_each_part(session_factory: sessionmaker[Session]) -> None:
    incident_id = open_test_incident(session_factory, "view:1")
    _resolve(session_factory, incident_id)
    with unit_of_work(session_factory) as session:
        incident = session.get_one(Incident, incident_id)
        assert (incident.status, incident.resolved_at) == (IncidentStatus.RESOLVED, T0 + timedelta(hours=1))
        assert (incident.root_cause, incident.resolution) == (REPORT.root_cause, REPORT.resolution)
        follow_up = follow_ups_of(session=session, incident_id=incident_id)[0]
        assert (follow_up.description, follow_up.owner_id, follow_up.due_on, follow_up.wants_ticket) == (
            "Size check before upload",
            "UONCALL",
            date(2026, 12, 15),
            True,
        )
        assert session.scalars(select(Learning.text)).all() == ["Ask for the bundle size first"]
        kinds = [
            e.kind for e in events_of(session, incident_id, "status_changed", "resolved", "follow_up_added", "learning")
        ]
        assert kinds == ["status_changed", "resolved", "follow_up_added", "learning"]


def test_resolving_a_resolved_incident_changes_nothing_and_says_so(session_factory: sessionmaker[Session]) -> None:
    incident_id = open_test_incident(session_factory, "view:1")
    _resolve(session_factory, incident_id)
    with pytest.raises(AlreadyResolved, match="is already resolved: nothing changed"):
        _resolve(session_factory, incident_id, ResolutionReport(root_cause="other", resolution="other"))
    with unit_of_work(session_factory) as session:
        assert session.get_one(Incident, incident_id).root_cause == REPORT.root_cause
        assert len(follow_ups_of(session=session, incident_id=incident_id)) == 1


def test_the_audit_trail_cannot_be_edited_or_deleted_in_the_database(session_factory: sessionmaker[Session]) -> None:
    incident_id = open_test_incident(session_factory, "view:1")
    with unit_of_work(session_factory) as session:
        event_id = session.scalars(select(Event.id).where(Event.incident_id == incident_id)).first()
    for statement in ("UPDATE events SET summary = 'rewritten' WHERE id = :id", "DELETE FROM events WHERE id = :id"):
        refused = pytest.raises(DBAPIError, match="append-only: record a correction that refers to event")
        with refused, unit_of_work(session_factory) as session:
            session.execute(text(statement), {"id": event_id})
