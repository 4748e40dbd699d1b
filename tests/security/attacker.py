"""A listening "attacker" HTTP server: it records every request that reaches it (it should see none), and can hold
each one for a while, as a host that wants to tie up whoever calls it would; and raw HTTP requests that send
header bytes exactly as given (non-ASCII included)."""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from bot.sandbox.wsgi_server import start_background_server

StartResponse = Any


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    authorization: str


@dataclass
class Attacker:
    """WSGI app: records each request, then answers 200 after holding it up to `hold_seconds`."""

    hold_seconds: float = 0.0
    requests: list[Received] = field(default_factory=list)
    released: threading.Event = field(default_factory=threading.Event)
    url: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        with self._lock:
            self.requests.append(
                Received(
                    str(environ.get("REQUEST_METHOD")),
                    str(environ.get("PATH_INFO")),
                    str(environ.get("HTTP_AUTHORIZATION", "")),
                )
            )
        self.released.wait(self.hold_seconds)
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
        return [b"ok"]

    def seen(self) -> list[Received]:
        with self._lock:
            return list(self.requests)


@contextmanager
def listening_attacker(hold_seconds: float = 0.0) -> Iterator[Attacker]:
    attacker = Attacker(hold_seconds)
    server = start_background_server(attacker)
    attacker.url = server.url
    try:
        yield attacker
    finally:
        attacker.released.set()
        server.stop()


@dataclass(frozen=True)
class RawAnswer:
    status: int
    body: bytes
    elapsed: float


def raw_post(url: str, body: bytes, headers: dict[str, str | bytes], *, timeout: float = 30.0) -> RawAnswer:
    """POST with the headers exactly as given (bytes are sent as they are), over a fresh connection."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)
    started = time.perf_counter()
    try:
        connection.putrequest("POST", parts.path or "/", skip_accept_encoding=True)
        for name, value in {**headers, "Content-Length": str(len(body))}.items():
            connection.putheader(name, value)
        connection.endheaders(body)
        response = connection.getresponse()
        answer = response.read()
        return RawAnswer(response.status, answer, time.perf_counter() - started)
    finally:
        connection.close()
