"""A request's effect happens once (real PostgreSQL): its identity is stored in the effect's own transaction,
and every change to an incident's parts moves the incident's version on, so concurrent changes never lose one."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from blocks.incident import Message
from bot.clock import ManualClock
from bot.config import load_settings
from bot.db import unit_of_work
from bot.domain.audit import record_event
from bot.domain.errors import DomainError
from bot.domain.permissions import Action, Actor
from bot.domain.workarounds import start_workaround
from bot.models import Event, Incident, SlackDelivery, Workaround, WorkaroundKind
from bot.sandbox.emulator import SlackEmulator
from bot.services.changes import apply_change
from bot.services.container import Services
from bot.services.deliveries import first_delivery
from bot.services.wiring import build_services
from bot.services.workarounds import extend_timebox
from tests.builders import open_test_incident
from tests.conftest import T0

MEMBER = Actor("UAGENT")  # any member may work on an incident

Factory = sessionmaker[Session]


@pytest.fixture
def services(database_url: str, clean_db: Engine, clock: ManualClock) -> Iterator[Services]:
    """Changes only queue their messages; Slack is asked only who the people are (their roles)."""
    slack = SlackEmulator()
    for user in ("U1", "U2"):
        slack.add_user(user, user.lower())
    api = slack.serve()
    settings = load_settings(
        slack_bot_token=slack.bot_token,
        slack_signing_secret="secret",
        slack_api_url=f"{api.url}/api/",
        database_url=database_url,
    )
    yield build_services(settings, clock=clock, engine=clean_db)
    api.stop()


def deliveries(factory: Factory) -> list[str]:
    with unit_of_work(factory) as session:
        return list(session.scalars(select(SlackDelivery.key)))


def events(factory: Factory, kind: str) -> int:
    with unit_of_work(factory) as session:
        return session.scalar(select(func.count()).select_from(Event).where(Event.kind == kind)) or 0


# --- the store -------------------------------------------------------------------------------------


def test_a_key_is_first_once(session_factory: Factory) -> None:
    with unit_of_work(session_factory) as session:
        assert first_delivery(session, "action:a", T0)
    with unit_of_work(session_factory) as session:
        assert not first_delivery(session, "action:a", T0)
        assert first_delivery(session, "action:b", T0)
    assert sorted(deliveries(session_factory)) == ["action:a", "action:b"]


def test_a_key_recorded_in_a_transaction_that_rolls_back_is_not_kept(session_factory: Factory) -> None:
    with pytest.raises(DomainError), unit_of_work(session_factory) as session:
        assert first_delivery(session, "submit:x", T0)
        raise DomainError("the effect was refused")
    with unit_of_work(session_factory) as session:
        assert first_delivery(session, "submit:x", T0), "the person can send the request again"


@pytest.mark.parametrize("outcome", ["commit", "rollback"])
def test_a_concurrent_claim_waits_for_the_first_and_follows_its_outcome(session_factory: Factory, outcome: str) -> None:
    answer = []
    with ThreadPoolExecutor(max_workers=1) as pool:
        session = session_factory()
        try:
            assert first_delivery(session, "command:t", T0)
            later = pool.submit(lambda: _claim(session_factory, "command:t"))
            with pytest.raises(TimeoutError):
                later.result(timeout=0.5)  # the second claim waits for the open transaction
            session.commit() if outcome == "commit" else session.rollback()
        finally:
            session.close()
        answer.append(later.result(timeout=10))
    assert answer == [outcome == "rollback"]


def _claim(factory: Factory, key: str) -> bool:
    with unit_of_work(factory) as session:
        return first_delivery(session, key, T0)


# --- apply_change(once=...) -------------------------------------------------------------------------


def _note_change(session: Session, incident: Incident, now: datetime) -> list[Message]:
    record_event(session=session, incident=incident, at=now, actor_id="U1", kind="note", summary="noted")
    return []


def test_the_same_request_changes_the_incident_once(services: Services, session_factory: Factory) -> None:
    incident_id = open_test_incident(session_factory, "INC")

    applied = [
        apply_change(
            services, incident_id, _note_change, purpose="note", actor=MEMBER, action=Action.WORK, once="action:1"
        )
        for _ in range(3)
    ]
    other = apply_change(
        services, incident_id, _note_change, purpose="note", actor=MEMBER, action=Action.WORK, once="action:2"
    )

    assert applied == [True, False, False] and other
    assert events(session_factory, "note") == 2


def test_a_refused_change_leaves_no_record_so_it_can_be_sent_again(
    services: Services, session_factory: Factory
) -> None:
    incident_id = open_test_incident(session_factory, "INC")
    refuse = [True]

    def change(session: Session, incident: Incident, now: datetime) -> list[Message]:
        if refuse[0]:
            raise DomainError("not now")
        return _note_change(session, incident, now)

    with pytest.raises(DomainError):
        apply_change(services, incident_id, change, purpose="note", actor=MEMBER, action=Action.WORK, once="submit:1")
    assert deliveries(session_factory) == []
    refuse[0] = False
    assert apply_change(
        services, incident_id, change, purpose="note", actor=MEMBER, action=Action.WORK, once="submit:1"
    )
    assert events(session_factory, "note") == 1


def test_changing_only_a_workaround_moves_the_incident_version_on(services: Services, session_factory: Factory) -> None:
    incident_id = open_test_incident(session_factory, "INC")
    with unit_of_work(session_factory) as session:
        incident = session.get_one(Incident, incident_id)
        workaround = start_workaround(
            session=session,
            incident=incident,
            kind=WorkaroundKind.BATCHING,
            description="Split the bundle",
            client_expectation="Part by part",
            owner_id="U1",
            time_box=timedelta(minutes=30),
            interval=None,
            now=T0,
        )
        workaround_id, version = workaround.id, incident.version
        ends = workaround.ends_at

    assert extend_timebox(services, incident_id, workaround_id, "U1", once="action:x")
    assert not extend_timebox(services, incident_id, workaround_id, "U1", once="action:x")
    assert extend_timebox(services, incident_id, workaround_id, "U2", once="action:y")

    with unit_of_work(session_factory) as session:
        assert session.get_one(Incident, incident_id).version == version + 2, "each extension is a new version"
        assert session.get_one(Workaround, workaround_id).ends_at == ends + timedelta(minutes=60)
