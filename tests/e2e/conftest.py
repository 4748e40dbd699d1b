"""End-to-end: the real Bolt app over HTTP, its Web API pointed at the emulator, requests signed as Slack signs them."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ParamSpec, TypeVar

import pytest
from sqlalchemy import Engine

from bot.app import build_bolt_app
from bot.clock import ManualClock
from bot.config import load_settings
from bot.db import unit_of_work
from bot.models import Incident, IncidentStatus
from bot.sandbox.emulator import SlackEmulator
from bot.sandbox.emulator.ratelimits import RateLimits
from bot.sandbox.fake_jira import FakeJira
from bot.sandbox.platform import SlackPlatform
from bot.sandbox.wsgi_server import RunningServer, start_background_server
from bot.scheduler import tick
from bot.services.changes import retry_when_stale
from bot.services.container import Services
from bot.services.wiring import build_services
from bot.web import WebApp

SIGNING_SECRET = "e2e-signing-secret"
JIRA_USER, JIRA_TOKEN = "bot@example.com", "jira-token"
AGENT, ONCALL = "UAGENT", "UONCALL"
SUPPORT = "CSUPPORT"
SETTLE_SECONDS = 20.0  # generous, like the emulator's waits: a settled stack returns at once

P = ParamSpec("P")
T = TypeVar("T")


class ListenerThreads(ThreadPoolExecutor):
    """The threads Bolt runs listeners on, with a way to wait for every listener started so far to finish."""

    def __init__(self, max_workers: int) -> None:
        super().__init__(max_workers=max_workers, thread_name_prefix="e2e-listener")
        self._lock = threading.Lock()
        self._running: set[Future[Any]] = set()
        self.submitted = 0  # listeners (and lazy functions) handed to these threads so far

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        future = super().submit(fn, *args, **kwargs)
        with self._lock:
            self.submitted += 1
            self._running.add(future)
        future.add_done_callback(self._forget)
        return future

    def drain(self, timeout: float) -> bool:
        """Wait for the listeners submitted so far (and any they start); False if `timeout` s passed first."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                running = set(self._running)
            left = deadline - time.monotonic()
            if not running or left <= 0:
                return not running
            wait(running, timeout=left)

    def _forget(self, future: Future[Any]) -> None:
        with self._lock:
            self._running.discard(future)


@dataclass
class Stack:
    emulator: SlackEmulator
    platform: SlackPlatform
    services: Services
    clock: ManualClock
    bot_url: str
    listeners: ListenerThreads

    def finish_work(self) -> None:
        """Let every listener and everything they handed over after acknowledging finish (before the next test)."""
        self.listeners.shutdown(wait=True)
        self.services.background.drain()

    def resolve_behind_the_bot(self, incident_id: int) -> None:
        """Mark an incident resolved straight in the database, as another replica would, once this one is idle."""
        assert self.services.background.drain(timeout=10), "work handed over after acknowledging did not finish"

        def resolve() -> None:
            with unit_of_work(self.services.session_factory) as session:
                session.get_one(Incident, incident_id).status = IncidentStatus.RESOLVED

        retry_when_stale(resolve)

    def settle(self, timeout: float = SETTLE_SECONDS) -> None:
        """Wait until the bot has nothing left to do for the requests sent so far: every listener has returned, the
        work handed over after acknowledging has finished, and a scheduler tick (the clock not moved) finds no
        message to send and no timer to run. Whatever they would post, a wrongly repeated one too, is posted by then.
        """
        deadline = time.monotonic() + timeout

        def left() -> float:
            return max(deadline - time.monotonic(), 0.0)

        while True:
            drained = self.listeners.drain(left()) and self.services.background.drain(timeout=left())
            assert drained, f"the bot was still busy after {timeout} s"
            report = tick(self.services)
            if not report.timers and not report.delivered.busy:
                return
            assert left() > 0, f"the scheduler still found work after {timeout} s: {report}"

    def root_messages(self) -> list[dict[str, Any]]:
        return self.emulator.messages(SUPPORT)

    def wait_while_scheduling(self, predicate: Callable[[], Any]) -> Any:
        """Wait for `predicate` while the scheduler keeps ticking (without moving the clock), as in production."""
        last_tick = [0.0]

        def check() -> Any:
            found = predicate()
            if not found and time.monotonic() - last_tick[0] > 0.2:
                last_tick[0] = time.monotonic()
                tick(self.services)
            return found

        return self.emulator.wait_for(check)

    def wait_for_thread(self, count: int) -> list[dict[str, Any]]:
        """The first root message's replies, once there are `count` of them."""

        def thread() -> list[dict[str, Any]] | None:
            roots = self.root_messages()
            replies = self.emulator.replies(SUPPORT, roots[0]["ts"]) if roots else []
            return replies if len(replies) >= count else None

        result: list[dict[str, Any]] = self.wait_while_scheduling(thread)
        return result


def start_jira(clock: ManualClock | None = None) -> tuple[FakeJira, RunningServer]:
    """A fake Jira Cloud; with `clock`, its search lag (when switched on) runs on the tests' clock."""
    if clock is None:
        jira = FakeJira(user=JIRA_USER, token=JIRA_TOKEN)
    else:
        jira = FakeJira(user=JIRA_USER, token=JIRA_TOKEN, clock=lambda: clock.now().timestamp())
    return jira, start_background_server(jira)


def slack_time(clock: ManualClock) -> Callable[[], float]:
    """Slack's time for its rate limits: real time passes, and so does every advance of the bot's clock.

    The bot waits out a 429 on its own clock (the outbox's backoff), so a test that posts a storm advances it.
    """
    started = time.monotonic()
    return lambda: clock.now().timestamp() + (time.monotonic() - started)


IN_FLIGHT_CALLS = 2


def start_stack(
    database_url: str, engine: Engine, clock: ManualClock, **settings: Any
) -> tuple[Stack, list[RunningServer]]:
    emulator = SlackEmulator(rate_limits=RateLimits(clock=slack_time(clock)))  # Slack's limits, as every Slack has
    emulator.wait_timeout = 20.0  # generous: passing tests never wait for it, a busy CI machine might
    emulator.add_user(AGENT, "agent", real_name="Sam Support")
    emulator.add_user(ONCALL, "oncall", real_name="Olu Oncall")
    emulator.add_channel("support", id=SUPPORT, members=[AGENT, ONCALL, emulator.bot_user_id])
    api = emulator.serve()
    config = load_settings(
        slack_bot_token=emulator.bot_token,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=f"{api.url}/api/",
        database_url=database_url,
        oncall_slack_id=ONCALL,
        deploy_hook_secret="hook-secret",
        # Paced by the burst the emulator grants, less a call in flight for each of the two dispatchers (the
        # scheduler's and `settle`'s): a token taken just before a test moves the clock reaches Slack after the jump,
        # when Slack's allowance has refilled to its cap and counts that call again. (The production default, 10, is
        # half of what the emulator grants.)
        **{"slack_post_burst": RateLimits().post_burst - IN_FLIGHT_CALLS, **settings},
    )
    services = build_services(config, clock=clock, engine=engine)
    slack_now = slack_time(clock)  # the bot paces its calls on Slack's time, as the emulator limits them
    services.outbox.pace_clock = lambda: datetime.fromtimestamp(slack_now(), UTC)
    listeners = ListenerThreads(max_workers=16)
    bot = start_background_server(WebApp(build_bolt_app(services, listener_executor=listeners), services))
    platform = SlackPlatform(emulator, f"{bot.url}/slack/events", SIGNING_SECRET)
    return Stack(emulator, platform, services, clock, bot.url, listeners), [bot, api]


@pytest.fixture
def stack(database_url: str, clean_db: Engine, clock: ManualClock) -> Iterator[Stack]:
    running, servers = start_stack(database_url, clean_db, clock)
    yield running
    servers[0].stop()
    # Work the bot does after acknowledging must finish before the next test reuses the database.
    running.finish_work()
    for server in servers[1:]:
        server.stop()
