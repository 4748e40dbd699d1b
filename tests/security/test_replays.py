"""Attack: replaying a signed request (or a double click / double submit) repeats an action that must happen once.

Each request below is built once and sent, signed, several times — one after another and all at once — as a replay
within Slack's five-minute signature window, a retrying proxy or an impatient double click would send it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy import Engine, func, make_url, select

import bot.services.workarounds as workaround_services
from bot.clock import ManualClock
from bot.db import make_engine, unit_of_work
from bot.models import Event, Workaround
from bot.sandbox.platform import FORM_CONTENT_TYPE, PlatformResponse
from tests.e2e.conftest import AGENT, ONCALL, SUPPORT, Stack, start_stack
from tests.e2e.test_triage_workflow import open_incident, thread_texts, wait_for_reply
from tests.e2e.test_workarounds import at, start_retry_cycle
from tests.faults import DatabaseOutageProxy

COPIES = 4
MODES = ("one_after_another", "all_at_once")


def send_copies(stack: Stack, body: str, mode: str) -> list[PlatformResponse]:
    """The same body, each copy signed and sent as Slack would send it."""
    if mode == "one_after_another":
        return [stack.platform.post(body, FORM_CONTENT_TYPE) for _ in range(COPIES)]
    with ThreadPoolExecutor(max_workers=COPIES) as pool:
        return list(pool.map(lambda _: stack.platform.post(body, FORM_CONTENT_TYPE), range(COPIES)))


def events(stack: Stack, kind: str) -> list[Event]:
    with unit_of_work(stack.services.session_factory) as session:
        return list(session.scalars(select(Event).where(Event.kind == kind).order_by(Event.id)))


def ends_at(stack: Stack) -> datetime:
    with unit_of_work(stack.services.session_factory) as session:
        return session.scalars(select(Workaround.ends_at)).one()


def count_replies(stack: Stack, ts: str, fragment: str) -> int:
    return len([t for t in thread_texts(stack, ts) if fragment in t])


def settled(stack: Stack) -> None:
    """Every listener and the work it handed over has finished."""
    assert stack.services.background.drain(timeout=20)
    stack.wait_while_scheduling(lambda: True)


def timebox_ended(stack: Stack) -> tuple[str, dict[str, Any]]:
    """An incident with a retry cycle whose 30-minute time box has just ended: (root ts, the message asking)."""
    _, ts = open_incident(stack)
    start_retry_cycle(stack, ts, time_box="30")
    at(stack, 30)
    wait_for_reply(stack, ts, "Time box ended for INC-1")
    message = next(r for r in stack.emulator.replies(SUPPORT, ts) if r["text"] == "Time box ended for INC-1")
    return ts, message


@pytest.mark.parametrize("mode", MODES)
def test_a_replayed_extend_moves_the_end_once(stack: Stack, mode: str) -> None:
    ts, message = timebox_ended(stack)
    before = ends_at(stack)
    click = stack.platform.click_body(AGENT, "timebox_extend", channel_id=SUPPORT, message_ts=message["ts"])

    answers = send_copies(stack, click, mode)

    assert all(a.status == 200 and a.acked_in_time for a in answers)
    wait_for_reply(stack, ts, "extended the time box")
    settled(stack)
    assert len(events(stack, "workaround_extended")) == 1, "one extension in the audit trail"
    assert (ends_at(stack) - before).total_seconds() == 30 * 60, "the end moved once"
    assert count_replies(stack, ts, "extended the time box") == 1, "one thread reply"


@contextmanager
def reads_interleaved(monkeypatch: pytest.MonkeyPatch, parties: int) -> Iterator[None]:
    """Make concurrent extensions read the workaround together, as two clicks landing at once do.

    Each extension waits (up to a second) for the others before reading; one that cannot arrive — because the
    first holds the incident — lets the waiting one go on after the second.
    """
    barrier = threading.Barrier(parties)
    real: Callable[..., Workaround] = workaround_services.extend

    def extend_together(**kwargs: Any) -> Workaround:
        with suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=1.0)
        return real(**kwargs)

    monkeypatch.setattr(workaround_services, "extend", extend_together)
    yield


def test_two_people_answering_the_time_box_at_once_extend_it_once_and_the_other_is_told(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The question is answered once: the second answer, read alongside the first, sees it and is refused."""
    ts, message = timebox_ended(stack)
    before = ends_at(stack)
    clicks = [
        stack.platform.click_body(user, "timebox_extend", channel_id=SUPPORT, message_ts=message["ts"])
        for user in (AGENT, ONCALL)
    ]

    with reads_interleaved(monkeypatch, parties=2), ThreadPoolExecutor(max_workers=2) as pool:
        answers = list(pool.map(lambda body: stack.platform.post(body, FORM_CONTENT_TYPE), clicks))

    assert all(a.status == 200 for a in answers)
    refused = stack.emulator.wait_for(
        lambda: [e for e in stack.emulator.ephemerals(SUPPORT) if "already extended" in e["text"]]
    )
    settled(stack)
    assert len(refused) == 1 and refused[0]["thread_ts"] == ts
    assert count_replies(stack, ts, "extended the time box") == 1
    assert len(events(stack, "workaround_extended")) == 1
    assert (ends_at(stack) - before).total_seconds() == 30 * 60, "extended once, nothing lost and nothing doubled"


def log_step_modal(stack: Stack, ts: str) -> dict[str, Any]:
    stack.platform.click_button(AGENT, "incident_log_step", channel_id=SUPPORT, message_ts=ts)
    modal: dict[str, Any] = stack.emulator.wait_for(lambda: stack.emulator.current_modal(AGENT))
    assert modal["title"]["text"] == "Log a step"
    return modal


STEP = {"step_kind": "hypothesis", "step_description": "The upload proxy times out", "step_outcome": "inconclusive"}


@pytest.mark.parametrize("mode", MODES)
def test_a_replayed_log_a_step_submission_is_recorded_once(stack: Stack, mode: str) -> None:
    _, ts = open_incident(stack)
    submission = stack.platform.submission_body(log_step_modal(stack, ts)["id"], AGENT, STEP)

    answers = send_copies(stack, submission, mode)

    assert all(a.status == 200 and not a.body for a in answers), "each copy closes the form, none shows an error"
    wait_for_reply(stack, ts, "logged a hypothesis")
    settled(stack)
    assert len(events(stack, "hypothesis")) == 1
    assert count_replies(stack, ts, "logged a hypothesis") == 1


def test_a_corrected_resubmission_of_the_same_form_is_not_taken_for_a_replay(stack: Stack) -> None:
    _, ts = open_incident(stack)
    modal = log_step_modal(stack, ts)
    refused = stack.platform.submit_view(modal["id"], AGENT, {**STEP, "step_description": ""}, enforce_required=False)
    assert refused.view_errors == {"step_description": "Say what was done or supposed."}
    second_refusal = stack.platform.submit_view(
        modal["id"], AGENT, {**STEP, "step_description": ""}, enforce_required=False
    )
    assert second_refusal.view_errors, "a refused submission is refused again, not swallowed"

    accepted = stack.platform.submit_view(modal["id"], AGENT, STEP)

    assert accepted.status == 200 and not accepted.body
    wait_for_reply(stack, ts, "logged a hypothesis")
    assert len(events(stack, "hypothesis")) == 1


def correct_command(stack: Stack, text: str) -> str:
    return urlencode(stack.platform.slash_command_fields(AGENT, SUPPORT, text=text))


@pytest.mark.parametrize("mode", MODES)
def test_a_replayed_correct_command_appends_one_correction(stack: Stack, mode: str) -> None:
    _, ts = open_incident(stack)
    command = correct_command(stack, "correct INC-1 2 The file was 260 MB, not 250 MB")

    answers = send_copies(stack, command, mode)

    assert all(a.status == 200 and a.acked_in_time for a in answers)
    assert sum("Recorded: a correction to entry #2" in a.body for a in answers) == 1
    assert all("already recorded" in a.body for a in answers if "Recorded:" not in a.body)
    wait_for_reply(stack, ts, "corrected audit entry #2")
    settled(stack)
    assert len(events(stack, "correction")) == 1
    assert count_replies(stack, ts, "corrected audit entry #2") == 1


def test_a_refused_command_is_refused_again_when_replayed(stack: Stack) -> None:
    open_incident(stack)
    command = correct_command(stack, "correct INC-1 99 no such entry")
    answers = send_copies(stack, command, "one_after_another")
    assert all("has no audit entry #99" in a.body for a in answers), "nothing was recorded, so nothing is skipped"
    assert events(stack, "correction") == []


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


def test_a_submission_that_failed_in_a_database_outage_goes_through_when_sent_again(
    outage: tuple[Stack, DatabaseOutageProxy],
) -> None:
    stack, proxy = outage
    _, ts = open_incident(stack)
    submission = stack.platform.submission_body(log_step_modal(stack, ts)["id"], AGENT, STEP)
    with proxy.outage():
        failed = stack.platform.post(submission, FORM_CONTENT_TYPE)
    assert "database unavailable" in (failed.json() or {})["errors"]["step_description"]

    again = stack.platform.post(submission, FORM_CONTENT_TYPE)

    assert again.status == 200 and not again.body
    wait_for_reply(stack, ts, "logged a hypothesis")
    with unit_of_work(stack.services.session_factory) as session:
        assert session.scalar(select(func.count()).select_from(Event).where(Event.kind == "hypothesis")) == 1
