"""Kept-alive connections to Slack's Web API: one TCP (and TLS) handshake per connection, not per call.

slack_sdk's `WebClient` opens a new connection for every call (urllib closes it after one request): in production
that is a TLS handshake per `chat.postMessage`, and on a busy worker the connect and close of every call cost
0.15-0.4 ms of the 2-2.6 ms of CPU a `/triage` took (docs/benchmarks.md). `KeepAliveWebClient` sends its calls
over connections kept per origin (scheme, host, port) by a process-wide `ConnectionPool`, each an HTTP/1.1
`Http1Connection` (`bot.integrations.http1`: answers parsed by httptools); everything above the socket
(arguments, request building, retry handlers, `SlackApiError`) is still slack_sdk's, its JSON encoded and decoded
by orjson (`slack_json`, installed by `build_web_client`).

What keeps it safe:
- a connection is only reused for the origin it was opened to, and redirects are never followed (the token goes
  only to the host it was sent to; a 3xx is returned as the error it is);
- an idle connection is dropped before reuse when the server has closed it (or sent anything unasked), or when it
  has been idle longer than `IDLE_SECONDS` (servers close idle connections; Slack's limit is not published);
- a call that fails is never sent again here: whether to retry stays with slack_sdk's retry handlers, as for a
  fresh connection, and the failed connection is closed, never pooled;
- a process forked from one holding connections starts with none (parent and child never share a socket).
"""

from __future__ import annotations

import io
import os
import select
import ssl
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from slack_sdk import WebClient
from slack_sdk.errors import SlackRequestError

from bot.integrations.http1 import DEFAULT_PORTS, Answer, Http1Connection

IDLE_SECONDS = 20.0  # an idle connection older than this is closed instead of reused
MAX_IDLE_PER_ORIGIN = 32  # connections kept idle per origin (one per concurrent call at most)

Origin = tuple[str, str, int | None]  # scheme, host (lower case), port (the scheme's default when not given)


@dataclass
class _Idle:
    connection: Http1Connection
    since: float


@dataclass
class ConnectionPool:
    """Idle HTTP(S) connections per origin, newest first; thread-safe, each connection used by one call at a time."""

    idle_seconds: float = IDLE_SECONDS
    max_idle: int = MAX_IDLE_PER_ORIGIN
    clock: Callable[[], float] = time.monotonic
    _idle: dict[Origin, list[_Idle]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    opened: int = 0  # connections opened so far (reuse shows as calls > opened)

    def post(
        self, url: str, body: bytes | None, headers: dict[str, str], *, timeout: float, context: ssl.SSLContext | None
    ) -> Answer:
        """POST on a kept-alive connection to the URL's origin; the connection goes back to the pool only when the
        whole response was read and the server keeps it open."""
        origin = origin_of(url)
        scheme, host, _ = origin
        if scheme not in ("http", "https") or not host:
            raise SlackRequestError(f"Invalid URL detected: {url}")
        parts = urlsplit(url)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        connection = self._take(origin) or self._open(origin, timeout, context)
        try:
            answer = connection.post(target or "/", body, headers, timeout=timeout)
        except BaseException:
            connection.close()
            raise
        if answer.will_close:
            connection.close()
        else:
            self._give_back(origin, connection)
        return answer

    def forget_inherited(self) -> None:
        """In a forked child: drop (without closing) the connections the parent still uses, and its lock's state."""
        self._idle = {}
        self._lock = threading.Lock()

    def idle_count(self) -> int:
        with self._lock:
            return sum(len(entries) for entries in self._idle.values())

    def _take(self, origin: Origin) -> Http1Connection | None:
        """The most recently used live connection to the origin; stale ones found on the way are closed."""
        now = self.clock()
        while True:
            with self._lock:
                entries = self._idle.get(origin)
                if not entries:
                    return None
                entry = entries.pop()
            if now - entry.since <= self.idle_seconds and _still_open(entry.connection):
                return entry.connection
            entry.connection.close()

    def _give_back(self, origin: Origin, connection: Http1Connection) -> None:
        with self._lock:
            entries = self._idle.setdefault(origin, [])
            if len(entries) < self.max_idle:
                entries.append(_Idle(connection, self.clock()))
                return
        connection.close()

    def _open(self, origin: Origin, timeout: float, context: ssl.SSLContext | None) -> Http1Connection:
        scheme, host, port = origin
        with self._lock:
            self.opened += 1
        return Http1Connection(scheme, host, port, timeout=timeout, context=context)


def origin_of(url: str) -> Origin:
    """Where a URL's requests go: a connection, a token or a redirect stays within one origin."""
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or "").lower(), parts.port or DEFAULT_PORTS.get(parts.scheme)


def _still_open(connection: Http1Connection) -> bool:
    """Whether an idle connection can be reused: nothing to read on it (a closed one reads as end of file)."""
    sock = connection.sock
    if sock is None:
        return False
    try:
        if isinstance(sock, ssl.SSLSocket) and sock.pending():
            return False
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        return not poller.poll(0)
    except (OSError, ValueError):
        return False


SHARED_POOL = ConnectionPool()
os.register_at_fork(after_in_child=SHARED_POOL.forget_inherited)


class KeepAliveWebClient(WebClient):
    """slack_sdk's WebClient, its calls sent over the process's kept-alive connections (`SHARED_POOL`).

    Only the last step of slack_sdk's transport is replaced (sending the built request and reading the answer);
    with a proxy configured the client falls back to slack_sdk's own. Non-2xx answers raise urllib's `HTTPError`
    exactly as slack_sdk expects from urllib (its 429 and retry handling reads them), redirects included.
    """

    pool: ConnectionPool = SHARED_POOL

    def _perform_urllib_http_request_internal(self, url: str, req: urllib.request.Request) -> dict[str, Any]:
        if self.proxy is not None:
            return super()._perform_urllib_http_request_internal(url, req)
        headers = {name.title(): str(value) for name, value in req.header_items()}
        body = req.data if isinstance(req.data, bytes) else None
        response = self.pool.post(url, body, headers, timeout=self.timeout, context=self.ssl)
        if not 200 <= response.status < 300:
            raise _http_error(url, response)
        if response.headers.get_content_type() == "application/gzip":
            return {"status": response.status, "headers": response.headers, "body": response.body}
        charset = response.headers.get_content_charset() or "utf-8"
        return {"status": response.status, "headers": response.headers, "body": response.body.decode(charset)}


def _http_error(url: str, response: Answer) -> urllib.error.HTTPError:
    return urllib.error.HTTPError(url, response.status, response.reason, response.headers, io.BytesIO(response.body))
