"""A fake Jira REST API (Jira Cloud by default, or Server/Data Center) as an in-memory, thread-safe WSGI app.

It serves what `bot.integrations.jira_tracker` makes the `jira` library call, with Jira's status codes
and error bodies, plus controls to inspect what was stored and to inject faults (5xx, 429, outages, delays).

As Jira Cloud does (see shared/jira/CLOUD.md): `serverInfo` says `deploymentType: "Cloud"`; the old
`/rest/api/{2,3}/search` answers 410 Gone; `/rest/api/{2,3}/search/jql` returns only issue ids unless `fields`
is given, pages with an opaque `nextPageToken` (no `total`, no `startAt`), is eventually consistent when told to
be (`set_search_lag`) and honours `reconcileIssues`; each project has its own issue types, priority scheme and
required fields, told by `createmeta` and enforced on create with Jira's 400 error body.
"""

from __future__ import annotations

import base64
import binascii
import copy
import hmac
import itertools
import json
import re
import threading
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, unquote
from wsgiref.types import StartResponse, WSGIEnvironment

__all__ = ["FakeJira", "JqlError"]

JsonDict = dict[str, Any]
API = "/rest/api/2"
API_V3 = "/rest/api/3"
PRIORITIES = ("Highest", "High", "Medium", "Low", "Lowest")
ISSUE_TYPES = ("Bug", "Task", "Story", "Epic", "Incident")
TRANSITIONS = (("11", "To Do"), ("21", "In Progress"), ("31", "Done"))
SETTABLE_FIELDS = {"project", "issuetype", "summary", "description", "priority", "labels"}
SEARCH_REMOVED = (
    "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. "
    "A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046"
)
UNBOUNDED_JQL = "Unbounded JQL queries are not allowed here. Please add a search restriction to your query."
RECONCILE_LIMIT = 50  # Jira Cloud reconciles at most 50 issue ids per search
PAGE_LIMIT_IDS, PAGE_LIMIT_FIELDS = 5000, 100  # the enhanced search's largest page, ids only / with fields
SERVER_INFO = {
    "Cloud": {"version": "1001.0.0-SNAPSHOT", "versionNumbers": [1001, 0, 0], "buildNumber": 100282},
    "Server": {"version": "9.12.2", "versionNumbers": [9, 12, 2], "buildNumber": 9120002},
}
FIELDS = (
    ("summary", "Summary"),
    ("description", "Description"),
    ("status", "Status"),
    ("labels", "Labels"),
    ("priority", "Priority"),
    ("issuetype", "Issue Type"),
    ("project", "Project"),
    ("created", "Created"),
    ("updated", "Updated"),
    ("comment", "Comment"),
    ("attachment", "Attachment"),
)


class ApiError(Exception):
    """A Jira error response: status, the usual `errorMessages`/`errors` body, extra headers."""

    def __init__(
        self,
        status: int,
        messages: Iterable[str] = (),
        errors: dict[str, str] | None = None,
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        super().__init__(status)
        self.status = status
        self.body: JsonDict = {"errorMessages": list(messages), "errors": dict(errors or {})}
        self.headers = headers or []


class JqlError(ValueError):
    """JQL this fake does not understand (or that is wrong)."""


@dataclass
class _Response:
    status: int
    body: Any = None
    headers: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class _Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    base_url: str

    def json(self) -> Any:
        """The body as JSON (400 in Jira's words when it is not)."""
        if not self.body.strip():
            return {}
        try:
            return json.loads(self.body)
        except ValueError:
            raise ApiError(400, ["Unexpected character in the request body: it is not valid JSON."]) from None


@dataclass
class _Fault:
    """Answer matching requests with `status` (`remaining` times; None = until cleared)."""

    status: int
    remaining: int | None
    retry_after: float | None = None
    path_contains: str | None = None
    method: str | None = None

    def matches(self, request: _Request) -> bool:
        return (self.path_contains is None or self.path_contains in request.path) and (
            self.method is None or self.method.upper() == request.method
        )


@dataclass
class _Delay:
    seconds: float
    path_contains: str | None = None
    method: str | None = None

    def matches(self, request: _Request) -> bool:
        return (self.path_contains is None or self.path_contains in request.path) and (
            self.method is None or self.method.upper() == request.method
        )


# --- JQL ---------------------------------------------------------------------------------------

_JQL_TOKEN = re.compile(r'\s*("(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|!=|=|[(),]|[^\s=!(),"\']+)')
_JQL_FIELDS = {"labels", "project", "key", "issuekey", "status", "issuetype", "type", "priority"}
_ORDER_FIELDS = {"created", "updated", "key", "issuekey"}


@dataclass(frozen=True)
class _Clause:
    field: str
    operator: str  # "=", "!=", "in", "not in"
    values: tuple[str, ...]


@dataclass(frozen=True)
class _Query:
    clauses: tuple[_Clause, ...]
    order: tuple[tuple[str, bool], ...]  # (field, descending)


def _tokenize(jql: str) -> list[str]:
    tokens: list[str] = []
    position = 0
    jql = jql.rstrip()
    while position < len(jql):
        match = _JQL_TOKEN.match(jql, position)
        if match is None:
            raise JqlError(f"Error in the JQL Query: unexpected character at position {position}.")
        tokens.append(match.group(1))
        position = match.end()
    return tokens


def _unquote(token: str) -> str:
    if len(token) >= 2 and token[0] == token[-1] and token[0] in "\"'":
        return re.sub(r"\\(.)", r"\1", token[1:-1])
    return token


class _JqlParser:
    """Parses `field = value [AND field != value | field in (a, b)]* [ORDER BY field [ASC|DESC], ...]`."""

    def __init__(self, jql: str) -> None:
        self.tokens = _tokenize(jql)
        self.position = 0

    def parse(self) -> _Query:
        clauses: list[_Clause] = []
        if self._peek() and not self._at_keyword("order"):
            clauses.append(self._clause())
            while self._at_keyword("and"):
                self.position += 1
                clauses.append(self._clause())
        order = self._order_by() if self._at_keyword("order") else ()
        if self._peek() is not None:
            raise JqlError(f"Error in the JQL Query: expecting AND or ORDER BY but got '{self._peek()}'.")
        return _Query(tuple(clauses), order)

    def _peek(self) -> str | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def _take(self, what: str) -> str:
        token = self._peek()
        if token is None:
            raise JqlError(f"Error in the JQL Query: expecting {what} but reached the end of the query.")
        self.position += 1
        return token

    def _at_keyword(self, word: str) -> bool:
        token = self._peek()
        return token is not None and token.lower() == word

    def _clause(self) -> _Clause:
        name = _unquote(self._take("a field name")).lower()
        if name not in _JQL_FIELDS:
            raise JqlError(f"Field '{name}' does not exist or you do not have permission to view it.")
        operator = self._take("an operator").lower()
        if operator == "not" and self._at_keyword("in"):
            self.position += 1
            operator = "not in"
        if operator in {"in", "not in"}:
            return _Clause(name, operator, self._value_list())
        if operator not in {"=", "!="}:
            raise JqlError(f"Error in the JQL Query: the operator '{operator}' is not supported here.")
        return _Clause(name, operator, (_unquote(self._take("a value")),))

    def _value_list(self) -> tuple[str, ...]:
        if self._take("'('") != "(":
            raise JqlError("Error in the JQL Query: expecting '(' after IN.")
        values = [_unquote(self._take("a value"))]
        while (token := self._take("')'")) == ",":
            values.append(_unquote(self._take("a value")))
        if token != ")":
            raise JqlError("Error in the JQL Query: expecting ')' to close the list.")
        return tuple(values)

    def _order_by(self) -> tuple[tuple[str, bool], ...]:
        self.position += 1
        if not self._at_keyword("by"):
            raise JqlError("Error in the JQL Query: expecting BY after ORDER.")
        self.position += 1
        order = [self._order_term()]
        while self._peek() == ",":
            self.position += 1
            order.append(self._order_term())
        return tuple(order)

    def _order_term(self) -> tuple[str, bool]:
        name = self._take("a field to order by").lower()
        if name not in _ORDER_FIELDS:
            raise JqlError(f"Not able to sort using field '{name}'.")
        descending = False
        if self._at_keyword("asc") or self._at_keyword("desc"):
            descending = self._take("a direction").lower() == "desc"
        return ("key" if name == "issuekey" else name, descending)


# --- the fake ----------------------------------------------------------------------------------

Handler = Callable[[_Request, "re.Match[str]"], _Response]


@dataclass
class _Lag:
    """A new issue Jira's search does not show yet: until `visible_at` (fake clock) and `searches` more searches."""

    visible_at: float
    searches: int

    def hides(self, now: float) -> bool:
        return now < self.visible_at or self.searches > 0


class FakeJira:
    """In-memory Jira: projects, issues, comments, attachments, remote links; basic auth; injectable faults.

    `clock` (seconds) measures search lag; give it the tests' clock to make lag follow it.
    """

    def __init__(
        self,
        user: str = "bot@example.com",
        token: str = "jira-token",
        *,
        deployment_type: str = "Cloud",
        clock: Callable[[], float] = time.monotonic,
    ):
        if deployment_type not in SERVER_INFO:
            raise ValueError("deployment_type is 'Cloud' or 'Server'")
        self.user = user
        self.token = token
        self.deployment_type = deployment_type
        self.clock = clock
        self._lock = threading.RLock()
        self._ids = itertools.count(10001)
        self._projects: dict[str, JsonDict] = {}
        self._issues: dict[str, JsonDict] = {}  # by key, in creation order
        self._issue_types: list[str] = list(ISSUE_TYPES)  # the site's, in id order; projects use some of them
        self._priorities: list[str] = list(PRIORITIES)  # likewise
        self._lag_seconds = 0.0
        self._lag_searches = 0
        self._unindexed: dict[str, _Lag] = {}  # by issue id
        self._requests: list[tuple[str, str]] = []
        self._faults: list[_Fault] = []
        self._delays: list[_Delay] = []
        self._down = False
        self._wake = threading.Event()
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = self._build_routes()
        self.add_project("ENG", "Engineering")
        self.add_project("PROD", "Product")

    # --- inspection and control ----------------------------------------------------------------

    def add_project(
        self,
        key: str,
        name: str | None = None,
        *,
        issue_types: Iterable[str] = ISSUE_TYPES,
        priorities: Iterable[str] = PRIORITIES,
        required_fields: dict[str, str] | None = None,
    ) -> None:
        """Create (or replace) a project new issues can be filed in, with its own scheme.

        `priorities` is the project's priority scheme (empty: no priority field on its screens, as in many
        team-managed projects); `required_fields` maps custom field ids to names that every new issue must set.
        """
        with self._lock:
            types, schemes = tuple(issue_types), tuple(priorities)
            self._issue_types += [t for t in types if t not in self._issue_types]
            self._priorities += [p for p in schemes if p not in self._priorities]
            existing = self._projects.get(key)
            self._projects[key] = {
                "id": existing["id"] if existing else str(next(self._ids)),
                "key": key,
                "name": name or key,
                "counter": existing["counter"] if existing else 0,
                "issue_types": types,
                "priorities": schemes,
                "required": dict(required_fields or {}),
            }

    def set_search_lag(self, seconds: float = 0.0, searches: int = 0) -> None:
        """Make search eventually consistent: an issue created from now on is missing from search results for
        `seconds` (by `clock`) and for its next `searches` searches, unless a search lists its id in
        `reconcileIssues`. Zero for both: searches see new issues at once."""
        with self._lock:
            self._lag_seconds, self._lag_searches = max(seconds, 0.0), max(searches, 0)

    def issues(self, project: str | None = None) -> list[JsonDict]:
        """Every issue (oldest first) as a flat dict: key, project, summary, description, status, labels…"""
        with self._lock:
            return [self._public(issue) for issue in self._issues.values() if project in (None, issue["project"])]

    def issue(self, key: str) -> JsonDict:
        with self._lock:
            return self._public(self._stored(key))

    def comments(self, key: str) -> list[JsonDict]:
        with self._lock:
            return copy.deepcopy(self._stored(key)["comments"])

    def attachments(self, key: str) -> list[JsonDict]:
        """Attachments of an issue: id, filename, content (bytes), mime_type, size."""
        with self._lock:
            return copy.deepcopy(self._stored(key)["attachments"])

    def remote_links(self, key: str) -> list[JsonDict]:
        """Remote links of an issue: id, url, title, global_id."""
        with self._lock:
            return copy.deepcopy(self._stored(key)["remote_links"])

    def requests(self) -> list[tuple[str, str]]:
        """Every request received, as (method, path), faults and rejected ones included."""
        with self._lock:
            return list(self._requests)

    def set_status(self, key: str, name: str) -> None:
        """Move an issue to a status, as an engineer would."""
        with self._lock:
            issue = self._stored(key)
            issue["status"] = name
            issue["updated"] = _now()

    def fail_next(
        self,
        status: int = 503,
        times: int = 1,
        retry_after: float | None = None,
        path_contains: str | None = None,
        method: str | None = None,
    ) -> None:
        """Answer the next `times` matching requests with `status` (and Retry-After if given), doing nothing."""
        with self._lock:
            self._faults.append(_Fault(status, times, retry_after, path_contains, method))

    def set_down(self, down: bool = True) -> None:
        """While down, every request gets 503."""
        with self._lock:
            self._down = down

    def set_delay(self, seconds: float, path_contains: str | None = None, method: str | None = None) -> None:
        """Sleep `seconds` after handling each matching request and before answering it (0 = no delay)."""
        with self._lock:
            self._delays = [_Delay(seconds, path_contains, method)] if seconds > 0 else []

    def clear_faults(self) -> None:
        """Remove failures, outage and delays; requests sleeping in a delay are answered now."""
        with self._lock:
            self._faults.clear()
            self._delays.clear()
            self._down = False
            self._wake.set()
            self._wake = threading.Event()

    # --- WSGI ----------------------------------------------------------------------------------

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        request = _parse_request(environ)
        with self._lock:
            self._requests.append((request.method, request.path))
            response = self._respond(request)
            delay = next((d.seconds for d in self._delays if d.matches(request)), 0.0)
            wake = self._wake
        if delay:
            wake.wait(delay)
        return _send(start_response, response)

    def _respond(self, request: _Request) -> _Response:
        try:
            self._check_faults(request)
            self._check_auth(request)
            return self._dispatch(request)
        except ApiError as exc:
            return _Response(exc.status, exc.body, exc.headers)

    def _check_faults(self, request: _Request) -> None:
        if self._down:
            raise ApiError(503, ["Jira is unavailable (fake outage)."])
        fault = next((f for f in self._faults if f.matches(request)), None)
        if fault is None:
            return
        if fault.remaining is not None:
            fault.remaining -= 1
            if fault.remaining <= 0:
                self._faults.remove(fault)
        headers = [("Retry-After", f"{fault.retry_after:g}")] if fault.retry_after is not None else []
        raise ApiError(fault.status, [f"Injected failure {fault.status}."], headers=headers)

    def _check_auth(self, request: _Request) -> None:
        header = request.headers.get("authorization", "")
        scheme, _, encoded = header.partition(" ")
        try:
            user, _, token = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            user, token = "", ""
        valid = scheme.lower() == "basic" and hmac.compare_digest(f"{user}:{token}", f"{self.user}:{self.token}")
        if not valid:
            raise ApiError(
                401,
                ["You are not authenticated. Authentication required to perform this operation."],
                headers=[("WWW-Authenticate", 'Basic realm="protected-area"')],
            )

    def _dispatch(self, request: _Request) -> _Response:
        allowed = False
        for method, pattern, handler in self._routes:
            match = pattern.fullmatch(request.path)
            if match is None:
                continue
            if method == request.method:
                return handler(request, match)
            allowed = True
        if allowed:
            raise ApiError(405, [f"Method {request.method} is not allowed on {request.path}."])
        raise ApiError(404, [f"null for uri: {request.base_url}{request.path}"])

    def _build_routes(self) -> list[tuple[str, re.Pattern[str], Handler]]:
        issue = rf"{API}/issue/(?P<key>[^/]+)"
        createmeta = rf"{API}/issue/createmeta/(?P<project>[^/]+)/issuetypes"
        table: list[tuple[str, str, Handler]] = [
            ("GET", rf"{API}/serverInfo", self._server_info),
            ("GET", rf"{API}/myself", self._myself),
            ("GET", rf"{API}/field", self._fields),
            ("GET", rf"{API}/priority", self._priorities_list),
            ("GET", rf"{API}/project", self._project_list),
            ("GET", rf"{API}/project/(?P<key>[^/]+)", self._project),
            ("GET", createmeta, self._createmeta_issue_types),
            ("GET", rf"{createmeta}/(?P<type_id>[^/]+)", self._createmeta_fields),
            ("POST", rf"{API}/issue", self._create_issue),
            ("GET", issue, self._get_issue),
            ("GET", rf"{issue}/comment", self._list_comments),
            ("POST", rf"{issue}/comment", self._add_comment),
            ("GET", rf"{issue}/transitions", self._list_transitions),
            ("POST", rf"{issue}/transitions", self._transition),
            ("POST", rf"{issue}/attachments", self._add_attachment),
            ("GET", rf"{issue}/remotelink", self._list_remote_links),
            ("POST", rf"{issue}/remotelink", self._add_remote_link),
            ("GET", r"/rest/applinks/(?:latest|1\.0)/listApplicationlinks", self._application_links),
        ]
        if self.deployment_type == "Cloud":
            search = r"/rest/api/(?P<version>[23])/search"
            table += [
                ("GET", search, self._search_removed),
                ("POST", search, self._search_removed),
                ("GET", rf"{search}/jql", self._search_jql),
                ("POST", rf"{search}/jql", self._search_jql),
            ]
        else:  # Data Center still serves the classic search, and has no enhanced one
            table += [("GET", rf"{API}/search", self._search), ("POST", rf"{API}/search", self._search)]
        return [(method, re.compile(path), handler) for method, path, handler in table]

    # --- handlers: server ----------------------------------------------------------------------

    def _server_info(self, request: _Request, match: re.Match[str]) -> _Response:
        info = dict(SERVER_INFO[self.deployment_type])
        info.update(baseUrl=request.base_url, deploymentType=self.deployment_type, serverTitle="Fake Jira")
        return _Response(200, info)

    def _myself(self, request: _Request, match: re.Match[str]) -> _Response:
        return _Response(200, self._author(request))

    def _fields(self, request: _Request, match: re.Match[str]) -> _Response:
        body = [
            {"id": fid, "key": fid, "name": name, "custom": False, "navigable": True, "clauseNames": [fid]}
            for fid, name in FIELDS
        ]
        return _Response(200, body)

    def _priorities_list(self, request: _Request, match: re.Match[str]) -> _Response:
        """Every priority of the site; each project's scheme may use only some (see createmeta)."""
        return _Response(200, [self._priority_json(request, name) for name in self._priorities])

    def _project_list(self, request: _Request, match: re.Match[str]) -> _Response:
        return _Response(200, [self._project_json(request, p) for p in self._projects.values()])

    def _project(self, request: _Request, match: re.Match[str]) -> _Response:
        project = self._find_project(match["key"])
        if project is None:
            raise ApiError(404, [f"No project could be found with key '{match['key']}'."])
        return _Response(200, self._project_json(request, project))

    def _application_links(self, request: _Request, match: re.Match[str]) -> _Response:
        return _Response(200, {"list": []})

    # --- handlers: create metadata -------------------------------------------------------------

    def _createmeta_issue_types(self, request: _Request, match: re.Match[str]) -> _Response:
        """The issue types the caller may create in a project (paged as `issueTypes` on Cloud, `values` on DC)."""
        project = self._require_project(match["project"])
        types = [self._issue_type_json(request, name) for name in project["issue_types"]]
        return _Response(200, self._meta_page(request, types, cloud_key="issueTypes"))

    def _createmeta_fields(self, request: _Request, match: re.Match[str]) -> _Response:
        """The fields of a project's create screen for one issue type: required or not, allowed values."""
        project = self._require_project(match["project"])
        if not any(self._issue_type_id(name) == match["type_id"] for name in project["issue_types"]):
            message = f"Issue type with id '{match['type_id']}' does not exist in project {project['key']}."
            raise ApiError(404, [message])
        return _Response(200, self._meta_page(request, self._create_fields(request, project), cloud_key="fields"))

    def _meta_page(self, request: _Request, items: list[JsonDict], *, cloud_key: str) -> JsonDict:
        start = _int_param(_first(request.query.get("startAt")), 0)
        limit = max(_int_param(_first(request.query.get("maxResults")), 50), 1)
        page = items[start : start + limit]
        body: JsonDict = {"maxResults": limit, "startAt": start, "total": len(items)}
        if self.deployment_type == "Cloud":
            body[cloud_key] = page
        else:
            body.update(values=page, isLast=start + limit >= len(items))
        return body

    def _create_fields(self, request: _Request, project: JsonDict) -> list[JsonDict]:
        fields = [
            _meta_field("summary", "Summary", "string", required=True),
            _meta_field(
                "issuetype",
                "Issue Type",
                "issuetype",
                required=True,
                allowed=[self._issue_type_json(request, name) for name in project["issue_types"]],
            ),
            _meta_field("project", "Project", "project", required=True, allowed=[self._project_json(request, project)]),
            _meta_field("reporter", "Reporter", "user", required=True, default=True),
            _meta_field("description", "Description", "string"),
            _meta_field("labels", "Labels", "array"),
        ]
        if project["priorities"]:
            allowed = [self._priority_json(request, name) for name in project["priorities"]]
            fields.append(_meta_field("priority", "Priority", "priority", default=True, allowed=allowed))
        fields += [_meta_field(fid, name, "string", required=True) for fid, name in project["required"].items()]
        return fields

    # --- handlers: issues ----------------------------------------------------------------------

    def _create_issue(self, request: _Request, match: re.Match[str]) -> _Response:
        body = request.json()
        fields = body.get("fields") if isinstance(body, dict) else None
        if not isinstance(fields, dict):
            raise ApiError(400, ["Issue fields are required ('fields' object)."])
        project, values = self._validate_new_issue(fields)
        project["counter"] += 1
        key = f"{project['key']}-{project['counter']}"
        now = _now()
        self._issues[key] = {
            "id": str(next(self._ids)),
            "key": key,
            "project": project["key"],
            **values,
            "status": "To Do",
            "created": now,
            "updated": now,
            "comments": [],
            "attachments": [],
            "remote_links": [],
        }
        issue = self._issues[key]
        if self._lag_seconds or self._lag_searches:
            self._unindexed[issue["id"]] = _Lag(self.clock() + self._lag_seconds, self._lag_searches)
        return _Response(201, {"id": issue["id"], "key": key, "self": f"{request.base_url}{API}/issue/{issue['id']}"})

    def _validate_new_issue(self, fields: JsonDict) -> tuple[JsonDict, JsonDict]:
        """The project and stored values of a new issue, or 400 with every problem, by field, as Jira does."""
        errors: dict[str, str] = {}
        project = self._find_project(_ref(fields.get("project"), "key"))
        if project is None:
            errors["project"] = "Specify a valid project ID or key"
        settable = SETTABLE_FIELDS | set(project["required"]) if project else set(SETTABLE_FIELDS)
        if project is not None and not project["priorities"]:
            settable.discard("priority")  # the project's screens have no priority field
        for name in fields:
            if name not in settable:
                errors[name] = f"Field '{name}' cannot be set. It is not on the appropriate screen, or unknown."
        issue_type = self._issue_type_name(fields.get("issuetype"))
        if issue_type is None:
            errors["issuetype"] = "Specify an issue type"
        elif project is not None and issue_type not in project["issue_types"]:
            errors["issuetype"] = "Specify a valid issue type"
        summary = fields.get("summary")
        if not isinstance(summary, str) or not summary.strip():
            errors["summary"] = "You must specify a summary of the issue."
        elif len(summary) > 255:
            errors["summary"] = "Summary must be less than 255 characters."
        elif "\n" in summary or "\r" in summary:
            errors["summary"] = "The summary is invalid because it contains newline characters."
        priority = self._validate_priority(fields.get("priority"), project, errors) if "priority" in settable else None
        labels = _validate_labels(fields.get("labels", []), errors)
        description = fields.get("description")
        if description is not None and not isinstance(description, str):
            errors["description"] = "Operation value must be a string"
        for field_id, name in (project or {}).get("required", {}).items():
            if fields.get(field_id) in (None, "", [], {}):
                errors[field_id] = f"{name} is required."
        if errors or project is None:
            raise ApiError(400, [], errors)
        values = {
            "summary": summary,
            "description": description,
            "issuetype": issue_type,
            "priority": priority,
            "labels": labels,
            "custom": {field_id: fields[field_id] for field_id in project["required"]},
        }
        return project, values

    def _issue_type_name(self, value: Any) -> str | None:
        if isinstance(value, dict) and "name" not in value and "id" in value:
            return next((t for t in self._issue_types if self._issue_type_id(t) == str(value["id"])), str(value["id"]))
        return _ref(value, "name")

    def _validate_priority(self, value: Any, project: JsonDict | None, errors: dict[str, str]) -> str | None:
        if value is None:
            return None
        name = _ref(value, "name")
        if isinstance(value, dict) and "id" in value:
            name = next((p for p in self._priorities if self._priority_id(p) == str(value["id"])), None)
        if name not in self._priorities:
            errors["priority"] = f"Priority name '{_ref(value, 'name') or value}' is not valid"
            return None
        if project is not None and name not in project["priorities"]:
            errors["priority"] = "The priority selected is invalid."
            return None
        return name

    def _get_issue(self, request: _Request, match: re.Match[str]) -> _Response:
        issue = self._require_issue(match["key"])
        return _Response(200, self._issue_json(request, issue, _requested_fields(request.query.get("fields"))))

    # --- handlers: comments, transitions, attachments, links ------------------------------------

    def _list_comments(self, request: _Request, match: re.Match[str]) -> _Response:
        issue = self._require_issue(match["key"])
        comments = [self._comment_json(request, issue, c) for c in issue["comments"]]
        return _Response(200, {"startAt": 0, "maxResults": len(comments), "total": len(comments), "comments": comments})

    def _add_comment(self, request: _Request, match: re.Match[str]) -> _Response:
        issue = self._require_issue(match["key"])
        body = request.json()
        text = body.get("body") if isinstance(body, dict) else None
        if not isinstance(text, str) or not text.strip():
            raise ApiError(400, [], {"comment": "Comment body can not be empty!"})
        comment = {"id": str(next(self._ids)), "body": text, "author": self.user, "created": _now()}
        issue["comments"].append(comment)
        issue["updated"] = comment["created"]
        return _Response(201, self._comment_json(request, issue, comment))

    def _list_transitions(self, request: _Request, match: re.Match[str]) -> _Response:
        self._require_issue(match["key"])
        transitions = [
            {"id": tid, "name": name, "to": _status_json(name), "hasScreen": False, "isAvailable": True}
            for tid, name in TRANSITIONS
        ]
        return _Response(200, {"expand": "transitions", "transitions": transitions})

    def _transition(self, request: _Request, match: re.Match[str]) -> _Response:
        issue = self._require_issue(match["key"])
        body = request.json()
        wanted = body.get("transition") if isinstance(body, dict) else None
        tid = str(wanted.get("id")) if isinstance(wanted, dict) else None
        target = dict(TRANSITIONS).get(tid or "")
        if target is None:
            raise ApiError(400, [f"Transition id '{tid}' is not valid for this issue."])
        issue["status"] = target
        issue["updated"] = _now()
        return _Response(204)

    def _add_attachment(self, request: _Request, match: re.Match[str]) -> _Response:
        issue = self._require_issue(match["key"])
        if request.headers.get("x-atlassian-token", "").lower() != "no-check":
            raise ApiError(403, ["XSRF check failed"])
        files = [
            (name, mime, data) for field_name, name, mime, data in _multipart_parts(request) if field_name == "file"
        ]
        if not files:
            raise ApiError(400, ["No file was attached (expected a multipart 'file' part)."])
        created = []
        for filename, mime, content in files:
            attachment = {
                "id": str(next(self._ids)),
                "filename": filename,
                "content": content,
                "mime_type": mime,
                "size": len(content),
            }
            issue["attachments"].append(attachment)
            created.append(self._attachment_json(request, attachment))
        return _Response(200, created)

    def _list_remote_links(self, request: _Request, match: re.Match[str]) -> _Response:
        issue = self._require_issue(match["key"])
        return _Response(200, [self._remote_link_json(request, issue, link) for link in issue["remote_links"]])

    def _add_remote_link(self, request: _Request, match: re.Match[str]) -> _Response:
        """Create a remote link; one with the `globalId` of an existing link updates that link instead."""
        issue = self._require_issue(match["key"])
        body = request.json()
        target = body.get("object") if isinstance(body, dict) else None
        if not isinstance(target, dict):
            raise ApiError(400, [], {"object": "'object' is required."})
        errors = {name: f"'{name}' is required." for name in ("url", "title") if not target.get(name)}
        if errors:
            raise ApiError(400, [], errors)
        global_id = body.get("globalId")
        existing = next((x for x in issue["remote_links"] if global_id and x["global_id"] == global_id), None)
        if existing is not None:
            existing.update(url=target["url"], title=target["title"])
            return _Response(200, {"id": existing["id"], "self": self._remote_link_self(request, issue, existing)})
        link = {"id": next(self._ids), "url": target["url"], "title": target["title"], "global_id": global_id}
        issue["remote_links"].append(link)
        return _Response(201, {"id": link["id"], "self": self._remote_link_self(request, issue, link)})

    # --- handlers: search ----------------------------------------------------------------------

    def _search(self, request: _Request, match: re.Match[str]) -> _Response:
        """The classic paginated search (`startAt`/`maxResults`/`total`), still served by Data Center."""
        params = _search_params(request)
        found = self._run_query(self._parse_jql(str(params.get("jql") or "")))
        start = _int_param(params.get("startAt"), 0)
        limit = _int_param(params.get("maxResults"), 50)
        wanted = _requested_fields(params.get("fields"))
        page = [self._issue_json(request, issue, wanted) for issue in found[start : start + limit]]
        body = {"expand": "schema,names", "startAt": start, "maxResults": limit, "total": len(found), "issues": page}
        return _Response(200, body)

    def _search_removed(self, request: _Request, match: re.Match[str]) -> _Response:
        raise ApiError(410, [SEARCH_REMOVED])

    def _search_jql(self, request: _Request, match: re.Match[str]) -> _Response:
        """Jira Cloud's enhanced search: only ids unless fields are asked for, an opaque `nextPageToken`, no total;
        eventually consistent (`set_search_lag`) except for the issues whose ids are in `reconcileIssues`."""
        params = _search_params(request)
        jql = str(params.get("jql") or "")
        query = self._parse_jql(jql)
        if not query.clauses:
            raise ApiError(400, [UNBOUNDED_JQL])
        reconcile = _reconcile_ids(params.get("reconcileIssues"))
        wanted = _requested_fields(params.get("fields"), default=set())
        most = PAGE_LIMIT_FIELDS if wanted is None or wanted - {"id", "key"} else PAGE_LIMIT_IDS
        limit = min(max(_int_param(params.get("maxResults"), 50), 1), most)
        start = _page_start(params.get("nextPageToken"), jql)
        now = self.clock()
        found = [issue for issue in self._run_query(query) if issue["id"] in reconcile or self._indexed(issue, now)]
        for lag in self._unindexed.values():
            lag.searches -= 1
        adf = match["version"] == "3"
        page = [
            self._issue_json(request, issue, wanted, adf=adf) if wanted != set() else {"id": issue["id"]}
            for issue in found[start : start + limit]
        ]
        body: JsonDict = {"issues": page, "isLast": start + limit >= len(found)}
        if not body["isLast"]:
            body["nextPageToken"] = _page_token(start + limit, jql)
        return _Response(200, body)

    def _indexed(self, issue: JsonDict, now: float) -> bool:
        """Whether search shows this issue yet (see `set_search_lag`)."""
        lag = self._unindexed.get(issue["id"])
        if lag is None:
            return True
        if lag.hides(now):
            return False
        del self._unindexed[issue["id"]]
        return True

    def _parse_jql(self, jql: str) -> _Query:
        try:
            query = _JqlParser(jql).parse()
        except JqlError as exc:
            raise ApiError(400, [str(exc)]) from None
        for clause in query.clauses:
            if clause.field == "project":
                for value in clause.values:
                    if self._find_project(value) is None:
                        raise ApiError(400, [f"The value '{value}' does not exist for the field 'project'."])
        return query

    def _run_query(self, query: _Query) -> list[JsonDict]:
        found = [issue for issue in self._issues.values() if all(_matches(issue, c) for c in query.clauses)]
        for name, descending in reversed(query.order or (("created", True),)):
            found.sort(key=_sort_key(name), reverse=descending)
        return found

    # --- helpers -------------------------------------------------------------------------------

    def _find_project(self, ref: str | None) -> JsonDict | None:
        if ref is None:
            return None
        for project in self._projects.values():
            if ref.upper() == project["key"].upper() or ref == project["id"] or ref == project["name"]:
                return project
        return None

    def _require_project(self, ref: str) -> JsonDict:
        project = self._find_project(ref)
        if project is None:
            raise ApiError(404, [f"No project could be found with key '{ref}'."])
        return project

    def _issue_type_id(self, name: str) -> str:
        return str(self._issue_types.index(name) + 1)

    def _priority_id(self, name: str) -> str:
        return str(self._priorities.index(name) + 1)

    def _issue_type_json(self, request: _Request, name: str) -> JsonDict:
        type_id = self._issue_type_id(name)
        return {
            "self": f"{request.base_url}{API}/issuetype/{type_id}",
            "id": type_id,
            "name": name,
            "description": "",
            "subtask": False,
        }

    def _stored(self, key: str) -> JsonDict:
        issue = self._lookup(key)
        if issue is None:
            raise KeyError(f"no issue {key}")
        return issue

    def _lookup(self, key_or_id: str) -> JsonDict | None:
        issue = self._issues.get(key_or_id.upper())
        return issue or next((i for i in self._issues.values() if i["id"] == key_or_id), None)

    def _require_issue(self, key_or_id: str) -> JsonDict:
        issue = self._lookup(key_or_id)
        if issue is None:
            raise ApiError(404, ["Issue does not exist or you do not have permission to see it."])
        return issue

    @staticmethod
    def _public(issue: JsonDict) -> JsonDict:
        flat = {k: v for k, v in issue.items() if k not in {"comments", "attachments", "remote_links"}}
        return copy.deepcopy(flat)

    def _issue_json(
        self, request: _Request, issue: JsonDict, wanted: set[str] | None, *, adf: bool = False
    ) -> JsonDict:
        """Issue as the REST API shows it; `wanted` None means every field; `adf`: the description as v3 shows it."""
        project = self._projects[issue["project"]]
        description = _adf(issue["description"]) if adf and issue["description"] is not None else issue["description"]
        all_fields: JsonDict = {
            "summary": issue["summary"],
            "description": description,
            "status": _status_json(issue["status"]),
            "labels": list(issue["labels"]),
            "priority": self._priority_json(request, issue["priority"]) if issue["priority"] else None,
            "issuetype": {"id": self._issue_type_id(issue["issuetype"]), "name": issue["issuetype"]},
            "project": self._project_json(request, project),
            "created": issue["created"],
            "updated": issue["updated"],
            "comment": {"total": len(issue["comments"]), "comments": []},
            "attachment": [self._attachment_json(request, a) for a in issue["attachments"]],
            **issue["custom"],
        }
        fields = {k: v for k, v in all_fields.items() if wanted is None or k in wanted}
        return {
            "expand": "renderedFields,names,schema,transitions,changelog",
            "id": issue["id"],
            "key": issue["key"],
            "self": f"{request.base_url}{API}/issue/{issue['id']}",
            "fields": fields,
        }

    def _comment_json(self, request: _Request, issue: JsonDict, comment: JsonDict) -> JsonDict:
        return {
            "id": comment["id"],
            "self": f"{request.base_url}{API}/issue/{issue['id']}/comment/{comment['id']}",
            "body": comment["body"],
            "author": self._author(request),
            "created": comment["created"],
            "updated": comment["created"],
        }

    def _attachment_json(self, request: _Request, attachment: JsonDict) -> JsonDict:
        return {
            "id": attachment["id"],
            "self": f"{request.base_url}{API}/attachment/{attachment['id']}",
            "filename": attachment["filename"],
            "size": attachment["size"],
            "mimeType": attachment["mime_type"],
            "content": f"{request.base_url}/secure/attachment/{attachment['id']}/{attachment['filename']}",
        }

    def _remote_link_json(self, request: _Request, issue: JsonDict, link: JsonDict) -> JsonDict:
        body: JsonDict = {
            "id": link["id"],
            "self": self._remote_link_self(request, issue, link),
            "object": {"url": link["url"], "title": link["title"]},
        }
        if link["global_id"]:
            body["globalId"] = link["global_id"]
        return body

    @staticmethod
    def _remote_link_self(request: _Request, issue: JsonDict, link: JsonDict) -> str:
        return f"{request.base_url}{API}/issue/{issue['key']}/remotelink/{link['id']}"

    def _priority_json(self, request: _Request, name: str) -> JsonDict:
        pid = self._priority_id(name)
        return {"id": pid, "name": name, "self": f"{request.base_url}{API}/priority/{pid}"}

    @staticmethod
    def _project_json(request: _Request, project: JsonDict) -> JsonDict:
        return {
            "id": project["id"],
            "key": project["key"],
            "name": project["name"],
            "self": f"{request.base_url}{API}/project/{project['id']}",
        }

    def _author(self, request: _Request) -> JsonDict:
        return {
            "self": f"{request.base_url}{API}/myself",
            "accountId": "fake-account-1",
            "name": self.user,
            "emailAddress": self.user,
            "displayName": "Triage Bot",
            "active": True,
        }


# --- module helpers ----------------------------------------------------------------------------


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"


def _ref(value: Any, name_key: str) -> str | None:
    """`{"key": "ENG"}` / `{"name": "Bug"}` / `{"id": "10000"}` / a bare string → the reference."""
    if isinstance(value, dict):
        ref = value.get(name_key, value.get("id"))
        return str(ref) if ref is not None else None
    return value if isinstance(value, str) else None


def _validate_labels(value: Any, errors: dict[str, str]) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        errors["labels"] = "Labels must be a list of strings."
        return []
    for label in value:
        if not label or any(ch.isspace() for ch in label):
            errors["labels"] = f"The label '{label}' contains spaces which is invalid."
        elif len(label) > 255:
            errors["labels"] = "The label must not exceed 255 characters."
    return list(dict.fromkeys(value))


def _status_json(name: str) -> JsonDict:
    category = {"To Do": ("new", "To Do"), "Done": ("done", "Done")}.get(name, ("indeterminate", "In Progress"))
    status_id = str(zlib.crc32(name.encode()) % 100000)
    return {"name": name, "id": status_id, "statusCategory": {"key": category[0], "name": category[1]}}


def _requested_fields(values: Any, default: set[str] | None = None) -> set[str] | None:
    """`fields=a,b` / repeated `fields` / a JSON list → the set of field ids; None means all fields."""
    if values is None:
        return default
    items = values if isinstance(values, list) else [values]
    names = {part.strip() for item in items for part in str(item).split(",") if part.strip()}
    if not names:
        return default
    if names & {"*all", "*navigable"}:
        return None
    return {name for name in names if not name.startswith("-")}


def _search_params(request: _Request) -> JsonDict:
    if request.method == "POST":
        body = request.json()
        if not isinstance(body, dict):
            raise ApiError(400, ["The search request must be a JSON object."])
        return body
    params: JsonDict = {name: values[0] for name, values in request.query.items()}
    for repeatable in ("fields", "reconcileIssues"):
        if repeatable in request.query:
            params[repeatable] = request.query[repeatable]
    return params


def _first(values: list[str] | None) -> str | None:
    return values[0] if values else None


def _reconcile_ids(values: Any) -> set[str]:
    """`reconcileIssues` as a JSON list of numbers, or repeated / comma-separated query values → issue ids."""
    if values is None:
        return set()
    items = values if isinstance(values, list) else [values]
    ids = {part.strip() for item in items for part in str(item).split(",") if part.strip()}
    for issue_id in ids:
        _int_param(issue_id, 0)
    if len(ids) > RECONCILE_LIMIT:
        raise ApiError(400, [f"reconcileIssues accepts at most {RECONCILE_LIMIT} issue ids."])
    return ids


def _page_token(offset: int, jql: str) -> str:
    """An opaque token, tied to its query, as Jira's are."""
    raw = json.dumps({"offset": offset, "query": zlib.crc32(jql.encode())}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _page_start(token: Any, jql: str) -> int:
    if token in (None, ""):
        return 0
    try:
        text = str(token)
        decoded = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        if decoded["query"] != zlib.crc32(jql.encode()):
            raise ValueError("another query's token")
        return int(decoded["offset"])
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise ApiError(400, ["The provided next page token is invalid or expired."]) from None


def _adf(text: str) -> JsonDict:
    """Plain text as an Atlassian Document Format document (how REST v3 shows a description)."""
    paragraphs = [{"type": "paragraph", "content": [{"type": "text", "text": line}]} for line in text.split("\n\n")]
    return {"type": "doc", "version": 1, "content": paragraphs}


def _meta_field(
    field_id: str,
    name: str,
    kind: str,
    *,
    required: bool = False,
    default: bool = False,
    allowed: list[JsonDict] | None = None,
) -> JsonDict:
    """One field of a create screen, as createmeta describes it."""
    origin = "custom" if field_id.startswith("customfield_") else "system"
    body: JsonDict = {
        "required": required,
        "schema": {"type": kind, origin: field_id},
        "name": name,
        "fieldId": field_id,
        "key": field_id,
        "hasDefaultValue": default,
        "operations": ["set"],
    }
    if allowed is not None:
        body["allowedValues"] = allowed
    return body


def _int_param(value: Any, default: int) -> int:
    try:
        return int(value) if value not in (None, "") else default
    except (TypeError, ValueError):
        raise ApiError(400, [f"'{value}' is not a valid number."]) from None


def _matches(issue: JsonDict, clause: _Clause) -> bool:
    wanted = {v.lower() for v in clause.values}
    if clause.field == "labels":
        hit = any(label.lower() in wanted for label in issue["labels"])
    else:
        attribute = {"issuekey": "key", "type": "issuetype"}.get(clause.field, clause.field)
        hit = str(issue[attribute] or "").lower() in wanted
    return hit if clause.operator in {"=", "in"} else not hit


def _sort_key(name: str) -> Callable[[JsonDict], Any]:
    if name == "key":
        return lambda issue: (issue["project"], int(issue["key"].rsplit("-", 1)[1]))
    return lambda issue: (issue[name], int(issue["id"]))


def _parse_request(environ: WSGIEnvironment) -> _Request:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    headers = {k[5:].replace("_", "-").lower(): str(v) for k, v in environ.items() if k.startswith("HTTP_")}
    headers["content-type"] = str(environ.get("CONTENT_TYPE") or "")
    host = headers.get("host") or f"{environ.get('SERVER_NAME')}:{environ.get('SERVER_PORT')}"
    return _Request(
        method=str(environ.get("REQUEST_METHOD", "GET")).upper(),
        path=str(environ.get("PATH_INFO") or "/"),
        query=parse_qs(str(environ.get("QUERY_STRING") or ""), keep_blank_values=True),
        headers=headers,
        body=body,
        base_url=f"{environ.get('wsgi.url_scheme', 'http')}://{host}",
    )


_PARAM = re.compile(r';\s*([\w*]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)')


def _header_params(value: str) -> dict[str, str]:
    """`form-data; name="file"; filename="a.txt"` → {"name": "file", "filename": "a.txt"}."""
    params = {}
    for name, raw in _PARAM.findall(value):
        text = raw.strip()
        if len(text) >= 2 and text[0] == text[-1] == '"':
            text = text[1:-1]
        if name.endswith("*"):  # RFC 5987: utf-8''percent-encoded
            name, text = name[:-1], unquote(text.split("'", 2)[-1])
        params[name.lower()] = text.replace("%22", '"').replace("%0D", "\r").replace("%0A", "\n")
    return params


def _multipart_parts(request: _Request) -> list[tuple[str, str, str, bytes]]:
    """(field name, filename, content type, bytes) of each part of a multipart/form-data body."""
    content_type = request.headers.get("content-type", "")
    boundary = _header_params(content_type).get("boundary")
    if not content_type.lower().startswith("multipart/form-data") or not boundary:
        raise ApiError(415, ["Expected a multipart/form-data body with a boundary."])
    parts = []
    for chunk in request.body.split(b"--" + boundary.encode())[1:]:
        if chunk.startswith(b"--"):
            break
        head, _, content = chunk.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        headers = {}
        for line in head.decode("utf-8", errors="replace").split("\r\n"):
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        disposition = _header_params(headers.get("content-disposition", ""))
        mime = headers.get("content-type", "application/octet-stream")
        parts.append(
            (disposition.get("name", ""), disposition.get("filename", ""), mime, content.removesuffix(b"\r\n"))
        )
    return parts


def _send(start_response: StartResponse, response: _Response) -> list[bytes]:
    payload = b"" if response.status == 204 or response.body is None else json.dumps(response.body).encode()
    headers = [("Content-Type", "application/json;charset=UTF-8"), ("Content-Length", str(len(payload)))]
    start_response(f"{response.status} {_reason(response.status)}", headers + response.headers)
    return [payload]


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Status"
