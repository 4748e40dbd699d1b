"""`POST /hooks/deployments`: CI/CD pipelines report deployments so incidents can be correlated with them."""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Iterable
from typing import Any
from wsgiref.types import StartResponse, WSGIEnvironment

from pydantic import ValidationError
from pydantic_core import ErrorDetails
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import Clock
from bot.db import unit_of_work
from bot.domain.deployments import ISO_HINT, DeploymentReport, record_deployment

logger = logging.getLogger(__name__)

DEPLOYMENTS_PATH = "/hooks/deployments"
MAX_BODY_BYTES = 64 * 1024
MAX_DRAIN_BYTES = 1_000_000
BODY_FIELD = "body"

Response = tuple[str, dict[str, Any]]


class DeploymentHook:
    """WSGI app for `POST /hooks/deployments`, authenticated with a shared secret."""

    def __init__(self, session_factory: sessionmaker[Session], secret: str | None, clock: Clock) -> None:
        self.session_factory = session_factory
        self._secret = secret.encode() if secret else None
        self.clock = clock

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        status, payload = self._handle(environ)
        body = json.dumps(payload).encode()
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        if status.startswith("405"):
            headers.append(("Allow", "POST"))
        if status.startswith("401"):
            headers.append(("WWW-Authenticate", "Bearer"))
        start_response(status, headers)
        return [body]

    def _handle(self, environ: WSGIEnvironment) -> Response:
        if environ.get("REQUEST_METHOD") != "POST":
            return "405 Method Not Allowed", {"error": "POST only"}
        length = _content_length(environ)
        if length is None:
            return _invalid({BODY_FIELD: "Content-Length is not a valid number"})
        if length > MAX_BODY_BYTES:
            _discard(environ, length)
            return "413 Payload Too Large", {"error": f"request body larger than {MAX_BODY_BYTES} bytes"}
        body = environ["wsgi.input"].read(length) if length else b""
        if self._secret is None:
            return "503 Service Unavailable", {"error": "deployment hook disabled: set DEPLOY_HOOK_SECRET"}
        if not self._authorized(environ):
            return "401 Unauthorized", {"error": "unauthorized"}
        return self._record(body)

    def _authorized(self, environ: WSGIEnvironment) -> bool:
        assert self._secret is not None
        scheme, _, token = str(environ.get("HTTP_AUTHORIZATION", "")).strip().partition(" ")
        offered = [str(environ.get("HTTP_X_TRIAGE_SECRET", ""))]
        if scheme.lower() == "bearer":
            offered.append(token.strip())
        return any(hmac.compare_digest(_header_bytes(value), self._secret) for value in offered if value)

    def _record(self, body: bytes) -> Response:
        document = _json_object(body)
        if document is None:
            return _invalid({BODY_FIELD: "must be a JSON object"})
        try:
            report = DeploymentReport.model_validate(document)
        except ValidationError as exc:
            return _invalid(field_errors(exc))
        try:
            with unit_of_work(self.session_factory) as session:
                deployment = record_deployment(session=session, report=report, now=self.clock.now())
        except SQLAlchemyError:
            logger.exception("could not store a reported deployment of %s", report.service)
            return "500 Internal Server Error", {"error": "could not store the deployment"}
        logger.info("deployment recorded: %s %s to %s", deployment.service, deployment.version, deployment.environment)
        payload = {
            "id": deployment.id,
            "service": deployment.service,
            "deployed_at": deployment.deployed_at.isoformat(),
        }
        return "201 Created", payload


def _invalid(fields: dict[str, str]) -> Response:
    return "400 Bad Request", {"error": "invalid deployment", "fields": fields}


def _content_length(environ: WSGIEnvironment) -> int | None:
    raw = str(environ.get("CONTENT_LENGTH") or "0").strip()
    return int(raw) if raw.isdecimal() else None  # "²".isdigit() is true, int("²") fails


def _discard(environ: WSGIEnvironment, length: int) -> None:
    """Read (a bounded amount of) an unwanted body so the client sees our answer instead of a reset connection."""
    remaining = min(length, MAX_DRAIN_BYTES)
    stream = environ["wsgi.input"]
    while remaining > 0:
        chunk = stream.read(min(remaining, 65536))
        if not chunk:
            return
        remaining -= len(chunk)


def _header_bytes(value: str) -> bytes:
    """WSGI hands headers over as latin-1 decoded text; this recovers the bytes that were sent."""
    return value.encode("latin-1", errors="replace")


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        document = json.loads(body.decode("utf-8"))
    except ValueError:
        return None
    return document if isinstance(document, dict) else None


_MESSAGES = {
    "missing": "required",
    "string_too_short": "must not be empty",
    "string_type": "must be a string",
    "timezone_aware": "needs a UTC offset, e.g. 2026-11-30T08:45:00Z",
}


def field_errors(exc: ValidationError) -> dict[str, str]:
    """The first problem per field, worded for whoever writes the pipeline step."""
    errors: dict[str, str] = {}
    for error in exc.errors(include_url=False):
        name = str(error["loc"][0]) if error["loc"] else BODY_FIELD
        errors.setdefault(name, _message(error))
    return errors


def _message(error: ErrorDetails) -> str:
    kind = error["type"]
    if kind == "string_too_long":
        return f"must be at most {error.get('ctx', {}).get('max_length')} characters"
    if kind.startswith("datetime"):
        return ISO_HINT
    return _MESSAGES.get(kind, str(error["msg"]).removeprefix("Value error, "))
