"""The Slack client's HTTP/1.1 connection over real sockets: what it sends, every way an answer can be framed or
cut, the errors http.client would raise, and TLS with the certificate and host name checked."""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import trustme

from bot.integrations.http1 import MAX_HEADER_BYTES, Http1Connection, encoded_host, header_line, host_header
from bot.integrations.slack import build_web_client
from bot.integrations.slack_connections import ConnectionPool

OK = b'HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: 11\r\n\r\n{"ok":true}'


@dataclass
class ScriptedServer:
    """Accepts connections one at a time; answers each request read with the next script entry (raw bytes), and
    hangs up after an entry marked to close. `requests` holds each request as received, `connections` counts."""

    script: list[tuple[bytes, bool]]
    wrap: ssl.SSLContext | None = None
    requests: list[bytes] = field(default_factory=list)
    connections: int = 0

    def __post_init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while self.script:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            if self.wrap is not None:
                try:
                    sock = self.wrap.wrap_socket(sock, server_side=True)
                except (ssl.SSLError, OSError):
                    sock.close()
                    continue
            with sock:
                self._answer_requests(sock)

    def _answer_requests(self, sock: socket.socket) -> None:
        pending = b""
        while self.script:
            request, pending = _read_request(sock, pending)
            if request is None:
                return
            self.requests.append(request)
            answer, then_close = self.script.pop(0)
            sock.sendall(answer)
            if then_close:
                return

    def stop(self) -> None:
        self.script.clear()
        self.listener.close()


def _read_request(sock: socket.socket, pending: bytes) -> tuple[bytes | None, bytes]:
    while b"\r\n\r\n" not in pending:
        data = sock.recv(65536)
        if not data:
            return None, b""
        pending += data
    head, _, rest = pending.partition(b"\r\n\r\n")
    length = next(
        (int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")),
        0,
    )
    while len(rest) < length:
        rest += sock.recv(65536)
    return head + b"\r\n\r\n" + rest[:length], rest[length:]


@pytest.fixture
def serve() -> Iterator[list[ScriptedServer]]:
    started: list[ScriptedServer] = []
    yield started
    for server in started:
        server.stop()


def scripted(serve: list[ScriptedServer], *answers: bytes | tuple[bytes, bool]) -> ScriptedServer:
    server = ScriptedServer([a if isinstance(a, tuple) else (a, False) for a in answers])
    serve.append(server)
    return server


def connect(server: ScriptedServer, timeout: float = 5.0) -> Http1Connection:
    return Http1Connection("http", "127.0.0.1", server.port, timeout=timeout, context=None)


def test_a_request_carries_host_length_and_identity_encoding_and_answers_share_the_connection(
    serve: list[ScriptedServer],
) -> None:
    server = scripted(serve, OK, OK)
    connection = connect(server)
    headers = {"Content-Type": "application/json;charset=utf-8", "Authorization": "Bearer xoxb-1"}
    body = '{"text":"café"}'.encode()
    first = connection.post("/api/chat.postMessage", body, headers, timeout=5)
    second = connection.post("/api/auth.test", None, headers, timeout=5)
    assert (first.status, first.reason, first.body, first.will_close) == (200, "OK", b'{"ok":true}', False)
    assert second.body == b'{"ok":true}' and server.connections == 1
    assert server.requests[0] == (
        b"POST /api/chat.postMessage HTTP/1.1\r\n"
        + f"Host: 127.0.0.1:{server.port}\r\n".encode()
        + f"Accept-Encoding: identity\r\nContent-Length: {len(body)}\r\n".encode()
        + b"Content-Type: application/json;charset=utf-8\r\nAuthorization: Bearer xoxb-1\r\n\r\n"
        + body
    )
    assert b"Content-Length: 0\r\n" in server.requests[1]
    assert first.headers.get_content_type() == "application/json"
    assert first.headers.get_content_charset() == "utf-8" and first.headers["content-length"] == "11"


def test_a_chunked_answer_is_read_whole_and_the_connection_kept(serve: list[ScriptedServer]) -> None:
    chunked = b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{"ok\r\n7\r\n":true}\r\n0\r\n\r\n'
    server = scripted(serve, chunked, OK)
    connection = connect(server)
    answer = connection.post("/api/x", b"", {}, timeout=5)
    assert (answer.body, answer.will_close) == (b'{"ok":true}', False)
    assert connection.post("/api/x", b"", {}, timeout=5).body == b'{"ok":true}' and server.connections == 1


def test_an_answer_without_a_length_ends_when_the_server_closes(serve: list[ScriptedServer]) -> None:
    server = scripted(serve, (b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall of it", True))
    answer = connect(server).post("/api/x", b"", {}, timeout=5)
    assert (answer.status, answer.body, answer.will_close) == (200, b"all of it", True)


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
        b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
        OK + b"HTTP/1.1 200 OK\r\n",  # something after the answer: never reused
    ],
    ids=["connection-close", "http-1.0", "bytes-after-the-answer"],
)
def test_a_connection_the_answer_ends_is_marked_so(serve: list[ScriptedServer], answer: bytes) -> None:
    server = scripted(serve, answer)
    assert connect(server).post("/api/x", b"", {}, timeout=5).will_close


def test_an_interim_answer_is_skipped_for_the_final_one(serve: list[ScriptedServer]) -> None:
    server = scripted(serve, b"HTTP/1.1 100 Continue\r\n\r\n" + OK)
    answer = connect(server).post("/api/x", b"", {}, timeout=5)
    assert (answer.status, answer.body, answer.will_close) == (200, b'{"ok":true}', False)


def test_an_error_status_is_an_answer_with_its_headers(serve: list[ScriptedServer]) -> None:
    limited = b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 7\r\nContent-Length: 0\r\n\r\n"
    answer = connect(scripted(serve, limited)).post("/api/x", b"", {}, timeout=5)
    assert (answer.status, answer.reason, answer.headers["retry-after"], answer.body) == (
        429,
        "Too Many Requests",
        "7",
        b"",
    )


@pytest.mark.parametrize(
    ("answer", "raised"),
    [
        (b"", http.client.RemoteDisconnected),  # hung up without answering
        (b'HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n{"ok"', http.client.IncompleteRead),
        (b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{"ok\r\n', http.client.IncompleteRead),
        (b"HTTP/1.1 200 OK\r\nContent-Le", http.client.IncompleteRead),
        (b"SSH-2.0-OpenSSH_9.6\r\n", http.client.HTTPException),
        (
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
            http.client.HTTPException,
        ),
    ],
    ids=["no-answer", "short-body", "unfinished-chunks", "unfinished-headers", "not-http", "protocol-switch"],
)
def test_a_broken_answer_raises_what_http_client_raises(
    serve: list[ScriptedServer], answer: bytes, raised: type[Exception]
) -> None:
    server = scripted(serve, (answer, True))  # the server then hangs up
    with pytest.raises(http.client.HTTPException) as failed:
        connect(server).post("/api/x", b"", {}, timeout=5)
    assert failed.type is raised  # exactly: IncompleteRead and RemoteDisconnected are HTTPExceptions too


def test_endless_headers_are_refused(serve: list[ScriptedServer]) -> None:
    endless = b"HTTP/1.1 200 OK\r\n" + b"X-Padding: " + b"a" * (MAX_HEADER_BYTES + 10) + b"\r\n"
    server = scripted(serve, (endless, True))
    with pytest.raises(http.client.LineTooLong):
        connect(server).post("/api/x", b"", {}, timeout=5)


def test_a_server_that_does_not_answer_times_out(serve: list[ScriptedServer]) -> None:
    server = scripted(serve, (b"", False), OK)  # reads the request, sends nothing, keeps the connection open
    with pytest.raises(TimeoutError):
        connect(server, timeout=0.2).post("/api/x", b"", {}, timeout=0.2)


@pytest.mark.parametrize(
    ("headers", "target"),
    [
        ({"X-Evil": "a\r\nHost: elsewhere"}, "/api/x"),
        ({"X-Evil\r\nHost": "elsewhere"}, "/api/x"),
        ({"Bad Name:": "x"}, "/api/x"),
        ({}, "/api/x HTTP/1.1\r\nHost: elsewhere\r\n\r\nPOST /api/y"),
    ],
    ids=["value-splits", "name-splits", "name-with-colon", "path-splits"],
)
def test_a_request_that_could_be_split_is_refused_before_anything_is_sent(
    serve: list[ScriptedServer], headers: dict[str, str], target: str
) -> None:
    server = scripted(serve, OK)
    connection = connect(server)
    with pytest.raises(ValueError):
        connection.post(target, b"", headers, timeout=5)
    assert connection.post("/api/x", b"", {}, timeout=5).status == 200
    assert len(server.requests) == 1 and server.requests[0].startswith(b"POST /api/x HTTP/1.1\r\n")


def test_host_headers_are_written_as_http_client_writes_them() -> None:
    assert host_header("https", "slack.com", 443) == "slack.com"
    assert host_header("http", "127.0.0.1", 8080) == "127.0.0.1:8080"
    assert host_header("https", "::1", 8443) == "[::1]:8443"
    assert header_line("Authorization", "Bearer xoxb-1") == b"Authorization: Bearer xoxb-1"
    assert encoded_host("slack.com") == b"slack.com" and encoded_host("bücher.example") == b"xn--bcher-kva.example"


@pytest.fixture(scope="module")
def authority() -> trustme.CA:
    return trustme.CA()


def tls_server(serve: list[ScriptedServer], authority: trustme.CA, name: str) -> ScriptedServer:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert(name).configure_cert(context)
    server = ScriptedServer([(OK, False), (OK, False)], wrap=context)
    serve.append(server)
    return server


def test_tls_answers_when_the_certificate_and_host_name_check_out(
    serve: list[ScriptedServer], authority: trustme.CA
) -> None:
    server = tls_server(serve, authority, "localhost")
    trusting = ssl.create_default_context()
    authority.configure_trust(trusting)
    connection = Http1Connection("https", "localhost", server.port, timeout=5, context=trusting)
    assert connection.post("/api/auth.test", b"", {"Authorization": "Bearer xoxb-1"}, timeout=5).status == 200
    assert server.requests[0].startswith(
        b"POST /api/auth.test HTTP/1.1\r\n" + f"Host: localhost:{server.port}".encode()
    )


def test_tls_refuses_a_certificate_nobody_trusts_by_default(serve: list[ScriptedServer], authority: trustme.CA) -> None:
    server = tls_server(serve, authority, "localhost")
    with pytest.raises(ssl.SSLCertVerificationError):
        Http1Connection("https", "localhost", server.port, timeout=5, context=None)
    assert server.requests == []  # no token was sent


def test_tls_refuses_a_certificate_for_another_host(serve: list[ScriptedServer], authority: trustme.CA) -> None:
    server = tls_server(serve, authority, "slack.example")
    trusting = ssl.create_default_context()
    authority.configure_trust(trusting)
    with pytest.raises(ssl.SSLCertVerificationError):
        Http1Connection("https", "localhost", server.port, timeout=5, context=trusting)
    assert server.requests == []


def test_a_kept_connection_the_server_drops_mid_call_is_retried_once_on_a_new_one(serve: list[ScriptedServer]) -> None:
    """What slack_sdk's connection-error handler sees is what it saw from http.client (`RemoteDisconnected`)."""
    server = scripted(serve, OK, (b"", True), OK)  # the second request is read, then the connection closed
    client = build_web_client(token="xoxb-1", base_url=f"http://127.0.0.1:{server.port}/api/")
    client.pool = ConnectionPool()  # type: ignore[attr-defined]
    assert client.auth_test()["ok"]
    assert client.auth_test()["ok"]
    assert server.connections == 2 and len(server.requests) == 3
