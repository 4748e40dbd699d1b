from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import ManualClock
from bot.db import unit_of_work
from bot.domain.audit import audit_trail
from bot.domain.errors import IncidentNotFound
from bot.domain.incidents import list_open_incidents, load_incident_by_key, open_incident
from bot.models import Client, ClientTier, Incident, IncidentStatus
from tests.conftest import T0
from tests.factories import a_report


def _open(factory: sessionmaker[Session], key: str, **report_changes: object) -> int:
    with unit_of_work(factory) as session:
        opened = open_incident(
            session=session,
            report=a_report(T0, **report_changes),
            reporter_id="UREP",
            channel_id="CSUPPORT",
            oncall_id="UONCALL",
            idempotency_key=key,
            now=T0,
        )
        return opened.incident.id


def test_an_opened_incident_is_stored_with_its_environment_and_first_audit_entries(
    session_factory: sessionmaker[Session],
) -> None:
    incident_id = _open(session_factory, "view:V1")
    with unit_of_work(session_factory) as session:
        incident = session.get_one(Incident, incident_id)
        assert incident.key == f"INC-{incident_id}"
        assert (incident.status, incident.client.tier, incident.deadline_at) == (
            IncidentStatus.NEW,
            ClientTier.PREMIUM,
            T0 + timedelta(hours=2),
        )
        assert incident.environment is not None
        assert (
            incident.environment.file_size_bytes,
            incident.environment.browser,
            incident.environment.browser_version,
        ) == (250_000_000, "Chrome", "126.0.6478")
        trail = audit_trail(session=session, incident_id=incident_id)
        assert [e.kind for e in trail] == ["opened", "environment_recorded", "oncall_paged"]
        assert trail[0].actor_id == "UREP" and trail[0].details["deadline_context"] == "court filing"
        assert trail[1].details["OS"] == "Windows 11"
        assert trail[0].at.tzinfo is not None and trail[0].at == T0


def test_the_same_submission_opens_one_incident_even_when_delivered_concurrently(
    session_factory: sessionmaker[Session],
) -> None:
    with ThreadPoolExecutor(max_workers=6) as pool:
        ids = list(pool.map(lambda _: _open(session_factory, "view:SAME"), range(12)))
    assert len(set(ids)) == 1
    with unit_of_work(session_factory) as session:
        assert session.scalar(select(func.count()).select_from(Incident)) == 1
        assert session.scalar(select(func.count()).select_from(Client)) == 1


def test_clients_are_matched_case_insensitively_and_never_downgraded(session_factory: sessionmaker[Session]) -> None:
    _open(session_factory, "view:A", client_name="Acme Corp", premium=True)
    _open(session_factory, "view:B", client_name="  acme corp ", premium=False)
    with unit_of_work(session_factory) as session:
        clients = session.scalars(select(Client)).all()
        assert [(c.name, c.tier) for c in clients] == [("Acme Corp", ClientTier.PREMIUM)]


def test_open_incidents_are_listed_nearest_deadline_first(
    session_factory: sessionmaker[Session], clock: ManualClock
) -> None:
    late = _open(session_factory, "view:late", deadline_at=T0 + timedelta(hours=5))
    none = _open(session_factory, "view:none", deadline_at=None)
    soon = _open(session_factory, "view:soon", deadline_at=T0 + timedelta(minutes=30))
    done = _open(session_factory, "view:done")
    with unit_of_work(session_factory) as session:
        session.get_one(Incident, done).status = IncidentStatus.RESOLVED
    with unit_of_work(session_factory) as session:
        assert [i.id for i in list_open_incidents(session=session)] == [soon, late, none]


def test_unknown_incident_references_are_a_clear_domain_error(session_factory: sessionmaker[Session]) -> None:
    with unit_of_work(session_factory) as session, pytest.raises(IncidentNotFound) as missing:
        load_incident_by_key(session=session, reference="INC-99")
    assert str(missing.value) == "That incident isn't available here. `/triage list` shows the open ones."
    assert missing.value.reference == "INC-99", "kept for the operator's CLI, never shown in Slack"
