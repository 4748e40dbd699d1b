"""The open loop of `benchmarks/ack_latency.py --rates`: commands go out on schedule whatever the answers, and a
sender held up cannot hide a slow answer (each latency counts from when its command was due)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from benchmarks import ack_latency
from benchmarks.ack_latency import Load, _send_at_rate

ANSWER_AFTER = 0.2  # seconds the stand-in app takes to answer each command


class SlowApp(ThreadingHTTPServer):
    """Answers every POST with 200 after `ANSWER_AFTER` s, noting when each arrived."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.arrivals: list[float] = []


class _Handler(BaseHTTPRequestHandler):
    server: SlowApp

    def do_POST(self) -> None:
        self.server.arrivals.append(time.perf_counter())
        self.rfile.read(int(self.headers["Content-Length"]))
        time.sleep(ANSWER_AFTER)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def slow_app() -> Iterator[SlowApp]:
    server = SlowApp()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def url_of(server: SlowApp) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}/slack/events"


def test_commands_go_out_at_the_rate_without_waiting_for_answers(slow_app: SlowApp) -> None:
    outcomes = _send_at_rate(url_of(slow_app), ["command=%2Ftriage"] * 8, rate=200)

    assert len(slow_app.arrivals) == 8
    assert max(slow_app.arrivals) - min(slow_app.arrivals) < ANSWER_AFTER, "all sent before the first answer came"
    latencies = [latency for _, latency in outcomes]
    assert all(latency is not None and latency >= ANSWER_AFTER for latency in latencies)


def test_a_sender_held_up_counts_the_wait_from_when_the_command_was_due(
    slow_app: SlowApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ack_latency, "OPEN_LOOP_THREADS", 1)  # one sender: each command waits for the last answer

    outcomes = _send_at_rate(url_of(slow_app), ["command=%2Ftriage"] * 3, rate=100)

    latencies = [latency for _, latency in outcomes]
    assert None not in latencies
    # The third was due 20 ms in but went out after two answers (0.4 s): its latency says so.
    assert latencies[2] is not None and latencies[2] >= 3 * ANSWER_AFTER - 0.05


def test_levels_are_labelled_by_concurrency_or_rate() -> None:
    assert [Load(concurrency=8).label, Load(rate=300).label, Load(rate=12.5).label] == ["8", "300/s", "12.5/s"]
