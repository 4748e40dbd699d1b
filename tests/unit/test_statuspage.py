"""The status-page client against small stdlib HTTP servers on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.request
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from wsgiref.types import StartResponse, WSGIEnvironment

import pytest

from bot.domain.status_page import StatusPageIncident
from bot.integrations.statuspage import StatusPageClient, incidents_url
from bot.sandbox.wsgi_server import RunningServer, start_background_server
from tests.clocks import Ticks

INCIDENTS = {
    "page": {"id": "abc", "name": "Upstream Storage"},
    "incidents": [
        {
            "name": "Elevated upload errors",
            "status": "investigating",
            "impact": "major",
            "created_at": "2026-11-30T08:31:12.000Z",
            "started_at": "2026-11-30T08:25:00.000Z",
            "shortlink": "https://stspg.io/abc123",
            "incident_updates": [{"body": "We are investigating."}],
        },
        {
            "name": "Scheduled database maintenance",
            "status": "completed",
            "impact": "maintenance",
            "created_at": "2026-11-29T22:00:00.000-05:00",
        },
        {"status": "resolved", "impact": "minor", "created_at": "2026-11-29T10:00:00Z"},
        {"name": "No start time", "status": "resolved"},
    ],
}


class FakeStatusPage:
    """Serves `body` with `status`, counting requests; `delay` holds each answer back, `trickle` paces its bytes."""

    def __init__(self, body: bytes, status: str = "200 OK", delay: float = 0.0, trickle: float = 0.0) -> None:
        self.body = body
        self.status = status
        self.delay = delay
        self.trickle = trickle
        self.requests: list[str] = []
        self.released = threading.Event()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        self.requests.append(environ["PATH_INFO"])
        if self.delay:
            self.released.wait(self.delay)
        start_response(self.status, [("Content-Type", "application/json"), ("Content-Length", str(len(self.body)))])
        return self._paced() if self.trickle else [self.body]

    def _paced(self) -> Iterator[bytes]:
        for offset in range(0, len(self.body), 16):
            yield self.body[offset : offset + 16]
            if self.released.wait(self.trickle):
                return


@pytest.fixture
def ticks() -> Ticks:
    return Ticks(1000.0)


@contextmanager
def _serving(app: FakeStatusPage) -> Iterator[RunningServer]:
    with start_background_server(app) as server:
        try:
            yield server
        finally:
            app.released.set()


@pytest.fixture
def status_page() -> Iterator[tuple[FakeStatusPage, RunningServer]]:
    app = FakeStatusPage(json.dumps(INCIDENTS).encode())
    with _serving(app) as server:
        yield app, server


def test_incidents_are_parsed_into_utc_with_their_links(status_page: tuple[FakeStatusPage, RunningServer]) -> None:
    app, server = status_page
    result = StatusPageClient(server.url).recent_incidents()
    assert (result.available, result.error) == (True, None)
    assert app.requests == ["/api/v2/incidents.json"]
    assert result.incidents == [
        StatusPageIncident(
            name="Elevated upload errors",
            status="investigating",
            impact="major",
            started_at=datetime(2026, 11, 30, 8, 25, tzinfo=UTC),
            link="https://stspg.io/abc123",
        ),
        StatusPageIncident(
            name="Scheduled database maintenance",
            status="completed",
            impact="maintenance",
            started_at=datetime(2026, 11, 30, 3, 0, tzinfo=UTC),
            link=None,
        ),
    ]
    assert [i.resolved for i in result.incidents] == [False, True]
    assert result.incidents[0].started_at.utcoffset() is not None


def test_a_full_incidents_json_url_is_used_as_given() -> None:
    assert incidents_url("https://status.example.com/") == "https://status.example.com/api/v2/incidents.json"
    assert incidents_url("https://example.com/custom/feed.json") == "https://example.com/custom/feed.json"


def test_a_successful_result_is_cached_until_the_clock_passes_the_cache_time(
    status_page: tuple[FakeStatusPage, RunningServer], ticks: Ticks
) -> None:
    app, server = status_page
    client = StatusPageClient(server.url, cache_seconds=60, clock=ticks)
    first = client.recent_incidents()
    ticks.now += 59.9
    second = client.recent_incidents()
    assert len(app.requests) == 1
    assert second == first
    ticks.now += 0.2
    third = client.recent_incidents()
    assert len(app.requests) == 2
    assert third.available and len(third.incidents) == 2


def test_concurrent_callers_within_the_cache_time_share_one_result(
    status_page: tuple[FakeStatusPage, RunningServer], ticks: Ticks
) -> None:
    app, server = status_page
    client = StatusPageClient(server.url, clock=ticks)
    client.recent_incidents()
    results = []
    threads = [threading.Thread(target=lambda: results.append(client.recent_incidents())) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(app.requests) == 1
    assert len(results) == 8 and all(r.available and len(r.incidents) == 2 for r in results)


def test_a_server_slower_than_the_timeout_is_reported_unavailable_within_the_timeout() -> None:
    app = FakeStatusPage(json.dumps(INCIDENTS).encode(), delay=5.0)
    with _serving(app) as server:
        started = time.monotonic()
        result = StatusPageClient(server.url, timeout=0.3).recent_incidents()
        elapsed = time.monotonic() - started
        assert not result.available and result.incidents == []
        assert result.error is not None and "timed out" in result.error
        assert elapsed < 1.0
        assert app.requests == ["/api/v2/incidents.json"]


def test_a_server_trickling_its_answer_cannot_hold_the_caller_past_the_timeout() -> None:
    app = FakeStatusPage(json.dumps(INCIDENTS).encode(), trickle=0.05)
    with _serving(app) as server:
        started = time.monotonic()
        result = StatusPageClient(server.url, timeout=0.3).recent_incidents()
        elapsed = time.monotonic() - started
    assert (result.available, result.error) == (False, "timed out after 0.3s")
    assert elapsed < 1.0


def test_a_failure_is_not_cached(ticks: Ticks) -> None:
    app = FakeStatusPage(b'{"error": "boom"}', status="503 Service Unavailable")
    with _serving(app) as server:
        client = StatusPageClient(server.url, clock=ticks)
        assert client.recent_incidents().error == "HTTP 503"
        app.status, app.body = "200 OK", json.dumps(INCIDENTS).encode()
        assert client.recent_incidents().available
        assert len(app.requests) == 2


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        ("500 Internal Server Error", b"<html>oops</html>", "HTTP 500"),
        ("200 OK", b'{"incidents": [', "malformed JSON"),
        ("200 OK", b'{"page": {}}', "malformed response: no incidents list"),
        ("200 OK", b"[]", "malformed response: no incidents list"),
    ],
)
def test_bad_answers_are_reported_unavailable_with_a_short_error(status: str, body: bytes, error: str) -> None:
    with _serving(FakeStatusPage(body, status=status)) as server:
        result = StatusPageClient(server.url).recent_incidents()
        assert (result.available, result.incidents, result.error) == (False, [], error)


def test_nothing_listening_is_reported_unavailable() -> None:
    with socket.socket() as reserved:
        reserved.bind(("127.0.0.1", 0))
        port = reserved.getsockname()[1]
        result = StatusPageClient(f"http://127.0.0.1:{port}").recent_incidents()
    assert not result.available
    assert result.error is not None and result.error.startswith("unreachable")


def test_an_unconfigured_status_page_makes_no_request(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*_: Any, **__: Any) -> None:
        raise AssertionError("an unconfigured client must not open a connection")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    result = StatusPageClient(None).recent_incidents()
    assert (result.available, result.incidents, result.error) == (False, [], "not configured")


def test_a_non_http_url_is_refused_without_reading_it() -> None:
    result = StatusPageClient("file:///etc/passwd.json").recent_incidents()
    assert (result.available, result.error) == (False, "not an http(s) URL")
