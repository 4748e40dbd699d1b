"""What is being handled right now: a Slack request's correlation id and type, and the incident, as contextvars.

`WebApp` opens a `RequestScope` per `/slack/events` request; the Bolt middleware describes it (request type,
incident); listener threads see it because the listener executor runs each task in a copy of the submitting
thread's context (`ContextCopyingExecutor`). Work outside a request (scheduled timers) binds the incident only.
"""

from __future__ import annotations

import contextvars
import json
import re
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Executor, Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar

from blocks.ids import IncidentAction

P = ParamSpec("P")
T = TypeVar("T")

INCIDENT_KEY = re.compile(r"\bINC-([0-9]{1,18})\b", re.IGNORECASE)
INCIDENT_ID = re.compile(r"[0-9]{1,18}")  # ASCII only: "²".isdigit() is true, int("²") is not
INCIDENT_ACTIONS = frozenset(action.value for action in IncidentAction)
# Slack payload types worth their own label; anything else is "other", so a label never grows without bound.
KNOWN_REQUEST_TYPES = frozenset(
    {
        "block_actions",
        "view_submission",
        "view_closed",
        "shortcut",
        "message_action",
        "block_suggestion",
        "url_verification",
        "app_rate_limited",
    }
)


def new_correlation_id() -> str:
    """Short enough to quote to a person ("ref 3f9c…"), long enough never to repeat in practice."""
    return uuid.uuid4().hex[:12]


@dataclass
class AckSignal:
    """Set when the request's listener has called `ack()` (or ended); `waiting_thread` sends Slack the answer.

    `on_request_thread`: the listener runs on that thread itself (it acknowledges and hands off what follows);
    `acked_at`: when it called `ack()` (`time.monotonic()`).
    """

    answered: threading.Event
    waiting_thread: int
    on_request_thread: bool = False
    acked_at: float | None = None


@dataclass
class AfterResponse:
    """Work the request's own thread does once the response has left (the HTTP layer runs it, `bot/web.py`).

    Only that thread adds to it, and only until it starts running what was added; anything else (a listener
    thread, work added by this work) is told no and goes elsewhere.
    """

    thread: int = field(default_factory=threading.get_ident)
    work: list[Callable[[], None]] = field(default_factory=list)
    running: bool = False

    def add(self, work: Callable[[], None]) -> bool:
        if self.running or threading.get_ident() != self.thread:
            return False
        self.work.append(work)
        return True

    def run(self) -> None:
        """Run what was added, once (each piece handles its own errors)."""
        self.running = True
        while self.work:
            self.work.pop(0)()


@dataclass
class RequestScope:
    """One incoming Slack request; `described` once the Bolt middleware has read its payload.

    `ack_signal`: until its listener is running, what tells this request's thread that `ack()` was called
    (`bot.listeners.acknowledgement`). `after_response`: where the HTTP layer lets work wait for the response to
    leave, to run on the request's thread then (None where no HTTP layer does, as in Socket Mode).
    """

    correlation_id: str = field(default_factory=new_correlation_id)
    request_type: str | None = None
    incident: str | None = None
    described: bool = False
    ack_signal: AckSignal | None = None
    after_response: AfterResponse | None = None


_scope: contextvars.ContextVar[RequestScope | None] = contextvars.ContextVar("triage_request_scope", default=None)
_incident: contextvars.ContextVar[str | None] = contextvars.ContextVar("triage_incident", default=None)


def current_scope() -> RequestScope | None:
    return _scope.get()


def current_incident() -> str | None:
    """The incident bound explicitly (a timer's), else the one the current request is about."""
    scope = _scope.get()
    return _incident.get() or (scope.incident if scope else None)


@contextmanager
def request_scope(scope: RequestScope | None = None) -> Iterator[RequestScope]:
    """Make `scope` (or a fresh one) current for the code inside, and forget it afterwards."""
    scope = scope or RequestScope()
    token = _scope.set(scope)
    try:
        yield scope
    finally:
        _scope.reset(token)


def enter_scope() -> RequestScope:
    """A fresh scope that stays current in this context (for Socket Mode, where no HTTP layer opens one)."""
    scope = RequestScope()
    _scope.set(scope)
    return scope


@contextmanager
def bind_incident(key: str | None) -> Iterator[None]:
    token = _incident.set(key)
    try:
        yield
    finally:
        _incident.reset(token)


def describe(scope: RequestScope, body: Mapping[str, Any]) -> None:
    """Fill in the request type and, when the payload names it, the incident."""
    scope.request_type = request_type_of(body)
    scope.incident = incident_key_of(body)
    scope.described = True


def request_type_of(body: Mapping[str, Any]) -> str:
    """`slash_command`, `event`, or Slack's interactive payload type (`block_actions`, `view_submission`, …)."""
    if "command" in body:
        return "slash_command"
    kind = str(body.get("type") or "")
    if kind == "event_callback":
        return "event"
    return kind if kind in KNOWN_REQUEST_TYPES else "other"


def incident_key_of(body: Mapping[str, Any]) -> str | None:
    """INC-n when the payload says which incident it is about, without asking the database.

    Incident buttons carry the incident id as their value and incident modals carry it in their
    private_metadata (see `blocks.ids`); a slash command may name it (`/triage show INC-7`).
    """
    found = _from_actions(body.get("actions")) or _from_view(body.get("view"))
    if found is None and isinstance(body.get("text"), str):
        match = INCIDENT_KEY.search(body["text"])
        found = int(match.group(1)) if match else None
    return f"INC-{found}" if found is not None else None


def incident_key_in(text: str) -> str | None:
    """The first INC-n mentioned in a log message, normalised."""
    match = INCIDENT_KEY.search(text)
    return f"INC-{match.group(1)}" if match else None


def _from_actions(actions: Any) -> int | None:
    for action in actions if isinstance(actions, list) else []:
        if not isinstance(action, dict):
            continue
        value = action.get("value")
        if action.get("action_id") in INCIDENT_ACTIONS and isinstance(value, str) and INCIDENT_ID.fullmatch(value):
            return int(value)
    return None


def _from_view(view: Any) -> int | None:
    metadata = view.get("private_metadata") if isinstance(view, dict) else None
    if not isinstance(metadata, str) or '"incident_id"' not in metadata:
        return None
    try:
        incident_id = json.loads(metadata).get("incident_id")
    except (ValueError, AttributeError):
        return None
    return incident_id if isinstance(incident_id, int) and not isinstance(incident_id, bool) else None


class ContextCopyingExecutor(Executor):
    """Runs each task in a copy of the submitting thread's context, so a listener logs with its request's scope.

    It wraps another executor (which keeps owning the threads and their shutdown).
    """

    def __init__(self, inner: Executor) -> None:
        self.inner = inner

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        context = contextvars.copy_context()

        def run() -> T:
            return context.run(fn, *args, **kwargs)

        return self.inner.submit(run)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self.inner.shutdown(wait=wait, cancel_futures=cancel_futures)
