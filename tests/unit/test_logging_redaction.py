"""Structured logs: one JSON object per line with the request's context, and never a token or a secret."""

from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from bot.config import load_settings
from bot.observability.context import (
    ContextCopyingExecutor,
    RequestScope,
    bind_incident,
    describe,
    incident_key_of,
    request_scope,
    request_type_of,
)
from bot.observability.logs import setup_logging
from bot.observability.redaction import REDACTED, redact, register_secrets, register_settings_secrets

BOT_TOKEN = "xoxb-1111111111-2222222222-AbCdEfGhIjKlMnOpQrStUvWx"
USER_TOKEN = "xoxp-3333-4444-5555-0123456789abcdef"
APP_TOKEN = "xapp-1-A0SANDBOX-6666-0123456789abcdef0123456789abcdef"
SIGNING_SECRET = "8f14e45fceea167a5a36dedd4bea2543"
JIRA_TOKEN = "ATATT3xFfGF0-unit-test-jira-token"
DB_PASSWORD = "s3cr3t-db-pw"
DATABASE_URL = f"postgresql+psycopg://triage:{DB_PASSWORD}@db.internal:5432/triage"
OPAQUE = "c29tZS1vcGFxdWUtYmVhcmVy"  # a bearer credential with no recognisable shape
SECRETS = (BOT_TOKEN, USER_TOKEN, APP_TOKEN, SIGNING_SECRET, JIRA_TOKEN, DB_PASSWORD, OPAQUE)

logger = logging.getLogger("bot.tests.redaction")


@pytest.fixture(autouse=True)
def known_secrets() -> None:
    """What `triage-bot run` registers from Settings (the signing secret and Jira token have no telltale shape)."""
    register_settings_secrets(
        load_settings(
            slack_bot_token=BOT_TOKEN,
            slack_signing_secret=SIGNING_SECRET,
            slack_app_token=APP_TOKEN,
            jira_url="https://jira.example.com",
            jira_user="bot@example.com",
            jira_api_token=JIRA_TOKEN,
            database_url=DATABASE_URL,
        )
    )


def _capture(log_format: str) -> Iterator[io.StringIO]:
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    stream = io.StringIO()
    setup_logging(level="DEBUG", log_format=log_format, stream=stream)
    try:
        yield stream
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    yield from _capture("json")


@pytest.fixture(params=["json", "text"])
def any_logs(request: pytest.FixtureRequest) -> Iterator[io.StringIO]:
    yield from _capture(request.param)


def entries(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def assert_no_secret(text: str) -> None:
    leaked = [secret for secret in SECRETS if secret in text]
    assert leaked == [], f"secrets in the log: {leaked}\n{text}"


# --- the redactor --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("token xoxb-9-8-unregistered rejected", f"token xoxb-{REDACTED} rejected"),
        ("user xoxp-12-34-abcdef and legacy xoxa-2-xyz", f"user xoxp-{REDACTED} and legacy xoxa-{REDACTED}"),
        ("refresh with xoxe.xoxp-1-abcdef0123", f"refresh with xoxe.xoxp-{REDACTED}"),
        ("app xapp-1-A0X-77-beef", f"app xapp-{REDACTED}"),
        ("Authorization: Bearer abc.def-ghi", f"Authorization: {REDACTED}"),
        ("{'Authorization': 'Basic Ym90OnB3'}", f"{{'Authorization': '{REDACTED}'}}"),
        ('{"authorization": "Token 12345"}', f'{{"authorization": "{REDACTED}"}}'),
        ("sent Bearer abc123/=+x to the hook", f"sent Bearer {REDACTED} to the hook"),
        ("postgresql://app:hunter22@db/prod", f"postgresql://app:{REDACTED}@db/prod"),
        ("host=db user=app password=hunter22 dbname=prod", f"host=db user=app password={REDACTED} dbname=prod"),
        ("SLACK_SIGNING_SECRET=abcdef0123456789", f"SLACK_SIGNING_SECRET={REDACTED}"),
        ('{"api_token": "zzz-top"}', f'{{"api_token": "{REDACTED}"}}'),
        ("client_secret: hush-hush", f"client_secret: {REDACTED}"),
    ],
)
def test_known_secret_shapes_are_blanked(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_registered_secrets_are_blanked_wherever_they_appear() -> None:
    text = f"signed with {SIGNING_SECRET}; jira says {JIRA_TOKEN}!; db {DB_PASSWORD}."
    assert redact(text) == f"signed with {REDACTED}; jira says {REDACTED}!; db {REDACTED}."


def test_ordinary_text_is_left_alone() -> None:
    text = "INC-7 acknowledged by <@U123> after 4 min; 3 tokens left in the bucket; tokenize() ok"
    assert redact(text) == text


def test_short_values_are_not_registered_as_secrets() -> None:
    register_secrets(["abc", "", None])
    assert redact("abc def") == "abc def"


# --- every logging path --------------------------------------------------------------------------


def test_secrets_never_reach_the_log_through_any_path(any_logs: io.StringIO) -> None:
    logger.info(f"plain message with {BOT_TOKEN} and {SIGNING_SECRET}")
    logger.warning("args: %s %s %s", USER_TOKEN, APP_TOKEN, JIRA_TOKEN)
    logger.info("headers %s", {"Authorization": f"Bearer {OPAQUE}", "Content-Type": "application/json"})
    logger.error("cannot connect to %s", DATABASE_URL)
    logger.info("with extras", extra={"request": {"token": BOT_TOKEN, "url": DATABASE_URL}, "note": JIRA_TOKEN})
    logging.getLogger("slack_sdk.web.base_client").debug("library logger: %r", {"token": BOT_TOKEN})
    logger.info("a stack that shows this very line: %s", SIGNING_SECRET, stack_info=True)
    try:
        try:
            raise ConnectionError(f"could not reach postgresql://app:{DB_PASSWORD}@db/x with {BOT_TOKEN}")
        except ConnectionError as inner:
            raise RuntimeError(f"Slack said invalid_auth for {USER_TOKEN} (signing secret {SIGNING_SECRET})") from inner
    except RuntimeError:
        logger.exception("Unhandled error for a %s request", "block_actions")

    output = any_logs.getvalue()
    assert_no_secret(output)
    assert output.count(REDACTED) >= 14
    assert "Traceback (most recent call last)" in output and "ConnectionError" in output, "the traceback stays"
    assert "test_secrets_never_reach_the_log_through_any_path" in output, "the stack stays"


def test_handlers_other_than_the_bots_see_redacted_records_too(json_logs: io.StringIO) -> None:
    seen: list[logging.LogRecord] = []
    spy = logging.Handler()
    spy.emit = seen.append  # type: ignore[method-assign]
    root = logging.getLogger()
    root.handlers.insert(0, spy)  # before the bot's handler, like a library's or a test runner's
    try:
        try:
            raise ValueError(BOT_TOKEN)
        except ValueError:
            logger.exception("failed with %s", JIRA_TOKEN)
    finally:
        root.removeHandler(spy)
    (record,) = seen
    assert_no_secret(record.getMessage() + (record.exc_text or ""))


def test_records_built_outside_the_logging_calls_are_redacted_by_the_handler(json_logs: io.StringIO) -> None:
    fields = {"name": "bot.replayed", "msg": "token %s", "args": (BOT_TOKEN,), "levelno": 20, "levelname": "INFO"}
    logging.getLogger().handle(logging.makeLogRecord(fields))  # as a socket or queue listener would re-log it
    (entry,) = entries(json_logs)
    assert entry["message"] == f"token {REDACTED}"


def test_a_record_whose_arguments_do_not_fit_is_logged_not_raised(json_logs: io.StringIO) -> None:
    logger.info("two placeholders %s %s", BOT_TOKEN)
    (entry,) = entries(json_logs)
    assert "did not match" in entry["message"]
    assert_no_secret(json.dumps(entry))


# --- one JSON object per line, with the context --------------------------------------------------


def test_each_record_is_one_json_object_with_the_standard_fields(json_logs: io.StringIO) -> None:
    logger.info("first\nwith a second line")
    logger.warning("second")
    first, second = entries(json_logs)
    assert set(first) == {"timestamp", "level", "logger", "message"}
    assert first["level"] == "INFO" and first["logger"] == "bot.tests.redaction"
    assert first["message"] == "first\nwith a second line"
    assert first["timestamp"].endswith("Z") and "T" in first["timestamp"]
    assert second["level"] == "WARNING"


def test_a_request_scope_adds_correlation_id_type_and_incident(json_logs: io.StringIO) -> None:
    body = {"type": "block_actions", "actions": [{"action_id": "incident_acknowledge", "value": "12"}]}
    with request_scope() as scope:
        describe(scope, body)
        logger.info("clicked")
    logger.info("after the request")
    during, after = entries(json_logs)
    assert during["correlation_id"] == scope.correlation_id and len(scope.correlation_id) == 12
    assert (during["request_type"], during["incident"]) == ("block_actions", "INC-12")
    assert "correlation_id" not in after and "incident" not in after


def test_listener_threads_log_with_their_requests_scope(json_logs: io.StringIO) -> None:
    pool = ThreadPoolExecutor(max_workers=2)
    executor = ContextCopyingExecutor(pool)
    scopes = [RequestScope(request_type="slash_command"), RequestScope(request_type="view_submission")]
    started = threading.Barrier(2)

    def listener(n: int) -> None:
        started.wait(timeout=5)  # both requests in flight at once, on different threads
        logger.info("listener %s", n)

    futures = []
    for n, scope in enumerate(scopes):
        with request_scope(scope):
            futures.append(executor.submit(listener, n))
    for future in futures:
        future.result(timeout=5)
    executor.shutdown()
    by_message = {e["message"]: e for e in entries(json_logs)}
    assert by_message["listener 0"]["correlation_id"] == scopes[0].correlation_id
    assert by_message["listener 1"]["correlation_id"] == scopes[1].correlation_id
    assert by_message["listener 1"]["request_type"] == "view_submission"


def test_work_outside_requests_logs_its_bound_incident_or_the_one_it_names(json_logs: io.StringIO) -> None:
    with bind_incident("INC-4"):
        logger.info("check-in posted")
    logger.info("Saving a change to inc-9 failed")
    bound, named = entries(json_logs)
    assert bound["incident"] == "INC-4" and "correlation_id" not in bound
    assert named["incident"] == "INC-9"


def test_text_format_keeps_the_context_on_the_first_line() -> None:
    for stream in _capture("text"):
        with request_scope(RequestScope(correlation_id="abc123def456", request_type="slash_command")):
            logger.info("shown to a human with xoxb-12-unregistered")
        line = stream.getvalue().strip()
        assert line.endswith(f"shown to a human with xoxb-{REDACTED} [corr=abc123def456 slash_command]")
        assert " INFO bot.tests.redaction: " in line


def test_the_schedulers_per_tick_lines_only_show_when_debugging() -> None:
    ticks = logging.getLogger("apscheduler.executors.default")
    for stream in _capture("json"):  # at DEBUG
        ticks.info('Running job "tick"')
        assert "Running job" in stream.getvalue()
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    stream = io.StringIO()
    setup_logging(level="INFO", log_format="json", stream=stream)
    try:
        ticks.info('Running job "tick"')
        ticks.warning("Run time of job was missed by 0:00:03")
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    assert [e["message"] for e in entries(stream)] == ["Run time of job was missed by 0:00:03"]


def test_slack_sdk_formats_its_per_call_debug_line_only_when_debugging() -> None:
    calls = logging.getLogger("slack_sdk.web.base_client")  # slack_sdk tests this logger's own level
    root, before = logging.getLogger(), calls.level
    level, handlers = root.level, list(root.handlers)
    try:
        setup_logging(level="INFO", log_format="json", stream=io.StringIO())
        assert calls.level == logging.INFO
        setup_logging(level="DEBUG", log_format="json", stream=io.StringIO())
        assert calls.level == logging.DEBUG
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        calls.setLevel(before)


def test_auto_format_is_json_unless_the_stream_is_a_terminal() -> None:
    for stream in _capture("auto"):
        logger.info("machine readable")
        assert json.loads(stream.getvalue())["message"] == "machine readable"


# --- what a Slack payload says about itself -------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "request_type", "incident"),
    [
        ({"command": "/triage", "text": "show inc-7"}, "slash_command", "INC-7"),
        ({"command": "/triage", "text": "list"}, "slash_command", None),
        ({"type": "event_callback", "event": {"type": "app_mention"}}, "event", None),
        ({"type": "view_submission", "view": {"private_metadata": '{"incident_id": 5}'}}, "view_submission", "INC-5"),
        ({"type": "view_submission", "view": {"private_metadata": '{"channel_id": "C1"}'}}, "view_submission", None),
        ({"type": "view_submission", "view": {"private_metadata": '{"incident_id": oops'}}, "view_submission", None),
        (
            {"type": "block_actions", "actions": [{"action_id": "checkin_worked", "value": "3:1"}]},
            "block_actions",
            None,
        ),
        (
            {"type": "block_actions", "actions": [{"action_id": "incident_resolve", "value": "8"}]},
            "block_actions",
            "INC-8",
        ),
        (
            {"type": "block_actions", "actions": [{"action_id": "incident_acknowledge", "value": "²"}]},
            "block_actions",
            None,
        ),
        (
            {"type": "block_actions", "actions": [{"action_id": "incident_acknowledge", "value": "9" * 40}]},
            "block_actions",
            None,
        ),
        ({"type": "block_actions", "actions": ["not an action", None]}, "block_actions", None),
        ({"type": "view_submission", "view": {"private_metadata": '{"incident_id": true}'}}, "view_submission", None),
        ({"command": "/triage", "text": "show INC-\uff11\uff12"}, "slash_command", None),
        ({"type": "something_new"}, "other", None),
    ],
)
def test_payloads_name_their_type_and_incident(body: dict[str, Any], request_type: str, incident: str | None) -> None:
    assert request_type_of(body) == request_type
    assert incident_key_of(body) == incident


def test_gunicorns_own_messages_go_through_the_bots_handler(json_logs: io.StringIO) -> None:
    from gunicorn.config import Config

    from bot.server import GunicornLogger

    config = Config()
    config.set("loglevel", "warning")
    gunicorn_log = GunicornLogger(config)
    gunicorn_log.critical("WORKER TIMEOUT (pid:%s) while using %s", 4242, DATABASE_URL)
    gunicorn_log.info("Booting worker with pid: %s", 4243)  # below gunicorn's loglevel
    (entry,) = entries(json_logs)
    assert (entry["logger"], entry["level"]) == ("gunicorn.error", "CRITICAL")
    assert (
        entry["message"]
        == f"WORKER TIMEOUT (pid:4242) while using postgresql+psycopg://triage:{REDACTED}@db.internal:5432/triage"
    )
