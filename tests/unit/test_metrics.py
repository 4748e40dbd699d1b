"""Prometheus metrics: outbound calls timed and their failures counted, scrape-time gauges, and several processes
(gunicorn workers) adding up to one view."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.web import SlackResponse
from sqlalchemy.orm import Session, sessionmaker

from bot.db import make_engine, make_session_factory
from bot.integrations.jira_tracker import JiraTracker, TrackerError
from bot.integrations.slack import SlackCallError, SlackGateway
from bot.models import Base
from bot.observability.bolt import ObservedWebClient, observed_copy
from bot.observability.metrics import CONTENT_TYPE, error_label, observe_ack, observe_timer_lag, render

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture(scope="module")
def empty_database() -> Iterator[sessionmaker[Session]]:
    engine = make_engine("sqlite://")
    Base.metadata.create_all(engine)
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture
def scrape(empty_database: sessionmaker[Session]) -> Any:
    def read() -> Samples:
        text = render(empty_database).decode()
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }

    return read


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def slack_response(client: WebClient, data: dict[str, Any], status: int = 200) -> SlackResponse:
    return SlackResponse(
        client=client,
        http_verb="POST",
        api_url="https://slack.test/api/x",
        req_args={},
        data=data,
        headers={},
        status_code=status,
    )


class ScriptedClient(WebClient):
    """A WebClient that answers from a script instead of the network."""

    def __init__(self, answers: list[dict[str, Any]]) -> None:
        super().__init__(token="xoxb-test", base_url="https://slack.test/api/")
        self.answers = answers

    def api_call(self, api_method: str, **kwargs: Any) -> SlackResponse:
        data = self.answers.pop(0)
        if not data.get("ok"):
            raise SlackApiError("failed", slack_response(self, data))
        return slack_response(self, data)


def test_slack_calls_through_the_gateway_are_timed_and_failures_counted_by_error(scrape: Any) -> None:
    before = scrape()
    gateway = SlackGateway(ScriptedClient([{"ok": True, "ts": "1.0"}, {"ok": False, "error": "not_in_channel"}]))
    gateway.call("chat.postMessage", {"channel": "C1", "text": "hi"})
    with pytest.raises(SlackCallError):
        gateway.call("chat.postMessage", {"channel": "C1", "text": "hi"})
    after = scrape()
    method = {"method": "chat.postMessage"}
    assert (
        value(after, "triage_slack_api_call_seconds_count", **method)
        - value(before, "triage_slack_api_call_seconds_count", **method)
        == 2
    )
    errors = "triage_slack_api_errors_total"
    assert (
        value(after, errors, error="not_in_channel", **method) - value(before, errors, error="not_in_channel", **method)
        == 1
    )
    assert value(after, "triage_slack_api_call_seconds_sum", **method) > value(
        before, "triage_slack_api_call_seconds_sum", **method
    )


def test_a_timed_copy_is_made_once_per_token_and_reused_by_later_requests() -> None:
    """Bolt builds a client per request; the timed copy of it is shared by every request with the same settings."""
    handlers = WebClient().retry_handlers

    def bolts_client(token: str) -> WebClient:
        return WebClient(token=token, base_url="https://slack.test/api/", retry_handlers=handlers)

    first = observed_copy(bolts_client("xoxb-one"))
    assert observed_copy(bolts_client("xoxb-one")) is first
    other = observed_copy(bolts_client("xoxb-two"))
    assert other is not first and other.token == "xoxb-two"
    longer = WebClient(token="xoxb-one", base_url="https://slack.test/api/", retry_handlers=handlers, timeout=99)
    assert observed_copy(longer).timeout == 99


def test_the_listeners_client_times_every_web_api_method(scrape: Any) -> None:
    plain = WebClient(token="xoxb-listener", base_url="https://slack.test/api/", timeout=7)
    observed = observed_copy(plain)
    assert isinstance(observed, ObservedWebClient)
    assert (observed.token, observed.base_url, observed.timeout) == ("xoxb-listener", "https://slack.test/api/", 7)
    assert observed.retry_handlers == plain.retry_handlers
    before = scrape()
    failure = SlackApiError("failed", slack_response(plain, {"ok": False, "error": "expired_trigger_id"}))
    with mock.patch.object(WebClient, "api_call", side_effect=failure), pytest.raises(SlackApiError):
        observed.views_open(trigger_id="t", view={"type": "modal"})
    after = scrape()
    labels = {"method": "views.open", "error": "expired_trigger_id"}
    assert (
        value(after, "triage_slack_api_errors_total", **labels)
        - value(before, "triage_slack_api_errors_total", **labels)
        == 1
    )


class FakeJiraClient:
    deploymentType = "Cloud"

    def enhanced_search_issues(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        raise requests.Timeout("read timed out")

    def issue(self, key: str, fields: str) -> Any:
        return mock.Mock(raw={"fields": {"status": {"name": "In Progress"}}})


def test_jira_calls_are_timed_per_operation_and_failures_counted_by_kind(scrape: Any) -> None:
    tracker = JiraTracker("https://jira.test", "bot@example.com", "jira-unit-token")
    tracker._client = FakeJiraClient()  # type: ignore[assignment]
    before = scrape()
    assert tracker.get_status("ENG-1") == "In Progress"
    with pytest.raises(TrackerError) as raised:
        tracker.find_by_label("triage-inc-1-engineering")
    assert raised.value.kind == "timeout"
    after = scrape()
    count = "triage_jira_call_seconds_count"
    assert value(after, count, operation="get_status") - value(before, count, operation="get_status") == 1
    assert value(after, count, operation="search") - value(before, count, operation="search") == 1
    errors = "triage_jira_errors_total"
    assert (
        value(after, errors, operation="search", error="timeout")
        - value(before, errors, operation="search", error="timeout")
        == 1
    )
    assert value(after, errors, operation="get_status", error="timeout") == value(
        before, errors, operation="get_status", error="timeout"
    )


@pytest.mark.parametrize(
    ("error", "label"),
    [
        (SlackCallError("ratelimited", retryable=True), "ratelimited"),
        (TrackerError("Jira failed with HTTP 503", retryable=True, status=503), "http_503"),
        (TrackerError("odd", retryable=False), "error"),
        (ConnectionResetError("peer"), "ConnectionResetError"),
    ],
)
def test_failures_get_short_bounded_labels(error: Exception, label: str) -> None:
    assert error_label(error) == label


def test_a_slack_error_without_a_json_body_is_labelled_by_status() -> None:
    client = WebClient(token="xoxb-x")
    error = SlackApiError("failed", slack_response(client, "<html>bad gateway</html>", status=502))  # type: ignore[arg-type]
    assert error_label(error) == "http_502"


def test_ack_latency_and_timer_lag_are_histograms_by_label(scrape: Any) -> None:
    before = scrape()
    observe_ack("view_submission", 0.02)
    observe_ack("view_submission", 4.0)
    observe_timer_lag("retry_checkin", 42.0)
    observe_timer_lag("retry_checkin", -1.0)  # a clock a hair behind the due time is no lag, not a negative one
    after = scrape()

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("triage_slack_ack_seconds_count", request_type="view_submission") == 2
    assert delta("triage_slack_ack_seconds_bucket", request_type="view_submission", le="3.0") == 1
    assert delta("triage_timer_dispatch_lag_seconds_sum", kind="retry_checkin") == 42.0
    assert delta("triage_timer_dispatch_lag_seconds_bucket", kind="retry_checkin", le="60.0") == 2


def test_database_gauges_are_read_at_scrape_time_with_every_label_present(scrape: Any) -> None:
    samples = scrape()
    assert value(samples, "triage_outbox_pending", target="slack") == 0
    assert ("triage_outbox_pending", (("target", "jira"),)) in samples
    assert [value(samples, "triage_open_incidents", severity=s) for s in ("SEV1", "SEV2", "SEV3", "SEV4")] == [0] * 4
    assert ("process_resident_memory_bytes", ()) in samples or sys.platform != "linux", "one process: its own metrics"


def test_a_database_that_does_not_answer_leaves_its_gauges_out_of_a_working_scrape(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    unreachable = make_session_factory(make_engine(f"sqlite:///{tmp_path}/missing/dir/bot.db"))
    observe_ack("slash_command", 0.01)
    text = render(unreachable).decode()
    assert "triage_slack_ack_seconds_count" in text
    assert "triage_outbox_pending" not in text and "triage_open_incidents" not in text
    assert "database gauges skipped" in caplog.text
    assert CONTENT_TYPE.startswith("text/plain")


MULTIPROCESS_SCRIPT = """
import json, os, sys
from bot.db import make_engine, make_session_factory
from bot.observability import metrics
from bot.server import shared_metrics_dir

metrics.observe_ack("slash_command", 0.5)  # in the master before the fork (checking the token does this): dropped
with shared_metrics_dir(2) as path:
    children = []
    for requests in (1, 2):
        pid = os.fork()
        if pid == 0:  # a worker: records, then leaves through the context manager like a gunicorn worker
            for _ in range(requests):
                metrics.observe_ack("slash_command", 0.02)
                with metrics.timed_slack_call("views.open"):
                    pass
            sys.exit(0)
        children.append(pid)
    for pid in children:
        os.waitpid(pid, 0)
    scrape = metrics.render(make_session_factory(make_engine("sqlite://"))).decode()
    seen = {"path": path, "exists_after_workers_exit": os.path.isdir(path), "scrape": scrape}
seen["exists_after_server_stops"] = os.path.isdir(path)
print(json.dumps(seen))
"""


def test_worker_processes_share_their_metrics_and_the_directory_is_removed_by_the_master_only() -> None:
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    result = subprocess.run(
        [sys.executable, "-c", MULTIPROCESS_SCRIPT], capture_output=True, text=True, timeout=60, env=env
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(seen["scrape"])
        for s in family.samples
    }
    assert value(samples, "triage_slack_ack_seconds_count", request_type="slash_command") == 3, "1 + 2, one view"
    assert value(samples, "triage_slack_api_call_seconds_count", method="views.open") == 3
    assert seen["exists_after_workers_exit"] is True, "a worker leaving does not remove the shared directory"
    assert seen["exists_after_server_stops"] is False
    assert Path(seen["path"]).name.startswith("triage-bot-metrics-")
