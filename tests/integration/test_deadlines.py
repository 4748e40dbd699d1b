from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import ManualClock
from bot.config import load_settings
from bot.db import unit_of_work
from bot.domain.deadlines import (
    DEADLINE_REMINDER,
    parse_offsets,
    raise_near_deadline,
    reminder_wanted,
    schedule_deadline_reminders,
)
from bot.models import Incident, IncidentStatus, Severity, Timer
from bot.services.timers import run_due_timers
from bot.services.wiring import build_services
from tests.builders import events_of
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


def test_severity_is_raised_at_exactly_sev1_within_minutes_before_the_deadline(
    session_factory: sessionmaker[Session],
) -> None:
    within = timedelta(minutes=60)
    incident_id = _open(session_factory, "view:1", severity=Severity.SEV3, deadline_at=T0 + timedelta(minutes=90))
    with unit_of_work(session_factory) as session:
        incident = session.get_one(Incident, incident_id)
        just_before = T0 + timedelta(minutes=30) - timedelta(microseconds=1)
        assert not raise_near_deadline(session=session, incident=incident, within=within, now=just_before)
        assert incident.severity == Severity.SEV3
        assert raise_near_deadline(session=session, incident=incident, within=within, now=T0 + timedelta(minutes=30))
        assert incident.severity == Severity.SEV1
        assert [e.summary for e in events_of(session, incident_id, "severity_changed")] == [
            "Severity SEV3 → SEV1: deadline in 60 min"
        ]


def test_the_reminder_due_at_sev1_within_minutes_raises_the_severity(
    database_url: str, session_factory: sessionmaker[Session], clock: ManualClock
) -> None:
    """SEV1_WITHIN_MINUTES=60 and a reminder an hour before: that reminder is the one that raises it."""
    settings = load_settings(
        slack_bot_token="xoxb-test",
        slack_signing_secret="secret",
        slack_api_url="http://127.0.0.1:9/api/",  # never called: timers only queue their messages
        database_url=database_url,
        sev1_within_minutes=60,
    )
    services = build_services(settings, clock=clock, engine=session_factory.kw["bind"])
    deadline = T0 + timedelta(hours=3)
    incident_id = _open(session_factory, "view:1", severity=Severity.SEV4, deadline_at=deadline)
    with unit_of_work(session_factory) as session:
        incident = session.get_one(Incident, incident_id)
        schedule_deadline_reminders(session=session, incident=incident, offsets=OFFSETS, now=T0)
    clock.set(deadline - timedelta(minutes=120))
    assert run_due_timers(services) >= 1
    assert _severity(session_factory, incident_id) == Severity.SEV4, "two hours before: not yet"
    clock.set(deadline - timedelta(minutes=60))
    assert run_due_timers(services) >= 1
    assert _severity(session_factory, incident_id) == Severity.SEV1
    with unit_of_work(session_factory) as session:
        reminders = [e.summary for e in events_of(session, incident_id, "deadline_reminder")]
    assert reminders == ["Deadline reminder: 120 min before", "Deadline reminder: 60 min before; raised to SEV1"]


def _severity(factory: sessionmaker[Session], incident_id: int) -> Severity:
    with unit_of_work(factory) as session:
        return session.get_one(Incident, incident_id).severity
