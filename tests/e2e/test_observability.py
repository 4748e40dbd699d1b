"""Observability end to end: `/metrics`, `/readyz` and the logs of real signed requests, in-process and under
`triage-bot run` with two gunicorn workers."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import psycopg
import pytest
from alembic.script import ScriptDirectory
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine

from bot.app import build_bolt_app
from bot.clock import ManualClock
from bot.config import load_settings
from bot.migrate import alembic_config, head_revision, upgrade
from bot.observability.logs import setup_logging
from bot.sandbox.emulator import SlackEmulator
from bot.sandbox.platform import SlackPlatform
from bot.sandbox.wsgi_server import start_background_server
from bot.scheduler import start_scheduler
from bot.services.wiring import build_services
from bot.web import WebApp
from tests.e2e.conftest import AGENT, SIGNING_SECRET, SUPPORT, Stack
from tests.e2e.test_run_command import BIN, _clean_env, _free_port, _wait_for_health
from tests.e2e.test_triage_workflow import open_incident
from tests.e2e.test_workarounds import at, checkins, start_retry_cycle

T = TypeVar("T")
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> Samples:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def scrape(base_url: str) -> Samples:
    with urllib.request.urlopen(f"{base_url}/metrics", timeout=5) as response:
        assert response.headers["Content-Type"].startswith("text/plain; version=")
        return parse(response.read().decode())


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def get_json(url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read())


def eventually(predicate: Callable[[], T | None], timeout: float = 15.0) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    """The bot's log handler (JSON, redacting), writing into a buffer at DEBUG, as `triage-bot run` sets it up."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    stream = io.StringIO()
    setup_logging(level="DEBUG", log_format="json", stream=stream)
    yield stream
    root.handlers[:] = handlers
    root.setLevel(level)


def log_entries(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


# --- /metrics -------------------------------------------------------------------------------------


def test_metrics_show_ack_latency_per_request_type_and_open_incidents(stack: Stack) -> None:
    before = scrape(stack.bot_url)
    assert stack.platform.slash_command(AGENT, SUPPORT, text="help").status == 200
    _, ts = open_incident(stack)  # /triage, then the modal's view_submission
    assert stack.platform.click_button(AGENT, "incident_acknowledge", channel_id=SUPPORT, message_ts=ts).ok
    after = scrape(stack.bot_url)

    def acks(request_type: str, suffix: str = "count", **labels: str) -> float:
        name = f"triage_slack_ack_seconds_{suffix}"
        return value(after, name, request_type=request_type, **labels) - value(
            before, name, request_type=request_type, **labels
        )

    assert (acks("slash_command"), acks("view_submission"), acks("block_actions")) == (2, 1, 1)
    for request_type in ("slash_command", "view_submission", "block_actions"):
        assert acks(request_type, "bucket", le="3.0") == acks(request_type), "acknowledged within Slack's 3 s"
        assert acks(request_type, "sum") > 0
    assert value(after, "triage_open_incidents", severity="SEV1") == 1
    assert value(after, "triage_open_incidents", severity="SEV2") == 0
    assert value(after, "triage_slack_api_call_seconds_count", method="views.open") > value(
        before, "triage_slack_api_call_seconds_count", method="views.open"
    ), "the listener's own client (views.open) is timed"


def test_failing_slack_calls_show_in_the_error_counter_and_the_outbox_depth(stack: Stack) -> None:
    _, ts = open_incident(stack)
    before = scrape(stack.bot_url)
    errors = "triage_slack_api_errors_total"
    # Through the outbox (SlackGateway): the root message's update after Acknowledge, rate limited twice over.
    stack.emulator.fail_next("chat.update", "ratelimited", 429, retry_after=0, times=2)
    assert stack.platform.click_button(AGENT, "incident_acknowledge", channel_id=SUPPORT, message_ts=ts).ok
    after = eventually(
        lambda: (
            (s := scrape(stack.bot_url))
            and value(s, errors, method="chat.update", error="ratelimited")
            > value(before, errors, method="chat.update", error="ratelimited")
            and s
        )
    )
    assert (
        value(after, errors, method="chat.update", error="ratelimited")
        - value(before, errors, method="chat.update", error="ratelimited")
        == 1
    )
    assert value(after, "triage_outbox_pending", target="slack") >= 1, "the update waits in the outbox"
    assert value(after, "triage_outbox_pending", target="jira") == 0
    # Through the listener's client: views.open for /triage.
    stack.emulator.fail_next("views.open", "ratelimited", 429, retry_after=0, times=2)
    assert stack.platform.slash_command(AGENT, SUPPORT).ok
    eventually(
        lambda: (
            value(scrape(stack.bot_url), errors, method="views.open", error="ratelimited")
            == value(before, errors, method="views.open", error="ratelimited") + 1
        )
    )


def test_check_in_dispatch_lag_is_observed_when_the_timer_is_handled(stack: Stack) -> None:
    _, ts = open_incident(stack)
    start_retry_cycle(stack, ts)  # every 10 min from T0
    before = scrape(stack.bot_url)
    at(stack, 10.5)  # the scheduler ticks 30 s after the first check-in fell due
    stack.wait_while_scheduling(lambda: checkins(stack, ts))
    after = scrape(stack.bot_url)
    lag = "triage_timer_dispatch_lag_seconds"
    assert value(after, f"{lag}_count", kind="retry_checkin") - value(before, f"{lag}_count", kind="retry_checkin") == 1
    assert value(after, f"{lag}_sum", kind="retry_checkin") - value(before, f"{lag}_sum", kind="retry_checkin") == 30
    assert value(after, f"{lag}_count", kind="ack_escalation") > value(before, f"{lag}_count", kind="ack_escalation")


# --- logs -----------------------------------------------------------------------------------------


def test_logs_of_a_request_carry_its_correlation_id_and_incident_and_no_secret(
    stack: Stack, json_logs: io.StringIO
) -> None:
    incident_id, ts = open_incident(stack)
    incident = f"INC-{incident_id}"
    # Deliveries for one incident coalesce: one still running from opening it would send the click's edit too,
    # logged under the opening request's correlation id. Let it finish first.
    assert stack.services.background.drain(timeout=10)
    stack.emulator.fail_next("chat.update", "ratelimited", 429, retry_after=0, times=2)
    click = stack.platform.click_button(AGENT, "incident_acknowledge", channel_id=SUPPORT, message_ts=ts)
    clicked = click.headers["x-correlation-id"]
    # A Slack answer that echoes the bot token, raised through the listener into the error handler's traceback.
    stack.emulator.fail_next("views.open", "invalid_auth", 200, extra={"detail": f"token {stack.emulator.bot_token}"})
    broke = stack.platform.click_button(AGENT, "incident_log_step", channel_id=SUPPORT, message_ts=ts).headers[
        "x-correlation-id"
    ]

    def lines_of(correlation_id: str, level: str) -> list[dict[str, Any]]:
        return [e for e in log_entries(json_logs) if e.get("correlation_id") == correlation_id and e["level"] == level]

    # The button's listener calls views.open after its ack: wait for its failure before Slack's next answer is set.
    (failed,) = eventually(lambda: lines_of(broke, "ERROR"))
    # A form Slack refuses to open after the acknowledgement: told after the response, with the request's ids.
    stack.emulator.fail_next("views.open", "expired_trigger_id", 200)
    declared = stack.platform.slash_command(AGENT, SUPPORT, text=f"declare {incident}").headers["x-correlation-id"]

    (retrying,) = eventually(lambda: lines_of(clicked, "WARNING"))
    assert retrying["logger"] == "bot.integrations.outbox" and "chat.update" in retrying["message"]
    assert (retrying["request_type"], retrying["incident"]) == ("block_actions", incident), "from the listener thread"
    assert failed["message"].startswith(f"Unhandled error (ref {broke})"), "the reference a person can quote"
    assert (failed["request_type"], failed["incident"]) == ("block_actions", incident)
    assert "SlackApiError" in failed["exception"] and "token [REDACTED]" in failed["exception"]
    (refused,) = eventually(lambda: lines_of(declared, "WARNING"))
    assert refused["message"] == "views.open failed: expired_trigger_id"
    assert (refused["request_type"], refused["incident"]) == ("slash_command", incident), "after the response"
    answered = [e for e in log_entries(json_logs) if e["logger"] == "bot.web" and e.get("correlation_id") == clicked]
    assert answered and answered[0]["message"].startswith("Slack block_actions answered 200 in ")

    everything = json_logs.getvalue()
    for secret in (stack.emulator.bot_token, SIGNING_SECRET, "hook-secret"):
        assert secret not in everything
    assert len({e["correlation_id"] for e in log_entries(json_logs) if "correlation_id" in e}) >= 4


# --- /readyz --------------------------------------------------------------------------------------


@pytest.fixture
def own_database(postgres_server_url: str) -> Iterator[tuple[str, str]]:
    """A freshly migrated database of its own (this test breaks it); (admin URL, its URL)."""
    name = f"triage_ready_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres_server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = postgres_server_url.rpartition("/")[0]
    url = f"{base.replace('postgresql://', 'postgresql+psycopg://')}/{name}"
    upgrade(url)
    yield postgres_server_url, url
    with psycopg.connect(postgres_server_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_readyz_follows_the_database_its_migrations_and_the_scheduler(
    own_database: tuple[str, str], clock: ManualClock
) -> None:
    admin_url, url = own_database
    settings = load_settings(
        slack_bot_token="xoxb-ready",
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url="http://127.0.0.1:1/api/",
        database_url=url,
        scheduler_interval_seconds=3600,
    )
    services = build_services(settings, clock=clock)
    scheduler = start_scheduler(services)
    head = head_revision()
    try:
        with start_background_server(WebApp(build_bolt_app(services), services, scheduler=scheduler)) as server:
            ready = f"{server.url}/readyz"
            assert get_json(ready) == (
                200,
                {
                    "status": "ready",
                    "database": "ok",
                    "migrations": "ok",
                    "revision": head,
                    "head": head,
                    "scheduler": "running",
                    "not_ready": [],
                },
            )
            previous = ScriptDirectory.from_config(alembic_config(url)).get_revision(head).down_revision
            _set_revision(url, str(previous))
            status, body = get_json(ready)
            assert (status, body["migrations"], body["revision"], body["not_ready"]) == (
                503,
                "not at head",
                previous,
                ["migrations"],
            )
            _set_revision(url, str(head))
            assert get_json(ready)[0] == 200

            with psycopg.connect(admin_url, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE "{url.rpartition("/")[2]}" WITH (FORCE)')
            status, body = get_json(ready)
            assert status == 503 and body["status"] == "not ready"
            assert (body["database"], body["migrations"], body["not_ready"]) == (
                "unreachable",
                "unknown",
                ["database", "migrations"],
            )
            assert get_json(f"{server.url}/healthz") == (503, {"status": "degraded", "database": "unreachable"})

            scheduler.shutdown(wait=False)
            status, body = get_json(ready)
            assert (status, body["scheduler"], body["not_ready"]) == (
                503,
                "stopped",
                ["database", "migrations", "scheduler"],
            )
    finally:
        if scheduler.running:
            scheduler.shutdown(wait=False)
        services.engine.dispose()


def _set_revision(url: str, revision: str) -> None:
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as connection:
        connection.execute("UPDATE alembic_version SET version_num = %s", (revision,))


def test_a_process_without_a_scheduler_is_not_ready(stack: Stack) -> None:
    status, body = get_json(f"{stack.bot_url}/readyz")
    assert (status, body["scheduler"], body["not_ready"]) == (503, "not started", ["scheduler"])


# --- triage-bot run with two gunicorn workers ------------------------------------------------------


def test_two_gunicorn_workers_report_the_same_totals_and_log_json(
    tmp_path: Path, database_url: str, clean_db: Engine
) -> None:
    emulator = SlackEmulator()
    emulator.add_user(AGENT, "agent")
    emulator.add_channel("support", id=SUPPORT, members=[AGENT])
    port = _free_port()
    log_path = tmp_path / "bot.log"
    with emulator.serve() as api, log_path.open("w") as log:
        env = _clean_env(
            SLACK_BOT_TOKEN=emulator.bot_token,
            SLACK_SIGNING_SECRET="run-secret-for-workers",
            SLACK_API_URL=f"{api.url}/api/",
            DATABASE_URL=database_url,
            PORT=str(port),
            WEB_CONCURRENCY="2",
            WEB_THREADS="4",
            LOG_FORMAT="json",
            LOG_LEVEL="INFO",
        )
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        process = subprocess.Popen(
            [str(BIN), "run", "--host", "127.0.0.1", "--no-migrate"], cwd=tmp_path, env=env, stderr=log
        )
        try:
            base = f"http://127.0.0.1:{port}"
            _wait_for_health(f"{base}/healthz", process)
            shared = Path(eventually(lambda: _shared_dir(log_path)))
            platform = SlackPlatform(emulator, f"{base}/slack/events", "run-secret-for-workers")
            sent = _send_until_both_workers_answered(platform, shared)
            totals = [
                value(scrape(base), "triage_slack_ack_seconds_count", request_type="slash_command") for _ in range(8)
            ]
            assert totals == [sent] * 8, "every scrape, whichever worker answers it, counts every worker's requests"
        finally:
            process.terminate()
            process.wait(timeout=20)
    assert not shared.exists(), "the shared metrics directory is removed when the server stops"
    lines = [line for line in log_path.read_text().splitlines() if not line.startswith("triage-bot:")]
    entries = [json.loads(line) for line in lines]  # every log line is one JSON object
    answered = [e for e in entries if e["message"].startswith("Slack slash_command answered 200")]
    assert len({e["correlation_id"] for e in answered}) == sent
    assert emulator.bot_token not in log_path.read_text()


def _shared_dir(log_path: Path) -> str | None:
    for line in log_path.read_text().splitlines():
        if "are shared through" in line:
            return str(json.loads(line)["message"].rsplit(" ", 1)[1])
    return None


def _send_until_both_workers_answered(platform: SlackPlatform, shared: Path) -> int:
    """Signed `/triage help` commands, eight at a time, until both workers have recorded some; how many were sent."""
    sent = 0
    with ThreadPoolExecutor(max_workers=8) as pool:
        for _ in range(40):
            answers = list(pool.map(lambda _: platform.slash_command(AGENT, SUPPORT, text="help"), range(8)))
            assert all(answer.ok for answer in answers)
            sent += len(answers)
            if len({path.stem.rsplit("_", 1)[1] for path in shared.glob("histogram_*.db")}) == 2:
                return sent
    raise AssertionError("one worker answered every request; the test could not show the two adding up")
