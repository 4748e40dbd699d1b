from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.db import unit_of_work
from bot.domain.deadlines import (
    DEADLINE_REMINDER,
    parse_offsets,
    raise_near_deadline,
    reminder_wanted,
    schedule_deadline_reminders,
)
from bot.models import Incident, IncidentStatus, Severity, Timer
from tests.conftest import T0
from tests.integration.test_open_incident import _open

OFFSETS = parse_offsets("120,60,30,10")


def test_offsets_are_minutes_before_largest_first() -> None:
    assert parse_offsets("10, 60,30,120,60") == [timedelta(minutes=m) for m in (120, 60, 30, 10)]
    for bad in ("ten", "0", "-5", "99999"):
        with pytest.raises(ValueError, match=bad.strip()):
            parse_offsets(bad)


def test_only_reminders_still_ahead_are_scheduled_once(session_factory: sessionmaker[Session]) -> None:
    incident_id = _open(session_factory, "view:1", deadline_at=T0 + timedelta(minutes=90))
    for _ in range(2):
        with unit_of_work(session_factory) as session:
            incident = session.get_one(Incident, incident_id)
            schedule_deadline_reminders(session=session, incident=incident, offsets=OFFSETS, now=T0)
    with unit_of_work(session_factory) as session:
        timers = session.scalars(select(Timer).where(Timer.kind == DEADLINE_REMINDER).order_by(Timer.due_at)).all()
        assert [(t.sequence, t.due_at) for t in timers] == [
            (60, T0 + timedelta(minutes=30)),
            (30, T0 + timedelta(minutes=60)),
            (10, T0 + timedelta(minutes=80)),
        ]


def test_a_reminder_is_wanted_only_for_an_open_incident_with_the_same_deadline(
    session_factory: sessionmaker[Session],
) -> None:
    incident_id = _open(session_factory, "view:1", deadline_at=T0 + timedelta(hours=2))
    with unit_of_work(session_factory) as session:
        incident = session.get_one(Incident, incident_id)
        schedule_deadline_reminders(session=session, incident=incident, offsets=OFFSETS, now=T0)
        timer = session.scalars(select(Timer).where(Timer.kind == DEADLINE_REMINDER)).first()
        assert timer is not None and reminder_wanted(incident, timer)
        incident.deadline_at = T0 + timedelta(hours=5)
        assert not reminder_wanted(incident, timer), "the deadline moved: this reminder is stale"
        incident.deadline_at = T0 + timedelta(hours=2)
        incident.status = IncidentStatus.RESOLVED
        assert not reminder_wanted(incident, timer)


def test_no_reminder_once_the_client_is_unblocked_the_deadline_is_met(session_factory: sessionmaker[Session]) -> None:
    incident_id = _open(session_factory, "view:1", deadline_at=T0 + timedelta(hours=2))
    with unit_of_work(session_factory) as session:
        incident = session.get_one(Incident, incident_id)
        schedule_deadline_reminders(session=session, incident=incident, offsets=OFFSETS, now=T0)
        timer = session.scalars(select(Timer).where(Timer.kind == DEADLINE_REMINDER)).first()
        assert timer is not None and reminder_wanted(incident, timer)
        incident.status, incident.mitigated_at = IncidentStatus.MITIGATED, T0 + timedelta(minutes=20)
        assert not reminder_wanted(incident, timer), "mitigated before the deadline: it was met, nothing to remind"


def test_severity_is_raised_near_the_deadline_only_when_configured(session_factory: sessionmaker[Session]) -> None:
    incident_id = _open(session_factory, "view:1", severity=Severity.SEV3, deadline_at=T0 + timedelta(minutes=45))
    with unit_of_work(session_factory) as session:
        incident = session.get_one(Incident, incident_id)
        assert not raise_near_deadline(session=session, incident=incident, within=None, now=T0)
        assert not raise_near_deadline(session=session, incident=incident, within=timedelta(minutes=30), now=T0)
        assert raise_near_deadline(session=session, incident=incident, within=timedelta(minutes=60), now=T0)
        assert incident.severity == Severity.SEV1
        assert not raise_near_deadline(session=session, incident=incident, within=timedelta(minutes=60), now=T0)
