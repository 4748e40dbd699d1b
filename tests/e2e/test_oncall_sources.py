"""On-call from PagerDuty and Opsgenie: a new incident pages who the service names (matched by e-mail), the last
known on-call when the service is down, the fallback before it ever answered — and opening never waits on it.
The real Bolt app over signed HTTP, the strict emulator, a fake PagerDuty/Opsgenie over real HTTP."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from bot.clock import ManualClock
from bot.sandbox.fake_oncall import FakeOnCallServices, OnCallPerson
from bot.sandbox.wsgi_server import RunningServer, start_background_server
from bot.scheduler import tick
from tests.e2e.conftest import AGENT, ONCALL, SUPPORT, Stack, start_stack
from tests.e2e.test_open_incident_flow import THREAD_AT_OPEN, filled_form

PRIMARY, SECONDARY = "UPDPRIMARY", "UPDSECOND"
PD_TOKEN, OG_KEY = "pd-secret-token", "og-secret-key"


@pytest.fixture
def oncall_services() -> Iterator[tuple[FakeOnCallServices, RunningServer]]:
    fake = FakeOnCallServices(pagerduty_token=PD_TOKEN, opsgenie_key=OG_KEY)
    fake.set_policy(
        "PPLATFORM",
        [OnCallPerson("pri@example.com", "Pat Primary", 1), OnCallPerson("sec@example.com", "Sol Second", 2)],
    )
    fake.set_schedule("Platform Schedule", [OnCallPerson("sec@example.com", "Sol Second")])
    server = start_background_server(fake)
    yield fake, server
    server.stop()


def _stack(
    database_url: str, engine: Engine, clock: ManualClock, url: str, source: str
) -> tuple[Stack, list[RunningServer]]:
    running, servers = start_stack(
        database_url,
        engine,
        clock,
        oncall_source=source,
        pagerduty_api_token=PD_TOKEN,
        pagerduty_api_url=url,
        opsgenie_api_key=OG_KEY,
        opsgenie_api_url=url,
    )
    running.emulator.add_user(PRIMARY, "pat", real_name="Pat Primary", email="pri@example.com")
    running.emulator.add_user(SECONDARY, "sol", real_name="Sol Second", email="sec@example.com")
    return running, servers


@pytest.fixture
def pd_stack(
    database_url: str, clean_db: Engine, clock: ManualClock, oncall_services: tuple[FakeOnCallServices, RunningServer]
) -> Iterator[Stack]:
    running, servers = _stack(database_url, clean_db, clock, oncall_services[1].url, "pagerduty:PPLATFORM")
    yield running
    servers[0].stop()
    running.finish_work()
    for server in servers[1:]:
        server.stop()


def open_incident(stack: Stack, title: str) -> tuple[float, list[dict[str, Any]]]:
    """Open an incident through /triage and the form; (seconds the submit took, the incident's thread)."""
    before = len(stack.root_messages())
    assert stack.platform.slash_command(AGENT, SUPPORT).status == 200
    modal = stack.emulator.wait_for(lambda: stack.emulator.current_modal(AGENT))
    started = time.monotonic()
    assert stack.platform.submit_view(modal["id"], AGENT, filled_form(title=title)).status == 200
    took = time.monotonic() - started
    root = stack.emulator.wait_for(
        lambda: stack.root_messages()[before] if len(stack.root_messages()) > before else None
    )
    return took, stack.wait_while_scheduling(lambda: _thread(stack, root["ts"]))


def _thread(stack: Stack, root_ts: str) -> list[dict[str, Any]] | None:
    replies = stack.emulator.replies(SUPPORT, root_ts)
    return replies if len(replies) >= THREAD_AT_OPEN else None


def page_of(thread: list[dict[str, Any]]) -> dict[str, Any]:
    return next(m for m in thread if m["text"].startswith("📟"))


def refreshed(stack: Stack) -> None:
    """The scheduler's tick asks for a read of the source after a minute; the read runs after it (background)."""
    tick(stack.services)
    stack.services.background.drain()


def test_a_new_incident_pages_who_pagerduty_has_on_call(
    pd_stack: Stack, oncall_services: tuple[FakeOnCallServices, RunningServer]
) -> None:
    fake, _ = oncall_services
    refreshed(pd_stack)
    _, thread = open_incident(pd_stack, "Upload fails")
    page = page_of(thread)
    assert page["text"].startswith(f"📟 <@{PRIMARY}> you are on call"), "level 1 of the escalation policy, by e-mail"
    assert "did not answer" not in json.dumps(page["blocks"])
    seen = fake.requests[-1]
    assert seen.path == "/oncalls" and "escalation_policy_ids%5B%5D=PPLATFORM" in seen.query
    assert seen.authorization == f"Token token={PD_TOKEN}"
    assert {call.args.get("email") for call in pd_stack.emulator.calls("users.lookupByEmail")} >= {"pri@example.com"}


def test_pagerduty_down_pages_the_last_known_on_call_and_the_thread_says_so(
    pd_stack: Stack, oncall_services: tuple[FakeOnCallServices, RunningServer], clock: ManualClock
) -> None:
    fake, _ = oncall_services
    refreshed(pd_stack)
    fake.down = True
    clock.advance(timedelta(minutes=2))
    refreshed(pd_stack)
    _, thread = open_incident(pd_stack, "Upload fails again")
    page = page_of(thread)
    assert page["text"].startswith(f"📟 <@{PRIMARY}> you are on call"), "the last known on-call"
    note = json.dumps(page["blocks"], ensure_ascii=False)
    assert "PagerDuty did not answer (PagerDuty answered HTTP 503)" in note and "this is who it named at" in note


def test_before_pagerduty_ever_answered_the_fallback_is_paged_and_opening_never_waits(
    pd_stack: Stack, oncall_services: tuple[FakeOnCallServices, RunningServer]
) -> None:
    fake, _ = oncall_services
    fake.delay = 1.5  # slow, within the 2 s the bot gives it
    took, thread = open_incident(pd_stack, "Upload fails, PagerDuty slow")
    assert took < 1.0, f"the form closed after {took:.2f} s: opening waited on PagerDuty"
    page = page_of(thread)
    assert page["text"].startswith(f"📟 <@{ONCALL}> you are on call"), "ONCALL_SLACK_ID until PagerDuty answers"
    assert "PagerDuty has not been read yet; paging the fallback on-call" in json.dumps(page["blocks"])
    pd_stack.services.background.drain()  # the read asked for at the open finishes in the background
    _, thread = open_incident(pd_stack, "Second incident")
    assert page_of(thread)["text"].startswith(f"📟 <@{PRIMARY}> you are on call")


def test_triage_oncall_shows_the_source_and_who_it_names(
    pd_stack: Stack, oncall_services: tuple[FakeOnCallServices, RunningServer]
) -> None:
    refreshed(pd_stack)
    pd_stack.platform.slash_command(AGENT, SUPPORT, text="oncall")
    shown = pd_stack.emulator.wait_for(
        lambda: next((e for e in _ephemeral_texts(pd_stack) if "On-call source" in e), None)
    )
    assert "PagerDuty escalation policy PPLATFORM" in shown
    assert f"on call now <@{PRIMARY}> (next: <@{SECONDARY}>)" in shown


def test_an_opsgenie_schedule_pages_its_on_call(
    database_url: str,
    clean_db: Engine,
    clock: ManualClock,
    oncall_services: tuple[FakeOnCallServices, RunningServer],
) -> None:
    fake, server = oncall_services
    running, servers = _stack(database_url, clean_db, clock, server.url, "opsgenie:Platform Schedule")
    try:
        refreshed(running)
        _, thread = open_incident(running, "Upload fails")
        assert page_of(thread)["text"].startswith(f"📟 <@{SECONDARY}> you are on call")
        seen = fake.requests[-1]
        assert seen.path == "/v2/schedules/Platform Schedule/on-calls" and seen.authorization == f"GenieKey {OG_KEY}"
    finally:
        servers[0].stop()
        running.finish_work()
        for other in servers[1:]:
            other.stop()


def _ephemeral_texts(stack: Stack) -> list[str]:
    return [json.dumps(e.get("blocks"), ensure_ascii=False) for e in stack.emulator.ephemerals(user=AGENT)]
