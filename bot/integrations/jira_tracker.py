"""The one Jira client: tickets for escalations through the `jira` library, errors classified for the outbox.

The `jira.JIRA` client calls `serverInfo` when it is built, so it is built lazily, on the first call
(from the outbox worker, never on a Slack request path). Every failure becomes a one-line
`TrackerError` saying whether a later attempt can succeed; the API token never appears in one.

Jira Cloud (shared/jira/CLOUD.md): search is the enhanced `/search/jql`, eventually consistent, so a label search
is only a second line behind the keys the outbox keeps; and each project has its own issue types, priority scheme
and required fields, checked (`createmeta`, `/priority`) the first time a ticket goes to a project, so a missing
one is named in one line rather than answered with Jira's 400.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from io import BytesIO
from typing import Any, cast

import jira
import requests
from jira import JIRA, JIRAError

from bot.domain.jira_text import plain_line
from bot.observability.metrics import timed_jira_call
from bot.observability.redaction import register_secrets

__all__ = [
    "CreateScreen",
    "JiraTracker",
    "PreparedTicket",
    "Ticket",
    "TicketRequest",
    "TrackerError",
]

logger = logging.getLogger(__name__)

DETAIL_LIMIT = 300
LABEL_LIMIT = 255
RECONCILE_LIMIT = 50  # Jira Cloud reconciles at most 50 issue ids per search
META_PAGES = 20  # createmeta pages read at most (50 items each)
FILLED_FIELDS = frozenset({"project", "issuetype", "summary", "description", "labels", "priority"})


@dataclass(frozen=True)
class TicketRequest:
    """What to file; `dedupe_label` is unique per escalation (e.g. `triage-inc-7-engineering`).

    `project_setting` and `issue_type_setting` name the settings a person changes when Jira lacks the project or
    the issue type, so the error can say what to set.
    """

    project: str
    summary: str
    description: str
    issue_type: str = "Bug"
    priority: str | None = None
    labels: tuple[str, ...] = ()
    dedupe_label: str = field(kw_only=True)
    project_setting: str = field(default="JIRA_PROJECT", kw_only=True)
    issue_type_setting: str = field(default="JIRA_ISSUE_TYPE", kw_only=True)

    @property
    def all_labels(self) -> list[str]:
        """The labels to set: the given ones, then the dedupe label, without repeats."""
        return list(dict.fromkeys((*self.labels, self.dedupe_label)))


@dataclass(frozen=True)
class Ticket:
    """A Jira issue; `note` is one line for people about how it was filed (e.g. without a priority, and why)."""

    key: str
    url: str
    status: str | None
    id: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class CreateScreen:
    """What a project's create screen takes for one issue type, from `createmeta`."""

    project: str
    issue_type: str  # as Jira spells it
    issue_type_id: str
    priorities: tuple[str, ...] | None  # the project's priority scheme; None: no priority field on the screen
    unfilled_required: tuple[str, ...] = ()  # names of required fields the bot does not fill

    def priority_named(self, wanted: str) -> str | None:
        """The scheme's spelling of `wanted`, if the scheme has it."""
        return next((p for p in self.priorities or () if p.casefold() == wanted.casefold()), None)


@dataclass(frozen=True)
class PreparedTicket:
    """A ticket checked against its project's create screen: the fields to send, and what people should know."""

    request: TicketRequest
    fields: dict[str, Any]
    note: str | None = None


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
        self._screens: dict[tuple[str, str], CreateScreen] = {}  # (project, issue type) → its create screen
        self._warned: set[str] = set()

    def __repr__(self) -> str:
        return f"JiraTracker(url={self.url!r}, user={self.user!r})"

    # --- public API ----------------------------------------------------------------------------

    def create_ticket(self, request: TicketRequest, *, reconcile: Iterable[str | int] = ()) -> Ticket:
        """File the issue once: an issue Jira's search shows with `request.dedupe_label` is returned instead.

        Search is eventually consistent on Jira Cloud, so this is a second line: the outbox first looks for the
        key it stored when Jira answered, and waits out the search lag after a create whose answer was lost.
        """
        _check_labels(request)
        existing = self.find_by_label(request.dedupe_label, reconcile=reconcile)
        if existing is not None:
            logger.info("Jira issue %s already filed for %s", existing.key, request.dedupe_label)
            return existing
        return self.create(self.prepare(request))

    def prepare(self, request: TicketRequest) -> PreparedTicket:
        """Check the ticket against its project's create screen (fetched once per project and issue type).

        A missing project, issue type or required field is a `TrackerError` naming what is missing and what to
        set; a priority the project's scheme lacks is left out, and said so in the note.
        """
        _check_labels(request)
        screen = self.create_screen(request)
        fields: dict[str, Any] = {
            "project": {"key": request.project},
            "summary": plain_line(request.summary),  # Jira refuses a summary with a line break
            "description": request.description,
            "issuetype": {"id": screen.issue_type_id},
            "labels": request.all_labels,
        }
        note = None
        if request.priority is not None:
            named = screen.priority_named(request.priority)
            if named is not None:
                fields["priority"] = {"name": named}
            else:
                note = _no_priority_note(screen, request.priority)
                self._warn_once(request.project, note)
        return PreparedTicket(request, fields, note)

    def create(self, prepared: PreparedTicket) -> Ticket:
        """Send the create; the answer's key and id are the caller's to keep at once."""
        request = prepared.request
        call = _Call("create_issue", f"creating an issue in project {request.project}", project=request.project)
        fields, note = prepared.fields, prepared.note
        try:
            issue_id, key = self._create(fields, call)
        except _PriorityRejected:  # the scheme changed since it was read
            self._forget_screen(request)
            fields = {name: value for name, value in fields.items() if name != "priority"}
            note = f"Jira project {request.project} refused priority '{request.priority}'; filed without a priority"
            logger.warning("%s (check JIRA_PRIORITIES)", note)
            issue_id, key = self._create(fields, call)
        except TrackerError as exc:
            if exc.status == 400:
                self._forget_screen(request)  # read the project's screen afresh next time
            raise
        logger.info("Jira issue %s filed for %s", key, request.dedupe_label)
        return Ticket(key=key, url=self.issue_url(key), status=None, id=issue_id, note=note)

    def find_by_label(self, label: str, *, reconcile: Iterable[str | int] = ()) -> Ticket | None:
        """The oldest issue carrying `label`, if search shows one; `reconcile` lists issue ids (at most 50) that
        Jira Cloud must include even while its index lags behind them."""
        call = _Call("search", f"searching for an issue labelled {label}")
        jql = f'labels = "{_jql_escape(label)}" ORDER BY created ASC'
        ids = [int(i) for i in dict.fromkeys(str(i) for i in reconcile) if i.isdigit()][:RECONCILE_LIMIT]
        with self._errors(call):
            client = self._jira()
            if client.deploymentType == "Cloud":
                found = client.enhanced_search_issues(
                    jql, maxResults=1, fields=["status"], reconcileIssues=ids, json_result=True
                )
            else:  # Data Center keeps the classic search (and has no reconcileIssues)
                found = client.search_issues(jql, maxResults=1, fields="status", json_result=True)
        issues = cast(dict[str, Any], found).get("issues") or []
        if not issues:
            return None
        raw = issues[0]
        return Ticket(key=raw["key"], url=self.issue_url(raw["key"]), status=_status_name(raw), id=str(raw["id"]))

    def create_screen(self, request: TicketRequest) -> CreateScreen:
        """The project's create screen for the request's issue type, cached per process once it can be used.

        What cannot be used (no such project, issue type, or a required field the bot does not fill) is not
        cached: it is checked again next time, so fixing it in Jira is enough.
        """
        cache_key = (request.project.casefold(), request.issue_type.casefold())
        cached = self._screens.get(cache_key)
        if cached is not None:
            return cached
        types = self._project_issue_types(request)
        named = next((name for name in types if name.casefold() == request.issue_type.casefold()), None)
        if named is None:
            raise TrackerError(_missing_type_message(request, list(types)), retryable=False, kind="missing_issue_type")
        screen = self._screen_fields(request, named, types[named])
        if screen.unfilled_required:
            needed = ", ".join(screen.unfilled_required)
            message = (
                f"Jira project {request.project} requires {needed} on a {named}, which the bot does not fill; "
                f"make it optional there or set {request.issue_type_setting} to a type that does not require it"
            )
            raise TrackerError(message, retryable=False, kind="missing_field")
        self._screens[cache_key] = screen
        return screen

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
                client = JIRA(
                    options={"server": self.url},
                    basic_auth=(self.user, self._token),
                    timeout=self.timeout,
                    max_retries=self.max_retries,
                    get_server_info=True,
                )
            except (KeyError, TypeError):  # serverInfo without versionNumbers: not a Jira
                message = f"No Jira REST API at {self.url} (check JIRA_URL)"
                raise TrackerError(message, retryable=False, kind="not_jira") from None
        if client.deploymentType == "Cloud" and not hasattr(client, "enhanced_search_issues"):
            message = (
                f"The installed jira library ({jira.__version__}) cannot search Jira Cloud, which removed "
                "/rest/api/2/search; install jira>=3.10"
            )
            raise TrackerError(message, retryable=False, kind="old_library")
        return client

    def _create(self, fields: dict[str, Any], call: _Call) -> tuple[str, str]:
        with self._errors(call, priority_fallback="priority" in fields):
            issue = self._jira().create_issue(fields=fields, prefetch=False)
        return str(issue.id), str(issue.key)

    def _project_issue_types(self, request: TicketRequest) -> dict[str, str]:
        """Issue type name → id, for the types the bot may create in the project."""
        call = _Call("create_meta", f"reading the issue types of project {request.project}", project=request.project)
        try:
            items = self._meta_items(f"issue/createmeta/{request.project}/issuetypes", "issueTypes", call)
        except TrackerError as exc:
            if exc.status != 404:
                raise
            message = f"Jira has no project {request.project} the bot may file in; set {request.project_setting}"
            raise TrackerError(message, retryable=False, status=404, kind="missing_project") from None
        return {str(item["name"]): str(item["id"]) for item in items if item.get("name") and item.get("id")}

    def _screen_fields(self, request: TicketRequest, issue_type: str, type_id: str) -> CreateScreen:
        action = f"reading the {issue_type} fields of project {request.project}"
        call = _Call("create_meta", action, project=request.project)
        items = self._meta_items(f"issue/createmeta/{request.project}/issuetypes/{type_id}", "fields", call)
        priorities: tuple[str, ...] | None = None
        unfilled = []
        for item in items:
            field_id = str(item.get("fieldId") or item.get("key") or "")
            if field_id == "priority":
                allowed = [str(v["name"]) for v in item.get("allowedValues") or () if v.get("name")]
                priorities = tuple(allowed) or self._site_priorities()
            elif item.get("required") and not item.get("hasDefaultValue") and field_id not in FILLED_FIELDS:
                unfilled.append(str(item.get("name") or field_id))
        return CreateScreen(request.project, issue_type, type_id, priorities, tuple(unfilled))

    def _site_priorities(self) -> tuple[str, ...]:
        """Every priority of the site (`/priority`), for a screen whose priority field lists none."""
        with self._errors(_Call("create_meta", "reading Jira's priorities")):
            return tuple(str(p.name) for p in self._jira().priorities())

    def _meta_items(self, path: str, cloud_key: str, call: _Call) -> list[dict[str, Any]]:
        """Every item of a paged createmeta answer (`cloud_key` on Jira Cloud, `values` on Data Center).

        The library's own createmeta methods refuse Jira Cloud (pycontribs/jira#2353) although Cloud serves these
        endpoints, so they are read through its authenticated JSON getter.
        """
        items: list[dict[str, Any]] = []
        with self._errors(call):
            for _ in range(META_PAGES):
                page = self._jira()._get_json(path, params={"startAt": len(items), "maxResults": 50})
                batch = page.get(cloud_key, page.get("values")) if isinstance(page, dict) else None
                if not isinstance(batch, list):
                    raise ValueError(f"createmeta answered without {cloud_key}")
                items += [item for item in batch if isinstance(item, dict)]
                total = page.get("total")
                if not batch or page.get("isLast") or (isinstance(total, int) and len(items) >= total):
                    break
        return items

    def _forget_screen(self, request: TicketRequest) -> None:
        self._screens.pop((request.project.casefold(), request.issue_type.casefold()), None)

    def _warn_once(self, project: str, note: str) -> None:
        """Log a project's scheme problem once per process (each ticket still carries its note)."""
        if project not in self._warned:
            self._warned.add(project)
            logger.warning("%s", note)

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


def _missing_type_message(request: TicketRequest, available: list[str]) -> str:
    if not available:
        return (
            f"Jira project {request.project} offers the bot no issue types; "
            "give JIRA_USER the Create issues permission there"
        )
    return (
        f"Jira project {request.project} has no issue type '{request.issue_type}' "
        f"(it has {', '.join(available)}); set {request.issue_type_setting}"
    )


def _no_priority_note(screen: CreateScreen, wanted: str) -> str:
    if screen.priorities is None:
        return f"Jira project {screen.project} has no priority field on {screen.issue_type}; filed without a priority"
    return (
        f"Jira project {screen.project} has no priority '{wanted}' (it has {', '.join(screen.priorities)}); "
        "filed without a priority — set JIRA_PRIORITIES"
    )


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
