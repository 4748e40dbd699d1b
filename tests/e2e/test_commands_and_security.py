"""Subcommands, request verification, events and health, over real HTTP."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlencode

from slack_bolt import BoltRequest
from slack_bolt.listener import thread_runner

from blocks.ids import CallbackId
from bot.app import build_bolt_app
from bot.clock import ManualClock
from bot.config import load_settings
from bot.models import Incident
from bot.sandbox.wsgi_server import start_background_server
from bot.services.wiring import build_services
from bot.web import WebApp
from tests.e2e.conftest import AGENT, SIGNING_SECRET, SUPPORT, Stack
from tests.e2e.test_open_incident_flow import count, filled_form, open_modal


def ask(stack: Stack, text: str) -> str:
    """Send `/triage <text>` and return the ephemeral answer the user sees (text and blocks)."""
    before = len(stack.emulator.ephemerals(SUPPORT, AGENT))
    assert stack.platform.slash_command(AGENT, SUPPORT, text=text).status == 200
    shown = stack.emulator.ephemerals(SUPPORT, AGENT)
    assert len(shown) == before + 1, "exactly one ephemeral answer"
    return json.dumps(shown[-1], ensure_ascii=False)


def test_help_lists_every_subcommand(stack: Stack) -> None:
    text = ask(stack, "help")
    for usage in ("`/triage`", "`/triage help`", "`/triage list [page]`", "`/triage show INC-7`"):
        assert usage in text
    assert stack.emulator.messages(SUPPORT) == [], "help is only shown to the person who asked"


def test_list_and_show_answer_from_the_stored_incidents(stack: Stack) -> None:
    assert "No open incidents" in ask(stack, "list")
    modal = open_modal(stack)
    stack.platform.submit_view(modal["id"], AGENT, filled_form())
    stack.wait_for_thread(4)
    listed = ask(stack, "list")
    assert (
        "*INC-1* 🔴 SEV1 · Hartley &amp; Moss LLP · Exhibit upload fails at 99% · deadline in 2 h (court filing)"
        in listed
    )
    shown = ask(stack, "show inc-1")
    assert "INC-1 · Exhibit upload fails at 99%" in shown and "Audit trail (latest 5)" in shown
    assert "That incident isn't available here. `/triage list` shows the open ones." in ask(stack, "show INC-42")


def test_an_unknown_subcommand_points_at_help(stack: Stack) -> None:
    assert "I don't know `frobnicate`. Try `/triage help`." in ask(stack, "frobnicate now")


def test_bad_signatures_and_stale_timestamps_are_refused(stack: Stack) -> None:
    forged = stack.platform.slash_command(AGENT, SUPPORT, bad_signature=True)
    stale = stack.platform.slash_command(AGENT, SUPPORT, timestamp=time.time() - 6 * 60)
    assert (forged.status, stale.status) == (401, 401)
    assert stack.emulator.calls("views.open") == []
    modal = open_modal(stack)
    forged_submit = stack.platform.submit_view(modal["id"], AGENT, filled_form(), bad_signature=True)
    assert forged_submit.status == 401
    assert count(stack, Incident) == 0


def test_mentions_are_answered_once_even_when_slack_redelivers(stack: Stack) -> None:
    said = stack.emulator.post_user_message(SUPPORT, AGENT, "<@UBOT> help")
    event = {"type": "app_mention", "user": AGENT, "text": said["text"], "channel": SUPPORT, "ts": said["ts"]}
    first = stack.platform.send_event(event)
    again = stack.platform.redeliver(first, retry_num=1)
    assert (first.status, again.status) == (200, 200)
    stack.emulator.wait_for(lambda: stack.emulator.replies(SUPPORT, said["ts"]))
    stack.settle()  # both deliveries handled: a wrongly repeated answer would be posted by now
    replies = stack.emulator.replies(SUPPORT, said["ts"])
    assert len(replies) == 1 and "/triage" in replies[0]["text"]


def _get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_healthz_reports_the_database(stack: Stack) -> None:
    assert _get(f"{stack.bot_url}/healthz") == (200, {"status": "ok", "database": "ok"})


def test_healthz_is_503_when_the_database_is_unreachable(clock: ManualClock) -> None:
    settings = load_settings(
        slack_bot_token="xoxb-x",
        slack_signing_secret=SIGNING_SECRET,
        database_url="postgresql://nobody@127.0.0.1:1/none",
        slack_api_url="http://127.0.0.1:1/api/",
    )
    services = build_services(settings, clock=clock)
    with start_background_server(WebApp(build_bolt_app(services), services)) as server:
        assert _get(f"{server.url}/healthz") == (503, {"status": "degraded", "database": "unreachable"})


class BoltsLooks:
    """Bolt's listener runner's `time`, counting the 10 ms sleeps it takes while it looks for `ack()`."""

    def __init__(self) -> None:
        self.sleeps = 0

    def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        time.sleep(seconds)

    def time(self) -> float:
        return time.time()


def test_slack_has_its_answer_without_waiting_for_bolts_next_look(stack: Stack, monkeypatch: Any) -> None:
    """A signed `/triage` (the form opens after the ack), `/triage help` (answered in the ack) and a button click
    are each answered the moment their listener acknowledges: Bolt never sleeps its 10 ms waiting for it."""
    looks = BoltsLooks()
    monkeypatch.setattr(thread_runner, "time", looks)
    modal = open_modal(stack)
    assert modal["callback_id"] == CallbackId.NEW_INCIDENT
    assert "/triage" in ask(stack, "help")
    stack.platform.submit_view(modal["id"], AGENT, filled_form())
    stack.settle()
    assert count(stack, Incident) == 1
    assert looks.sleeps == 0


def test_triage_runs_on_the_requests_thread_and_slack_has_its_answer_before_the_form_opens(
    stack: Stack, monkeypatch: Any
) -> None:
    """`/triage` needs no listener thread: it acknowledges on the request's own thread and hands the form to the
    answer threads, so Slack has its answer while `views.open` is still waiting on Slack."""
    slack_answers_views_open = threading.Event()
    handle = stack.emulator.handle_api_call

    def held_views_open(method: str, args: dict[str, Any], token: str | None, **how: Any) -> Any:
        if method == "views.open":
            assert slack_answers_views_open.wait(20), "the test never let Slack answer"
        return handle(method, args, token, **how)

    monkeypatch.setattr(stack.emulator, "handle_api_call", held_views_open)
    listener_tasks = stack.listeners.submitted
    response = stack.platform.slash_command(AGENT, SUPPORT)
    assert response.status == 200
    assert stack.emulator.current_modal(AGENT) is None  # acknowledged while views.open is held at Slack
    slack_answers_views_open.set()
    modal = stack.emulator.wait_for(lambda: stack.emulator.current_modal(AGENT))
    assert modal["callback_id"] == CallbackId.NEW_INCIDENT
    assert "/triage help" in ask(stack, "help")  # a subcommand answered in its ack, on the request's thread too
    assert stack.listeners.submitted == listener_tasks


def test_in_socket_mode_too_the_answer_leaves_when_the_listener_acknowledges(stack: Stack, monkeypatch: Any) -> None:
    """Socket Mode hands the request to Bolt with no HTTP scope around it: the middleware opens one, and the
    acknowledgement still never waits for Bolt's next look."""
    looks = BoltsLooks()
    monkeypatch.setattr(thread_runner, "time", looks)
    app = build_bolt_app(stack.services, listener_executor=stack.listeners)
    fields = stack.platform.slash_command_fields(AGENT, SUPPORT, text="help")
    # On a thread of its own, as Socket Mode's handler does: the scope it opens stays with that thread's context.
    with ThreadPoolExecutor(1) as socket_mode_thread:
        response = socket_mode_thread.submit(
            app.dispatch, BoltRequest(body=urlencode(fields), mode="socket_mode")
        ).result()
    assert response.status == 200
    assert "/triage help" in response.body
    assert looks.sleeps == 0
