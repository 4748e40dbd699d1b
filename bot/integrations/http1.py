"""One HTTP/1.1 connection for the Slack client's pool: requests written whole, answers parsed by httptools.

`http.client` parses every answer's headers through the `email` package (a feed parser, a policy object per
header) and builds each request header by header: the largest cost left around a `views.open` in the bot's worker.
httptools (llhttp, the parser Node.js uses) reads the same answer in a few microseconds; a `views.open` of the
new-incident form costs the calling thread about 100 µs less (`benchmarks/form_cost.py`, docs/benchmarks.md).
Everything else stays as `http.client` has it, so callers see the same things:
- the same checks before anything is sent: a header name or value that could split the request, or a path with
  spaces or control characters, raises `ValueError`;
- the same headers sent (`Host`, `Accept-Encoding: identity`, `Content-Length`), the same TLS (the caller's
  `ssl.SSLContext`, else Python's default, verifying the certificate and the host name), `TCP_NODELAY`;
- the same errors: socket errors and timeouts as they come, `http.client.RemoteDisconnected` when the server
  closes without answering, `IncompleteRead` when it closes part way, `HTTPException` for an answer that is not
  HTTP; a connection that failed is closed by its caller, never reused;
- the answer's headers as an `http.client.HTTPMessage` (names as sent, case-insensitive lookups).

Limits: answers to POST only (no HEAD, no `Expect: 100-continue`; an interim 1xx answer is skipped), no proxies
(the client falls back to slack_sdk's own transport with a proxy), headers up to `MAX_HEADER_BYTES`.
"""

from __future__ import annotations

import http.client
import re
import socket
import ssl
from dataclasses import dataclass

import httptools

MAX_HEADER_BYTES = 64 * 1024  # http.client allows 100 lines of 64 KiB; Slack's answers carry about 1 KiB
READ_BYTES = 64 * 1024
LEGAL_HEADER_NAME = re.compile(rb"[^:\s][^:\r\n]*")  # as http.client checks them
ILLEGAL_HEADER_VALUE = re.compile(rb"\n(?![ \t])|\r(?![ \t\n])")
DISALLOWED_PATH_CHARACTER = re.compile("[\x00-\x20\x7f]")
DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass
class Answer:
    """A whole answer: status, reason, headers, body; `will_close` when the connection cannot carry another."""

    status: int
    reason: str
    headers: http.client.HTTPMessage
    body: bytes
    will_close: bool


class _Reading:
    """What httptools reports as it parses (its callbacks): the first final answer; interim 1xx answers skipped,
    anything after the answer only noted (`more_after`: the connection then cannot be reused)."""

    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.status = 0
        self.reason = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []
        self.headers_complete = self.complete = self.more_after = self.keep_alive = False

    def on_message_begin(self) -> None:
        if self.complete:
            self.more_after = True
            return
        self.status, self.reason, self.headers, self.body, self.headers_complete = 0, b"", [], [], False

    def on_status(self, reason: bytes) -> None:
        if not self.complete:
            self.reason += reason

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self.complete:
            self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        if not self.complete:
            self.headers_complete, self.status = True, self.parser.get_status_code()

    def on_body(self, chunk: bytes) -> None:
        if not self.complete:
            self.body.append(chunk)

    def on_message_complete(self) -> None:
        if not self.complete and self.status >= 200:
            # Asked now: once the message is complete, the parser is ready for the next and no longer knows.
            self.complete, self.keep_alive = True, self.parser.should_keep_alive()


class Http1Connection:
    """A connection to one origin (scheme, host, port), used by one call at a time; `sock` is None once closed."""

    def __init__(
        self, scheme: str, host: str, port: int | None, *, timeout: float, context: ssl.SSLContext | None
    ) -> None:
        self.port = port or DEFAULT_PORTS[scheme]
        self.host_line = b"Host: " + encoded_host(host_header(scheme, host, self.port))
        sock = socket.create_connection((host, self.port), timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if scheme == "https":
                sock = (context or ssl.create_default_context()).wrap_socket(sock, server_hostname=host)
        except BaseException:
            sock.close()
            raise
        self.sock: socket.socket | None = sock

    def post(self, target: str, body: bytes | None, headers: dict[str, str], *, timeout: float) -> Answer:
        """Send one POST and read its whole answer. On any error the connection must be closed (not reused)."""
        request = self.request_bytes(target, body, headers)
        sock = self.sock
        if sock is None:
            raise http.client.NotConnected()
        sock.settimeout(timeout)
        sock.sendall(request)
        return self.read_answer(sock)

    def request_bytes(self, target: str, body: bytes | None, headers: dict[str, str]) -> bytes:
        if DISALLOWED_PATH_CHARACTER.search(target):
            raise ValueError(f"URL can't contain control characters. {target!r}")
        names = {name.lower() for name in headers}
        lines = [f"POST {target} HTTP/1.1".encode("ascii")]
        if "host" not in names:
            lines.append(self.host_line)
        if "accept-encoding" not in names:
            lines.append(b"Accept-Encoding: identity")
        if "content-length" not in names:
            lines.append(b"Content-Length: %d" % len(body or b""))
        lines.extend(header_line(name, value) for name, value in headers.items())
        return b"\r\n".join(lines) + b"\r\n\r\n" + (body or b"")

    def read_answer(self, sock: socket.socket) -> Answer:
        reading = _Reading()
        received = 0
        while not reading.complete:
            data = sock.recv(READ_BYTES)
            if not data:
                return self._answer_at_end_of_stream(reading, received)
            received += len(data)
            try:
                reading.parser.feed_data(data)
            except (httptools.HttpParserError, httptools.HttpParserUpgrade) as exc:
                if not reading.complete:
                    raise http.client.HTTPException(f"not an HTTP answer: {exc}") from exc
                reading.more_after = True  # the answer is whole; what follows it is not HTTP
            if not reading.headers_complete and received > MAX_HEADER_BYTES:
                raise http.client.LineTooLong(f"answer headers over {MAX_HEADER_BYTES} bytes")
        return self._answer(reading, will_close=not reading.keep_alive or reading.more_after)

    def _answer_at_end_of_stream(self, reading: _Reading, received: int) -> Answer:
        """The server closed: an answer whose length is 'until the server closes' ends here; any other is cut."""
        if received == 0:
            raise http.client.RemoteDisconnected("Remote end closed connection without response")
        delimited = any(name.lower() in (b"content-length", b"transfer-encoding") for name, _ in reading.headers)
        if not reading.headers_complete or delimited or reading.status < 200:
            raise http.client.IncompleteRead(b"".join(reading.body))
        return self._answer(reading, will_close=True)

    @staticmethod
    def _answer(reading: _Reading, *, will_close: bool) -> Answer:
        headers = http.client.HTTPMessage()
        for name, value in reading.headers:
            headers[name.decode("iso-8859-1")] = value.decode("iso-8859-1")
        return Answer(
            status=reading.status,
            reason=reading.reason.decode("iso-8859-1"),
            headers=headers,
            body=b"".join(reading.body),
            will_close=will_close,
        )

    def close(self) -> None:
        sock, self.sock = self.sock, None
        if sock is not None:
            sock.close()


def host_header(scheme: str, host: str, port: int) -> str:
    """The `Host` header as http.client writes it: brackets around an IPv6 address, the port unless the default."""
    shown = f"[{host}]" if ":" in host else host
    return shown if port == DEFAULT_PORTS[scheme] else f"{shown}:{port}"


def encoded_host(host: str) -> bytes:
    """As http.client encodes the `Host` header: ASCII as it is, an internationalised name in IDNA."""
    try:
        return host.encode("ascii")
    except UnicodeEncodeError:
        return host.encode("idna")


def header_line(name: str, value: str) -> bytes:
    """`Name: value`, refused (`ValueError`) as http.client refuses a name or value that could split the request."""
    encoded_name, encoded_value = name.encode("ascii"), value.encode("latin-1")
    if not LEGAL_HEADER_NAME.fullmatch(encoded_name):
        raise ValueError(f"Invalid header name {encoded_name!r}")
    if ILLEGAL_HEADER_VALUE.search(encoded_value):
        raise ValueError(f"Invalid header value {encoded_value!r}")
    return encoded_name + b": " + encoded_value
