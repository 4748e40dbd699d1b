"""The one Jira client: tickets for escalations through the `jira` library, errors classified for the outbox.

The `jira.JIRA` client calls `serverInfo` when it is built, so it is built lazily, on the first call
(from the outbox worker, never on a Slack request path). Every failure becomes a one-line
`TrackerError` saying whether a later attempt can succeed; the API token never appears in one.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from io import BytesIO
from typing import Any

import requests
from jira import JIRA, JIRAError

from bot.domain.jira_text import plain_line
from bot.observability.metrics import timed_jira_call
from bot.observability.redaction import register_secrets

__all__ = [
    "SEVERITY_PRIORITIES",
    "JiraTracker",
    "Ticket",
    "TicketRequest",
    "TrackerError",
    "severity_priority",
]

logger = logging.getLogger(__name__)

SEVERITY_PRIORITIES: dict[str, str] = {"SEV1": "Highest", "SEV2": "High", "SEV3": "Medium", "SEV4": "Low"}
DETAIL_LIMIT = 300
LABEL_LIMIT = 255


def severity_priority(severity: str) -> str:
    """Jira priority name for an incident severity (`SEV1` → `Highest`)."""
    try:
        return SEVERITY_PRIORITIES[str(severity).upper()]
    except KeyError:
        raise ValueError(f"unknown severity {severity!r}; known: {', '.join(SEVERITY_PRIORITIES)}") from None


@dataclass(frozen=True)
class TicketRequest:
    """What to file; `dedupe_label` is unique per escalation (e.g. `triage-inc-7-engineering`)."""

    project: str
    summary: str
    description: str
    issue_type: str = "Bug"
    priority: str | None = None
    labels: tuple[str, ...] = ()
    dedupe_label: str = field(kw_only=True)

    @property
    def all_labels(self) -> list[str]:
        """The labels to set: the given ones, then the dedupe label, without repeats."""
        return list(dict.fromkeys((*self.labels, self.dedupe_label)))


@dataclass(frozen=True)
class Ticket:
    key: str
    url: str
    status: str | None


class TrackerError(Exception):
    """A Jira call that did not succeed: one line, no secrets, and whether retrying can help.

    `kind` names the failure for metrics (`timeout`, `connection_error`, `http_503`, …).
    """

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        status: int | None = None,
        retry_after: float | None = None,
        kind: str | None = None,
    ) -> None:
        self.message = " ".join(message.split())
        self.retryable = retryable
        self.status = status
        self.retry_after = retry_after
        self.kind = kind or (f"http_{status}" if status is not None else "error")
        super().__init__(self.message)


@dataclass(frozen=True)
class _Call:
    """What the bot was doing: `operation` for metrics, `action` for error messages (`creating an issue in ENG`)."""

    operation: str
    action: str
    project: str | None = None
    key: str | None = None


CONNECTING = _Call("connect", "connecting to Jira")


class JiraTracker:
    """Files and updates Jira issues; builds its `jira.JIRA` client on first use."""

    def __init__(self, url: str, user: str, api_token: str, *, timeout: float = 5.0, max_retries: int = 0) -> None:
        self.url = url.rstrip("/")
        self.user = user
        self.timeout = timeout
        self.max_retries = max_retries
        self._token = api_token
        register_secrets([api_token])  # never in a log line, whatever echoes it
        self._client: JIRA | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"JiraTracker(url={self.url!r}, user={self.user!r})"

    # --- public API ----------------------------------------------------------------------------

    def create_ticket(self, request: TicketRequest) -> Ticket:
        """File the issue once: an issue already carrying `request.dedupe_label` is returned instead."""
        _check_labels(request)
        existing = self.find_by_label(request.dedupe_label)
        if existing is not None:
            logger.info("Jira issue %s already filed for %s", existing.key, request.dedupe_label)
            return existing
        call = _Call("create_issue", f"creating an issue in project {request.project}", project=request.project)
        try:
            key = self._create(request, call, with_priority=request.priority is not None)
        except _PriorityRejected:
            logger.warning("Jira project %s rejected priority %r; filing without it", request.project, request.priority)
            key = self._create(request, call, with_priority=False)
        logger.info("Jira issue %s filed for %s", key, request.dedupe_label)
        return Ticket(key=key, url=self.issue_url(key), status=None)

    def find_by_label(self, label: str) -> Ticket | None:
        """The oldest issue carrying `label`, if any."""
        call = _Call("search", f"searching for an issue labelled {label}")
        jql = f'labels = "{_jql_escape(label)}" ORDER BY created ASC'
        with self._errors(call):
            found = self._jira().search_issues(jql, maxResults=1, fields="status", json_result=True)
        issues = found.get("issues") or []
        if not issues:
            return None
        raw = issues[0]
        return Ticket(key=raw["key"], url=self.issue_url(raw["key"]), status=_status_name(raw))

    def add_comment(self, key: str, body: str) -> None:
        with self._errors(_Call("add_comment", f"commenting on {key}", key=key)):
            self._jira().add_comment(key, body)

    def attach(self, key: str, filename: str, content: bytes) -> None:
        """Attach `content` as `filename` (Jira refuses empty files)."""
        call = _Call("add_attachment", f"attaching {filename} to {key}", key=key)
        if not content:
            raise TrackerError(f"Not {call.action}: the file is empty", retryable=False)
        with self._errors(call):
            self._jira().add_attachment(key, BytesIO(content), filename=filename)

    def add_remote_link(self, key: str, url: str, title: str) -> None:
        """Link `url` from the issue; linking the same URL again updates that link (same globalId).

        The title is plain text in Jira; it may carry a file name someone chose, so it is made one clean line.
        """
        global_id = "triage-bot:" + hashlib.sha256(url.encode()).hexdigest()[:32]
        link = {"url": url, "title": plain_line(title)}
        with self._errors(_Call("add_remote_link", f"linking {key} to {url}", key=key)):
            self._jira().add_remote_link(key, link, globalId=global_id)

    def get_status(self, key: str) -> str:
        """The issue's status name, e.g. `In Progress`."""
        with self._errors(_Call("get_status", f"reading the status of {key}", key=key)):
            issue = self._jira().issue(key, fields="status")
        status = _status_name(issue.raw)
        if status is None:
            raise TrackerError(f"Jira returned {key} without a status", retryable=False)
        return status

    def issue_url(self, key: str) -> str:
        return f"{self.url}/browse/{key}"

    # --- client and calls ----------------------------------------------------------------------

    def _jira(self) -> JIRA:
        """The client, built (and serverInfo checked) on first use, once across threads."""
        client = self._client
        if client is not None:
            return client
        with self._lock:
            if self._client is None:
                self._client = self._connect()
            return self._client

    def _connect(self) -> JIRA:
        with self._errors(CONNECTING):
            try:
                return JIRA(
                    options={"server": self.url},
                    basic_auth=(self.user, self._token),
                    timeout=self.timeout,
                    max_retries=self.max_retries,
                    get_server_info=True,
                )
            except (KeyError, TypeError):  # serverInfo without versionNumbers: not a Jira
                message = f"No Jira REST API at {self.url} (check JIRA_URL)"
                raise TrackerError(message, retryable=False, kind="not_jira") from None

    def _create(self, request: TicketRequest, call: _Call, *, with_priority: bool) -> str:
        fields: dict[str, Any] = {
            "project": {"key": request.project},
            "summary": plain_line(request.summary),  # Jira refuses a summary with a line break
            "description": request.description,
            "issuetype": {"name": request.issue_type},
            "labels": request.all_labels,
        }
        if with_priority:
            fields["priority"] = {"name": request.priority}
        with self._errors(call, priority_fallback=with_priority):
            issue = self._jira().create_issue(fields=fields, prefetch=False)
        return str(issue.key)

    @contextmanager
    def _errors(self, call: _Call, *, priority_fallback: bool = False) -> Iterator[None]:
        """Time the call (and count its failure) in the Jira metrics, with its errors translated."""
        with timed_jira_call(call.operation), self._translated(call, priority_fallback=priority_fallback):
            yield

    @contextmanager
    def _translated(self, call: _Call, *, priority_fallback: bool) -> Iterator[None]:
        """Turn whatever the library or `requests` raises into a `TrackerError` (or `_PriorityRejected`)."""
        try:
            yield
        except (TrackerError, _PriorityRejected):
            raise
        except JIRAError as exc:
            if priority_fallback and exc.status_code == 400 and "priority" in _error_fields(exc):
                raise _PriorityRejected from None
            raise self._redacted(_from_jira_error(exc, call, self.url)) from None
        except requests.Timeout:
            message = f"Jira did not answer within {self.timeout:g}s while {call.action}"
            raise TrackerError(message, retryable=True, kind="timeout") from None
        except requests.JSONDecodeError:
            message = f"Jira answered with something that is not JSON while {call.action} (check JIRA_URL)"
            raise TrackerError(message, retryable=False, kind="not_json") from None
        except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema, requests.exceptions.InvalidSchema):
            message = f"JIRA_URL is not a valid URL: {self.url}"
            raise TrackerError(message, retryable=False, kind="invalid_url") from None
        except requests.RequestException as exc:
            message = f"Could not reach Jira at {self.url} while {call.action} ({type(exc).__name__})"
            raise TrackerError(message, retryable=True, kind="connection_error") from None
        except (ValueError, KeyError, TypeError) as exc:  # an answer the library could not make sense of
            logger.warning("Unexpected Jira answer while %s: %s", call.action, type(exc).__name__)
            message = f"Jira gave an unexpected answer while {call.action} ({type(exc).__name__})"
            raise TrackerError(message, retryable=False, kind="unexpected_answer") from None

    def _redacted(self, error: TrackerError) -> TrackerError:
        """The error, with the token blanked out should the server have echoed it."""
        if self._token and self._token in error.message:
            error.message = error.message.replace(self._token, "***")
            error.args = (error.message,)
        return error


class _PriorityRejected(Exception):
    """Jira refused the priority of a new issue (unknown name, or the field is not on the screen)."""

    kind = "priority_rejected"


def _check_labels(request: TicketRequest) -> None:
    """Jira labels are 1-255 characters without whitespace; refuse others before calling Jira."""
    for label in request.all_labels:
        if not label or len(label) > LABEL_LIMIT or any(ch.isspace() for ch in label):
            message = (
                f"Not filing in {request.project}: invalid Jira label {label[:60]!r} (1-{LABEL_LIMIT} chars, no spaces)"
            )
            raise TrackerError(message, retryable=False)


# --- error classification ----------------------------------------------------------------------


def _from_jira_error(exc: JIRAError, call: _Call, url: str) -> TrackerError:
    status = exc.status_code
    detail = _detail(exc)
    if status is None:
        return TrackerError(f"Jira call failed while {call.action}{_suffix(detail)}", retryable=False)
    if status == 429:
        retry_after = _retry_after(exc)
        wait = f"; retry after {retry_after:g}s" if retry_after is not None else ""
        return TrackerError(
            f"Jira rate-limited the bot while {call.action}{wait}",
            retryable=True,
            status=status,
            retry_after=retry_after,
        )
    if status >= 500:
        message = f"Jira failed with HTTP {status} while {call.action}{_suffix(detail)}"
        return TrackerError(message, retryable=True, status=status, retry_after=_retry_after(exc))
    return TrackerError(_client_error_message(status, detail, call, url), retryable=False, status=status)


def _client_error_message(status: int, detail: str, call: _Call, url: str) -> str:
    """Why a 4xx happened, in terms a person can act on."""
    if status == 401:
        return "Jira rejected the credentials (JIRA_USER/JIRA_API_TOKEN)"
    if status == 403:
        project = call.project or (call.key.rsplit("-", 1)[0] if call.key else None)
        where = f"no permission for project {project}" if project else "no permission"
        return f"Jira user has {where} while {call.action}{_suffix(detail)}"
    if status == 404 and call.key:
        return f"Jira issue {call.key} does not exist or the bot cannot see it"
    if status == 404:
        return f"Jira answered HTTP 404 while {call.action}: is JIRA_URL ({url}) right?"
    if status == 400:
        return f"Jira rejected the request while {call.action}{_suffix(detail)}"
    return f"Jira answered HTTP {status} while {call.action}{_suffix(detail)}"


def _suffix(detail: str) -> str:
    return f": {detail}" if detail else ""


def _response_json(exc: JIRAError) -> dict[str, Any]:
    response = exc.response
    if response is None:
        return {}
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _error_fields(exc: JIRAError) -> dict[str, str]:
    errors = _response_json(exc).get("errors")
    return {str(k): str(v) for k, v in errors.items()} if isinstance(errors, dict) else {}


def _detail(exc: JIRAError) -> str:
    """Jira's own `errorMessages` and per-field `errors`, one line, at most DETAIL_LIMIT characters."""
    body = _response_json(exc)
    messages = body.get("errorMessages")
    parts = [str(m) for m in messages] if isinstance(messages, list) else []
    parts += [f"{name}: {text}" for name, text in _error_fields(exc).items()]
    if not parts and body.get("message"):
        parts = [str(body["message"])]
    if not parts and exc.text and exc.response is None:
        parts = [str(exc.text)]
    text = " ".join("; ".join(parts).split())
    return text if len(text) <= DETAIL_LIMIT else text[: DETAIL_LIMIT - 1] + "…"


def _retry_after(exc: JIRAError) -> float | None:
    """Retry-After as seconds (it may be a number or an HTTP date)."""
    value = exc.response.headers.get("Retry-After") if exc.response is not None else None
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)


def _status_name(raw: dict[str, Any] | None) -> str | None:
    status = ((raw or {}).get("fields") or {}).get("status")
    return str(status["name"]) if isinstance(status, dict) and status.get("name") else None


def _jql_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')
