"""PostgreSQL going away mid-traffic: requests during the outage fail cleanly and say so, nothing is half-written,
and the connection pool recovers by itself when the database is back (tests/faults.py stands in for the restart).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, func, make_url, select

from bot.clock import ManualClock
from bot.db import make_engine, unit_of_work
from bot.models import Environment, Event, Incident, OutboxMessage, OutboxState
from bot.scheduler import tick
from tests.e2e.conftest import AGENT, ONCALL, SUPPORT, Stack, start_stack
from tests.e2e.test_open_incident_flow import filled_form, open_modal
from tests.e2e.test_triage_workflow import ephemerals_for, open_incident, root_fields
from tests.faults import DatabaseOutageProxy

UNREACHABLE = "can't reach the database"


@pytest.fixture
def outage(database_url: str, clean_db: Engine, clock: ManualClock) -> Iterator[tuple[Stack, DatabaseOutageProxy]]:
    url = make_url(database_url)
    proxy = DatabaseOutageProxy(url.host or "127.0.0.1", url.port or 5432)
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    engine = make_engine(proxied)
    stack, servers = start_stack(proxied, engine, clock)
    yield stack, proxy
    servers[0].stop()
    stack.finish_work()
    for server in servers[1:]:
        server.stop()
    engine.dispose()
    proxy.stop()


def _complete_incidents(stack: Stack) -> list[tuple[int, int, bool]]:
    """(incident id, audit events, root message sent) for every incident, each checked to be whole."""
    with unit_of_work(stack.services.session_factory) as session:
        rows = []
        for incident in session.scalars(select(Incident).order_by(Incident.id)):
            assert session.scalar(select(Environment).where(Environment.incident_id == incident.id)) is not None
            events = session.scalar(select(func.count()).select_from(Event).where(Event.incident_id == incident.id))
            root = session.scalar(
                select(OutboxMessage.state).where(OutboxMessage.idempotency_key == f"{incident.key}:root")
            )
            rows.append((incident.id, int(events or 0), root == OutboxState.SENT))
        return rows


def test_requests_during_a_database_outage_fail_cleanly_and_the_bot_recovers(
    outage: tuple[Stack, DatabaseOutageProxy],
) -> None:
    stack, proxy = outage
    _, ts = open_incident(stack)
    modal = open_modal(stack)

    with proxy.outage():
        started = time.monotonic()
        refused = stack.platform.submit_view(modal["id"], AGENT, filled_form(title="Second upload failure"))
        assert refused.status == 200 and time.monotonic() - started < 3
        assert "database unavailable" in refused.json()["errors"]["title"], "the form stays open with a message"

        stack.platform.click_button(ONCALL, "incident_acknowledge", channel_id=SUPPORT, message_ts=ts)
        assert stack.emulator.wait_for(lambda: any(UNREACHABLE in e for e in ephemerals_for(stack, ONCALL)))

        listed = stack.platform.slash_command(AGENT, SUPPORT, text="list")
        assert listed.status == 200 and UNREACHABLE in listed.body
        assert tick(stack.services).timers == 0, "the scheduler's tick logs the outage and carries on"

    accepted = stack.platform.submit_view(modal["id"], AGENT, filled_form(title="Second upload failure"))
    assert accepted.status == 200 and not accepted.body, "the same form goes through once the database is back"
    stack.platform.click_button(ONCALL, "incident_acknowledge", channel_id=SUPPORT, message_ts=ts)
    stack.wait_while_scheduling(lambda: root_fields(stack, ts)["Owner"] == f"<@{ONCALL}>")
    stack.wait_while_scheduling(
        lambda: len(_complete_incidents(stack)) == 2 and all(r[2] for r in _complete_incidents(stack))
    )
    incidents = _complete_incidents(stack)
    assert [events >= 2 for _, events, _ in incidents] == [True, True], incidents
