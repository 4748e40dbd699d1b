"""Kept-alive Web API connections over real HTTP: reuse, stale and idle connections, errors, redirects, shutdown."""

from __future__ import annotations

import os
import socket
import struct
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError

from bot.integrations.slack import build_web_client
from bot.integrations.slack_connections import SHARED_POOL, ConnectionPool, KeepAliveWebClient
from bot.sandbox.emulator import SlackEmulator
from bot.sandbox.wsgi_server import RunningServer, start_background_server
from tests.clocks import Ticks


@pytest.fixture
def emulator() -> Iterator[tuple[SlackEmulator, RunningServer]]:
    emulator = SlackEmulator()
    server = emulator.serve()
    yield emulator, server
    server.stop()


def client_on(pool: ConnectionPool, emulator: SlackEmulator, **kwargs: Any) -> KeepAliveWebClient:
    client = KeepAliveWebClient(token=emulator.bot_token, base_url=f"{emulator.base_url}/api/", **kwargs)
    client.pool = pool
    return client


def test_calls_share_one_connection_and_their_answers_stay_apart(
    emulator: tuple[SlackEmulator, RunningServer],
) -> None:
    slack, _ = emulator
    pool = ConnectionPool()
    client = client_on(pool, slack)
    channel = slack.add_channel("ops", members=[slack.bot_user_id])["id"]
    for n in range(5):
        assert client.chat_postMessage(channel=channel, text=f"update {n}")["message"]["text"] == f"update {n}"
        assert client.auth_test()["user_id"] == slack.bot_user_id
    assert pool.opened == 1
    assert [m["text"] for m in slack.messages(channel)] == [f"update {n}" for n in range(5)]  # each sent once


def test_an_error_answer_raises_as_slack_sdk_does_and_keeps_the_connection(
    emulator: tuple[SlackEmulator, RunningServer],
) -> None:
    slack, _ = emulator
    pool = ConnectionPool()
    client = client_on(pool, slack)
    with pytest.raises(SlackApiError) as refused:
        client.chat_postMessage(channel="CNOPE", text="x")
    assert refused.value.response["error"] == "channel_not_found"
    slack.fail_next("auth.test", error="internal_error", status=500)
    with pytest.raises(SlackApiError) as failed:
        client.auth_test()  # no retry handler here: the 500 surfaces with its status
    assert failed.value.response.status_code == 500
    assert client.auth_test()["ok"] and pool.opened == 1


def test_a_429_is_retried_by_slack_sdks_handler_after_its_retry_after(
    emulator: tuple[SlackEmulator, RunningServer],
) -> None:
    slack, _ = emulator
    client = build_web_client(token=slack.bot_token, base_url=f"{slack.base_url}/api/")
    slack.fail_next("auth.test", status=429, retry_after=0)
    assert client.auth_test()["ok"]
    assert [call.method for call in slack.calls() if call.method == "auth.test"] == ["auth.test", "auth.test"]


def test_a_connection_idle_too_long_is_closed_and_a_new_one_opened(
    emulator: tuple[SlackEmulator, RunningServer],
) -> None:
    slack, _ = emulator
    clock = Ticks(1000.0)
    pool = ConnectionPool(idle_seconds=20, clock=clock)
    client = client_on(pool, slack)
    client.auth_test()
    clock.now += 19
    client.auth_test()
    assert pool.opened == 1
    clock.now += 21
    client.auth_test()
    assert pool.opened == 2 and pool.idle_count() == 1


def test_a_connection_the_server_closed_is_not_reused(emulator: tuple[SlackEmulator, RunningServer]) -> None:
    slack, _ = emulator
    pool = ConnectionPool()
    client = client_on(pool, slack)
    client.auth_test()
    idle = pool._idle[next(iter(pool._idle))][0].connection
    assert idle.sock is not None
    idle.sock.shutdown(socket.SHUT_RD)  # reads as end of file, as a connection the server closed does
    assert client.auth_test()["ok"]
    assert pool.opened == 2
    assert len(slack.calls("auth.test")) == 2  # nothing was sent on the closed one (and so nothing sent twice)


def test_a_stopped_server_ends_its_kept_connections(emulator: tuple[SlackEmulator, RunningServer]) -> None:
    slack, server = emulator
    pool = ConnectionPool()
    client = client_on(pool, slack)
    client.auth_test()
    server.stop()
    with pytest.raises(ConnectionRefusedError):
        client.auth_test()  # not answered on the old connection by a server that was stopped


def test_a_forked_process_opens_its_own_connections(emulator: tuple[SlackEmulator, RunningServer]) -> None:
    """A child never writes on a socket its parent uses: it starts with no idle connections."""
    slack, _ = emulator
    pool = ConnectionPool()
    client = client_on(pool, slack)
    client.auth_test()
    assert pool.idle_count() == 1
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        pool.forget_inherited()  # what os.register_at_fork does for the shared pool
        os.write(writer, bytes([pool.idle_count()]))
        os._exit(0)
    os.waitpid(child, 0)
    assert os.read(reader, 1) == bytes([0])
    assert client.auth_test()["ok"] and pool.opened == 1  # the parent's connection is still whole


def test_the_shared_pool_forgets_its_connections_in_a_forked_child(
    emulator: tuple[SlackEmulator, RunningServer],
) -> None:
    slack, _ = emulator
    KeepAliveWebClient(token=slack.bot_token, base_url=f"{slack.base_url}/api/").auth_test()
    assert SHARED_POOL.idle_count() >= 1
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        os.write(writer, b"1" if SHARED_POOL._idle == {} else b"0")
        os._exit(0)
    os.waitpid(child, 0)
    assert os.read(reader, 1) == b"1"


def test_connections_are_kept_per_origin_and_redirects_are_not_followed() -> None:
    """The token goes only to the host it was sent to: a redirect is an error, never a call elsewhere."""
    seen: list[tuple[str, str | None]] = []

    def redirecting(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.append((environ["PATH_INFO"], environ.get("HTTP_AUTHORIZATION")))
        start_response("302 Found", [("Location", "http://example.invalid/steal"), ("Content-Length", "0")])
        return [b""]

    server = start_background_server(redirecting)
    try:
        pool = ConnectionPool()
        client = KeepAliveWebClient(token="xoxb-secret", base_url=f"{server.url}/api/")
        client.pool = pool
        with pytest.raises(SlackApiError) as raised:
            client.auth_test()
        assert raised.value.response.status_code == 302
        assert seen == [("/api/auth.test", "Bearer xoxb-secret")]
        assert list(pool._idle) == [("http", "127.0.0.1", server.port)]
    finally:
        server.stop()


def test_the_server_keeps_requests_apart_when_an_app_leaves_a_body_unread() -> None:
    def unread(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        body = environ["PATH_INFO"].encode()
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body]

    server = start_background_server(unread)
    try:
        with socket.create_connection(("127.0.0.1", server.port)) as sock:
            request = "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n\r\nGET /evil"
            sock.sendall((request.format(path="/first") + request.format(path="/second")).encode())
            answers = _read_until(sock, b"/second")
        assert answers.count(b"HTTP/1.1 200 OK") == 2 and b"/evil" not in answers
    finally:
        server.stop()


def test_a_client_that_hung_up_before_its_answer_is_not_an_error_of_the_server(
    capsys: pytest.CaptureFixture[str],
) -> None:
    answer_now = threading.Event()
    answered = threading.Event()

    def slow(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        answer_now.wait(5)
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "4")])
        answered.set()
        return [b"late"]

    server = start_background_server(slow)
    try:
        with socket.create_connection(("127.0.0.1", server.port)) as sock:
            sock.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # hang up: a reset
        answer_now.set()  # the app answers a client that has gone (as a caller's timeout leaves it)
        assert answered.wait(5)
        time.sleep(0.2)  # the server finishes with that connection
        with socket.create_connection(("127.0.0.1", server.port)) as sock:
            sock.sendall(b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n")
            assert b"HTTP/1.1 200 OK" in _read_until(sock, b"late")
    finally:
        server.stop()
    assert "Exception occurred" not in capsys.readouterr().err


def _read_until(sock: socket.socket, marker: bytes) -> bytes:
    sock.settimeout(5)
    data = b""
    while marker not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data
