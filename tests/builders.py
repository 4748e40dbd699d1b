"""Small builders for domain tests: in-memory incidents, opened incidents, audit-trail lookups."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from bot.db import unit_of_work
from bot.domain.audit import audit_trail
from bot.domain.incidents import open_incident
from bot.models import Client, ClientTier, Event, Incident, IncidentStatus, Severity
from tests.conftest import T0
from tests.factories import a_report

# The defaults of the settings, in minutes per severity.
ACK_WINDOWS = {
    Severity.SEV1: timedelta(minutes=5),
    Severity.SEV2: timedelta(minutes=15),
    Severity.SEV3: timedelta(minutes=60),
    Severity.SEV4: timedelta(minutes=240),
}
UPDATE_CADENCE = {
    Severity.SEV1: timedelta(minutes=30),
    Severity.SEV2: timedelta(minutes=60),
    Severity.SEV3: timedelta(minutes=240),
    Severity.SEV4: timedelta(minutes=1440),
}


def an_incident(**changes: Any) -> Incident:
    """A transient incident INC-7 (never flushed): SEV2, new, opened at T0 by UREP with UONCALL paged."""
    fields: dict[str, Any] = {
        "id": 7,
        "title": "Exhibit upload fails at 99%",
        "client": Client(
            name="Hartley & Moss LLP", name_key="hartley & moss llp", tier=ClientTier.PREMIUM, created_at=T0
        ),
        "severity": Severity.SEV2,
        "status": IncidentStatus.NEW,
        "blocker": "Uploads stop at 99%.",
        "channel_id": "CSUPPORT",
        "reporter_id": "UREP",
        "oncall_id": "UONCALL",
        "opened_at": T0,
        "updated_at": T0,
    }
    fields.update(changes)
    return Incident(**fields)


def open_test_incident(
    factory: sessionmaker[Session],
    key: str,
    *,
    now: datetime = T0,
    oncall_id: str | None = "UONCALL",
    **report_changes: Any,
) -> int:
    """Open an incident from `a_report` (changed as given) in its own unit of work; returns its id."""
    with unit_of_work(factory) as session:
        opened = open_incident(
            session=session,
            report=a_report(now, **report_changes),
            reporter_id="UREP",
            channel_id="CSUPPORT",
            oncall_id=oncall_id,
            idempotency_key=key,
            now=now,
        )
        return opened.incident.id


def events_of(session: Session, incident_id: int, *kinds: str) -> list[Event]:
    """The incident's audit trail, oldest first, only the given kinds (all when none are given)."""
    trail = audit_trail(session=session, incident_id=incident_id)
    return [e for e in trail if not kinds or e.kind in kinds]
