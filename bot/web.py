"""The HTTP surface: Slack's `/slack/events` through Bolt's WSGI adapter, `/healthz`, `/readyz`, `/metrics` and
`/hooks/deployments`; with OAuth installs also `/slack/install` and `/slack/oauth_redirect`."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler

from bot.db import database_state
from bot.hooks import DEPLOYMENTS_PATH, DeploymentHook
from bot.observability import metrics
from bot.observability.context import AfterResponse, RequestScope, request_scope
from bot.observability.readiness import Scheduler, check_readiness
from bot.services.container import Services

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1_000_000
MAX_DISCARDED_BYTES = 16 * MAX_BODY_BYTES
CORRELATION_HEADER = "X-Correlation-Id"
OAUTH_PATHS = ("/slack/install", "/slack/oauth_redirect")
SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")  # re.fullmatch; no re.IGNORECASE: Slack sends lower-case hex
TIMESTAMP = re.compile(r"[0-9]{1,12}")  # ASCII digits only ("²".isdigit() is true)
StartResponse = Callable[..., Any]


def _json(start_response: StartResponse, status: str, payload: dict[str, Any]) -> Iterable[bytes]:
    body = json.dumps(payload).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


class _Answer:
    """Wraps `start_response`: remembers the status (and whether the length was given) and adds the correlation
    header."""

    def __init__(self, start_response: StartResponse, correlation_id: str) -> None:
        self.start_response = start_response
        self.correlation_id = correlation_id
        self.status = ""
        self.length_known = False

    def __call__(self, status: str, headers: list[tuple[str, str]], *args: Any) -> Any:
        self.status = status
        self.length_known = any(name.lower() == "content-length" for name, _ in headers)
        return self.start_response(status, [*headers, (CORRELATION_HEADER, self.correlation_id)], *args)

    @property
    def code(self) -> int:
        return int(self.status.split(" ", 1)[0]) if self.status[:3].isdigit() else 0


class ThenAfterResponse:
    """The response body, then the request's `AfterResponse` work, on the same thread.

    PEP 3333 has the server send each block before it asks for the next, so with the length given the client has
    the whole response when the iteration ends, and the work runs then. The server's `close()` runs it too (once):
    when the length was not given (the server may finish the response only after iterating), or when it stopped
    iterating (the client went away) — the work is never dropped.
    """

    def __init__(self, body: Iterable[bytes], after: AfterResponse, *, sent_whole: bool) -> None:
        self.body = body
        self.after = after
        self.sent_whole = sent_whole

    def __iter__(self) -> Iterator[bytes]:
        yield from self.body
        if self.sent_whole:
            self.after.run()

    def close(self) -> None:
        try:
            close = getattr(self.body, "close", None)
            if close is not None:
                close()
        finally:
            self.after.run()


class WebApp:
    """A small WSGI router; every Slack surface (commands, interactivity, events) arrives at `/slack/events`.

    `scheduler` is this process's scheduler, for `/readyz` (without one the process is not ready).
    """

    def __init__(self, bolt_app: App, services: Services, *, scheduler: Scheduler | None = None) -> None:
        self.services = services
        self.scheduler = scheduler
        self.slack = SlackRequestHandler(bolt_app, path="/slack/events")
        self.installs = bolt_app.oauth_flow is not None
        secret = services.settings.deploy_hook_secret
        self.deployments = DeploymentHook(
            services.session_factory, secret.get_secret_value() if secret else None, services.clock
        )

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if path in ("/healthz", "/readyz", "/metrics") and method in ("GET", "HEAD"):
            return self.probe(path, start_response)
        if path == "/slack/events":
            if method != "POST":
                return _json(start_response, "405 Method Not Allowed", {"error": "POST only"})
            started = time.perf_counter()
            refusal = _refuse_before_bolt(environ)
            if refusal is not None:
                _discard_body(environ)
                refused_as = "unverified" if refusal[0].startswith("401") else "other"
                metrics.observe_ack(refused_as, time.perf_counter() - started)  # a flood of forgeries shows
                return _json(start_response, *refusal)
            try:
                return self.slack_events(environ, start_response)
            except (ValueError, TypeError, AttributeError, LookupError) as exc:
                # Bolt parses the body before it checks the signature, and raises on a body it cannot read.
                logger.warning("Refused a malformed Slack request (%s)", type(exc).__name__)
                return _json(start_response, "400 Bad Request", {"error": "malformed request"})
        if path in OAUTH_PATHS and self.installs:
            if method != "GET":
                return _json(start_response, "405 Method Not Allowed", {"error": "GET only"})
            return self.slack(environ, start_response)
        if path == DEPLOYMENTS_PATH:
            return self.deployments(environ, start_response)
        return _json(start_response, "404 Not Found", {"error": "not found"})

    def probe(self, path: str, start_response: StartResponse) -> Iterable[bytes]:
        if path == "/healthz":
            return self.health(start_response)
        if path == "/readyz":
            return self.ready(start_response)
        return self.scrape(start_response)

    def slack_events(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """Bolt answers inside a request scope (its correlation id reaches the listeners); the answer is timed."""
        started = time.perf_counter()
        with request_scope() as scope:
            scope.after_response = after = AfterResponse()
            answer = _Answer(start_response, scope.correlation_id)
            try:
                body = self.slack(environ, answer)
            except BaseException:
                after.run()  # nothing that waited for this response is dropped, even if it ends in an error
                raise
            elapsed = time.perf_counter() - started
            request_type = _request_type(scope, answer.code)
            scope.request_type = request_type
            metrics.observe_ack(request_type, elapsed)
            logger.info("Slack %s answered %s in %.1f ms", request_type, answer.code, elapsed * 1000)
        if not after.work:
            after.run()  # closes it: nothing may be added once the response is on its way
            return body
        return ThenAfterResponse(body, after, sent_whole=answer.length_known)

    def health(self, start_response: StartResponse) -> Iterable[bytes]:
        state = database_state(self.services.engine)
        status = "200 OK" if state == "ok" else "503 Service Unavailable"
        return _json(start_response, status, {"status": "ok" if state == "ok" else "degraded", "database": state})

    def ready(self, start_response: StartResponse) -> Iterable[bytes]:
        readiness = check_readiness(self.services.engine, self.scheduler)
        status = "200 OK" if readiness.ready else "503 Service Unavailable"
        return _json(start_response, status, readiness.as_json())

    def scrape(self, start_response: StartResponse) -> Iterable[bytes]:
        body = metrics.render(self.services.session_factory)
        start_response("200 OK", [("Content-Type", metrics.CONTENT_TYPE), ("Content-Length", str(len(body)))])
        return [body]


def well_formed_signature_headers(signature: str | None, timestamp: str | None) -> bool:
    """Whether Slack's headers have the only shape Slack sends: `v0=` and 64 hex digits, a timestamp of digits.

    Anything else (missing, another version, non-ASCII) cannot carry a valid signature; some of it (non-ASCII)
    makes Bolt's verifier raise instead of answering false, and Bolt then hands the unverified body to the error
    handler. So it never reaches Bolt.
    """
    return (
        signature is not None
        and timestamp is not None
        and SIGNATURE.fullmatch(signature) is not None
        and TIMESTAMP.fullmatch(timestamp) is not None
    )


def _refuse_before_bolt(environ: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """What Bolt would read whole or answer with a 500: a body too large, an unreadable length, signature headers
    that cannot be Slack's."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return "400 Bad Request", {"error": "invalid Content-Length"}
    if length > MAX_BODY_BYTES:
        return "413 Payload Too Large", {"error": "request body too large"}
    signature = environ.get("HTTP_X_SLACK_SIGNATURE")
    if not well_formed_signature_headers(signature, environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP")):
        logger.info("Refused a Slack request without well-formed signature headers (before reading its body)")
        return "401 Unauthorized", {"error": "invalid request"}
    return None


def _discard_body(environ: dict[str, Any]) -> None:
    """Read what the client is still sending (within a bound): unread, it would get a reset instead of our answer."""
    try:
        remaining = min(int(environ.get("CONTENT_LENGTH") or 0), MAX_DISCARDED_BYTES)
    except ValueError:
        return
    stream = environ.get("wsgi.input")
    while stream is not None and remaining > 0:
        chunk = stream.read(min(remaining, 64 * 1024))
        if not chunk:
            return
        remaining -= len(chunk)


def _request_type(scope: RequestScope, status: int) -> str:
    """What the middleware found; a request Bolt refused before it (bad signature, stale timestamp) is `unverified`."""
    if scope.request_type:
        return scope.request_type
    return "unverified" if status == 401 else "other"
