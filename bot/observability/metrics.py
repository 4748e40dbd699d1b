"""Prometheus metrics: what the bot measures, and how `/metrics` renders it.

One gunicorn worker keeps its metrics in a private registry. Several workers share them through
prometheus_client's multiprocess mode: each worker writes its samples to memory-mapped files in
`PROMETHEUS_MULTIPROC_DIR`, and whichever worker answers a scrape merges every worker's files, so each
scrape shows the whole server. The mode must be chosen before the first metric is built (`use_multiprocess_dir`,
called by the gunicorn master before it forks); metrics are therefore built lazily, on first use.

Gauges that describe the database (outbox depth, open incidents) are computed at scrape time by a cheap query.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client import values as prometheus_values
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from slack_sdk.errors import SlackApiError
from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from bot.models import Incident, IncidentStatus, OutboxMessage, OutboxState, Severity
from bot.observability.workspace_load import BUSY_WORKSPACE_QUEUE, speaking_for, workspace_class

logger = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST
OUTBOX_TARGETS = ("slack", "jira")
SCRAPE_QUERY_TIMEOUT_MS = 2000
MAX_LABEL_LENGTH = 60

# Slack gives 3 s to acknowledge: the buckets are finest where the bot should be and mark the limit.
ACK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0)
CALL_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
LAG_BUCKETS = (0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0, 3600.0)


class Metrics:
    """Every metric the bot records (the scrape-time gauges live in `DatabaseCollector`)."""

    def __init__(self, registry: CollectorRegistry | None) -> None:
        self.ack_seconds = Histogram(
            "triage_slack_ack_seconds",
            "Time from a Slack request's arrival at /slack/events to its HTTP response, by Slack request type.",
            ["request_type"],
            buckets=ACK_BUCKETS,
            registry=registry,
        )
        self.slack_call_seconds = Histogram(
            "triage_slack_api_call_seconds",
            "Duration of outbound Slack Web API calls (including the client's own retries), by method.",
            ["method"],
            buckets=CALL_BUCKETS,
            registry=registry,
        )
        self.slack_call_errors = Counter(
            "triage_slack_api_errors",
            "Outbound Slack Web API calls that failed, by method and Slack error.",
            ["method", "error"],
            registry=registry,
        )
        self.jira_call_seconds = Histogram(
            "triage_jira_call_seconds",
            "Duration of outbound Jira calls, by operation.",
            ["operation"],
            buckets=CALL_BUCKETS,
            registry=registry,
        )
        self.jira_call_errors = Counter(
            "triage_jira_errors",
            "Outbound Jira calls that failed, by operation and error.",
            ["operation", "error"],
            registry=registry,
        )
        self.slack_rate_limited = Counter(
            "triage_slack_ratelimited",
            "HTTP 429 answers from Slack (each pauses that rate budget for every replica), by method.",
            ["method"],
            registry=registry,
        )
        self.outbox_wait_seconds = Histogram(
            "triage_outbox_wait_seconds",
            "From queued to delivered, by workspace class (busy: over "
            f"{BUSY_WORKSPACE_QUEUE} Slack calls waiting when delivered) and priority (1: a new incident's root and "
            "page … 9: report charts).",
            ["workspace_class", "priority"],
            buckets=LAG_BUCKETS,
            registry=registry,
        )
        self.timer_lag_seconds = Histogram(
            "triage_timer_dispatch_lag_seconds",
            "When a due timer was handled minus when it fell due, by timer kind (retry check-ins: retry_checkin).",
            ["kind"],
            buckets=LAG_BUCKETS,
            registry=registry,
        )


@dataclass
class _State:
    metrics: Metrics | None = None
    registry: CollectorRegistry | None = None


_state = _State()
_lock = threading.Lock()


def metrics() -> Metrics:
    """This process's metrics, built on first use in the mode the environment says."""
    current = _state.metrics
    if current is not None:
        return current
    with _lock:
        if _state.metrics is None:
            _state.registry = None if multiprocess_dir() else CollectorRegistry()
            _state.metrics = Metrics(_state.registry)
        return _state.metrics


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def use_multiprocess_dir(path: str) -> None:
    """Share metrics between processes forked from now on, through files in `path`.

    prometheus_client picks its value storage when it is imported; the gunicorn master may already have imported
    it (checking the Slack token records a call), so the storage is picked again here and metrics built before
    are dropped: each worker builds its own after the fork.
    """
    os.environ[MULTIPROC_ENV] = path
    with _lock:
        prometheus_values.ValueClass = prometheus_values.get_value_class()
        _state.metrics = None
        _state.registry = None


# --- recording ---------------------------------------------------------------------------------


def observe_ack(request_type: str, seconds: float) -> None:
    metrics().ack_seconds.labels(request_type).observe(seconds)


def observe_rate_limited(method: str) -> None:
    metrics().slack_rate_limited.labels(method).inc()


def observe_delivery_wait(workspace_class: str, priority: int, seconds: float) -> None:
    metrics().outbox_wait_seconds.labels(workspace_class, str(priority)).observe(max(seconds, 0.0))


def observe_timer_lag(kind: str, seconds: float) -> None:
    metrics().timer_lag_seconds.labels(kind).observe(max(seconds, 0.0))


@contextmanager
def timed_slack_call(method: str) -> Iterator[None]:
    """Time one Slack Web API call; a failure is counted under its Slack error (`ratelimited`, `not_in_channel`)."""
    recorded = metrics()
    with _timed(recorded.slack_call_seconds, recorded.slack_call_errors, method):
        yield


@contextmanager
def timed_jira_call(operation: str) -> Iterator[None]:
    recorded = metrics()
    with _timed(recorded.jira_call_seconds, recorded.jira_call_errors, operation):
        yield


@contextmanager
def _timed(seconds: Histogram, errors: Counter, name: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    except Exception as exc:
        errors.labels(name, error_label(exc)).inc()
        raise
    finally:
        seconds.labels(name).observe(time.perf_counter() - started)


def error_label(exc: BaseException) -> str:
    """A short, bounded name for a failure: the Slack error code, the tracker's error kind, else the type."""
    if isinstance(exc, SlackApiError):
        code = exc.response.get("error") if isinstance(exc.response.data, dict) else None
        label = str(code or f"http_{exc.response.status_code}")
    else:
        named = [getattr(exc, name, None) for name in ("error", "kind")]
        label = next((v for v in named if isinstance(v, str) and v), type(exc).__name__)
    return re.sub(r"[^A-Za-z0-9_.:-]", "_", label)[:MAX_LABEL_LENGTH]


# --- scraping ----------------------------------------------------------------------------------


class DatabaseCollector(Collector):
    """Gauges read from the database at scrape time: outbox depth by target, open incidents by severity.

    Both are indexed counts; a database that cannot be read leaves them out of the scrape (and is logged),
    it never fails the scrape.
    """

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self.session_factory = session_factory

    def describe(self) -> Iterable[Metric]:
        return []

    def collect(self) -> Iterable[Metric]:
        try:
            pending, open_incidents = self._counts()
            queued = self._queued()
        except SQLAlchemyError as exc:
            logger.warning("Metrics: database gauges skipped, the database could not be read (%s)", type(exc).__name__)
            return []
        outbox = GaugeMetricFamily(
            "triage_outbox_pending", "Outbox rows waiting to be delivered, by target.", labels=["target"]
        )
        for target in sorted(set(OUTBOX_TARGETS) | set(pending)):
            outbox.add_metric([target], pending.get(target, 0))
        incidents = GaugeMetricFamily(
            "triage_open_incidents", "Incidents not yet resolved or closed, by severity.", labels=["severity"]
        )
        for severity in Severity:
            incidents.add_metric([severity.value], open_incidents.get(severity.value, 0))
        by_class = GaugeMetricFamily(
            "triage_outbox_queued",
            f"Slack calls waiting, by workspace class (busy: over {BUSY_WORKSPACE_QUEUE} waiting) and priority; "
            "limited: of those, waiting for a spent rate budget.",
            labels=["workspace_class", "priority", "limited"],
        )
        for (load, priority, limited), count in sorted(queued.items()):
            by_class.add_metric([load, str(priority), limited], count)
        return [outbox, incidents, by_class]

    def _queued(self) -> dict[tuple[str, int, str], int]:
        with self.session_factory() as session, session.begin():
            if session.get_bind().dialect.name == "postgresql":
                session.execute(text(f"SET LOCAL statement_timeout = {SCRAPE_QUERY_TIMEOUT_MS}"))
            team_column, limited_column = speaking_for(), OutboxMessage.limited_until.is_not(None)
            rows = session.execute(
                select(team_column, OutboxMessage.priority, limited_column, func.count())
                .select_from(OutboxMessage)
                .outerjoin(Incident, Incident.id == OutboxMessage.incident_id)
                .where(OutboxMessage.state == OutboxState.PENDING, OutboxMessage.target == "slack")
                .group_by(team_column, OutboxMessage.priority, limited_column)
            ).all()
        per_team: dict[str | None, int] = {}
        for team, _, _, count in rows:
            per_team[team] = per_team.get(team, 0) + int(count)
        queued: dict[tuple[str, int, str], int] = {}
        for team, priority, limited, count in rows:
            key = (
                workspace_class(per_team[team]),
                int(priority),
                str(bool(limited)).lower(),
            )
            queued[key] = queued.get(key, 0) + int(count)
        return queued

    def _counts(self) -> tuple[dict[str, int], dict[str, int]]:
        with self.session_factory() as session, session.begin():
            if session.get_bind().dialect.name == "postgresql":
                session.execute(text(f"SET LOCAL statement_timeout = {SCRAPE_QUERY_TIMEOUT_MS}"))
            pending = session.execute(
                select(OutboxMessage.target, func.count())
                .where(OutboxMessage.state == OutboxState.PENDING)
                .group_by(OutboxMessage.target)
            ).all()
            open_incidents = session.execute(
                select(Incident.severity, func.count())
                .where(Incident.status.not_in([IncidentStatus.RESOLVED, IncidentStatus.CLOSED]))
                .group_by(Incident.severity)
            ).all()
        return {str(t): int(n) for t, n in pending}, {str(s): int(n) for s, n in open_incidents}


class _Forward(Collector):
    """Another registry's samples, as one collector of the per-scrape registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def describe(self) -> Iterable[Metric]:
        return []

    def collect(self) -> Iterable[Metric]:
        return self.registry.collect()


def render(session_factory: sessionmaker[Session]) -> bytes:
    """The Prometheus text exposition of this server: its recorded metrics and the database gauges.

    In multiprocess mode the samples of every worker are merged (process-level metrics such as memory are
    per worker and so left out); with one process they include prometheus_client's process and GC metrics.
    """
    metrics()
    scrape = CollectorRegistry(auto_describe=False)
    path = multiprocess_dir()
    if path is not None:
        MultiProcessCollector(scrape, path=path)
    else:
        assert _state.registry is not None
        scrape.register(_Forward(_state.registry))
        scrape.register(_Forward(REGISTRY))
    scrape.register(DatabaseCollector(session_factory))
    return generate_latest(scrape)
