"""The sandbox's web UI as a small WSGI app: the page, its two static files, JSON state and actions, shared files.

Actions are POSTs with a JSON body (a cross-site form cannot send one without the browser asking first), and a
strict Content-Security-Policy allows only this origin's own script and styles.
"""

from __future__ import annotations

import json
import mimetypes
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, unquote
from wsgiref.types import StartResponse, WSGIEnvironment
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.sandbox.web.driver import FormField, Outcome, SandboxDriver
from bot.sandbox.web.links import archive_place
from bot.sandbox.web.pages import APP_HOME, APP_MESSAGES, PageRenderer, Viewer

__all__ = ["SandboxWebApp"]

JsonDict = dict[str, Any]
MAX_BODY_BYTES = 256 * 1024
LONG_POLL_SECONDS = 20.0
STATIC_FILES = {"app.js": "text/javascript; charset=utf-8", "app.css": "text/css; charset=utf-8"}
SECURITY_HEADERS = [
    (
        "Content-Security-Policy",
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    ),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("Cache-Control", "no-store"),
]


class BadRequest(Exception):
    """The request cannot be served as sent: answered 400 (or ``status``) with the message."""

    def __init__(self, message: str, status: str = "400 Bad Request") -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Response:
    status: str
    content_type: str
    body: bytes
    extra_headers: tuple[tuple[str, str], ...] = ()


def _json(payload: Any, status: str = "200 OK") -> Response:
    return Response(status, "application/json", json.dumps(payload).encode())


def _query(environ: WSGIEnvironment) -> dict[str, str]:
    parsed = parse_qs(str(environ.get("QUERY_STRING", "")), keep_blank_values=True)
    return {key: values[-1] for key, values in parsed.items()}


def _read_json(environ: WSGIEnvironment) -> JsonDict:
    if not str(environ.get("CONTENT_TYPE", "")).startswith("application/json"):
        raise BadRequest("send JSON (Content-Type: application/json)", "415 Unsupported Media Type")
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if length > MAX_BODY_BYTES:
        raise BadRequest("request body too large", "413 Payload Too Large")
    try:
        data = json.loads(environ["wsgi.input"].read(length) or b"{}")
    except json.JSONDecodeError as exc:
        raise BadRequest(f"invalid JSON: {exc.msg}") from None
    if not isinstance(data, dict):
        raise BadRequest("send a JSON object")
    return data


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name) if name else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _optional_str(data: JsonDict, key: str) -> str | None:
    value = data.get(key)
    return str(value) if value not in (None, "") else None


class SandboxWebApp:
    """Routes: ``GET /``, ``/static/*``, ``/files/<id>/<name>``, ``/api/state``, ``/api/changes``; ``POST /api/*``."""

    def __init__(self, pages: PageRenderer, driver: SandboxDriver) -> None:
        self.pages = pages
        self.driver = driver
        self.workspace = pages.workspace
        self.emulator = pages.emulator
        self._posts: dict[str, Callable[[JsonDict], Outcome]] = {
            "/api/compose": self._compose,
            "/api/action": self._action,
            "/api/shortcut": self._shortcut,
            "/api/submit": self._submit,
            "/api/close": self._close,
            "/api/home": lambda data: self.driver.open_home(self._user(data)),
            "/api/clock": self._fast_forward,
        }

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        try:
            response = self._route(environ)
        except BadRequest as exc:
            response = _json({"ok": False, "message": str(exc)}, exc.status)
        headers = [("Content-Type", response.content_type), ("Content-Length", str(len(response.body)))]
        start_response(response.status, headers + SECURITY_HEADERS + list(response.extra_headers))
        return [response.body]

    def _route(self, environ: WSGIEnvironment) -> Response:
        method = str(environ.get("REQUEST_METHOD", "GET"))
        path = str(environ.get("PATH_INFO", "/"))
        if method == "POST" and path in self._posts:
            return _json(self._posts[path](_read_json(environ)).as_json())
        if method not in ("GET", "HEAD"):
            raise BadRequest("method not allowed", "405 Method Not Allowed")
        if path == "/":
            return Response("200 OK", "text/html; charset=utf-8", self.pages.document(self._viewer(environ)).encode())
        if path == "/favicon.ico":
            return Response("204 No Content", "image/x-icon", b"")
        if path == "/api/state":
            return _json(self.pages.state(self._viewer(environ)))
        if path == "/api/changes":
            return _json({"version": self._wait_for_change(_query(environ))})
        if path.startswith("/static/"):
            return self._static(path.removeprefix("/static/"))
        if path.startswith("/files/"):
            return self._file(path.removeprefix("/files/"))
        place = archive_place(path, str(environ.get("QUERY_STRING", "")))
        if place is not None:
            return Response("302 Found", "text/plain; charset=utf-8", b"", (("Location", place.page_path),))
        raise BadRequest("not found", "404 Not Found")

    # ------------------------------------------------------------------ reading

    def _viewer(self, environ: WSGIEnvironment) -> Viewer:
        query = _query(environ)
        user_id = query.get("user") or self.workspace.people_ids[0]
        if user_id not in self.workspace.people_ids:
            raise BadRequest(f"unknown person {user_id!r}")
        place = query.get("c") or self.workspace.seeded_channels[0]
        if place not in (APP_HOME, APP_MESSAGES) and place not in self._visible_channels(user_id):
            place = self.workspace.seeded_channels[0]
        return Viewer(user_id, place, query.get("thread") or None, _zone(query.get("tz")))

    def _wait_for_change(self, query: dict[str, str]) -> int:
        try:
            since = int(query.get("since", "-1"))
        except ValueError:
            raise BadRequest("since must be a number") from None
        return self.pages.feed.wait(since, LONG_POLL_SECONDS)

    def _static(self, name: str) -> Response:
        if name not in STATIC_FILES:
            raise BadRequest("not found", "404 Not Found")
        body = (resources.files("bot.sandbox.web") / "static" / name).read_bytes()
        return Response("200 OK", STATIC_FILES[name], body)

    def _file(self, rest: str) -> Response:
        """A file shared in a message (charts of /triage report): images inline, anything else as a download."""
        file_id, _, name = rest.partition("/")
        content = self.emulator.file_bytes(unquote(file_id))
        if content is None:
            raise BadRequest("no such file", "404 Not Found")
        guessed = mimetypes.guess_type(unquote(name))[0] or "application/octet-stream"
        if guessed.startswith("image/") and guessed != "image/svg+xml":
            return Response("200 OK", guessed, content)
        disposition = (("Content-Disposition", "attachment"),)
        return Response("200 OK", "application/octet-stream", content, disposition)

    # ------------------------------------------------------------------ actions

    def _user(self, data: JsonDict) -> str:
        user_id = str(data.get("user", ""))
        if user_id not in self.workspace.people_ids:
            raise BadRequest(f"unknown person {user_id!r}")
        return user_id

    def _visible_channels(self, user_id: str) -> set[str]:
        return {str(channel["id"]) for channel in self.workspace.channels(user_id)}

    def _compose(self, data: JsonDict) -> Outcome:
        channel_id = str(data.get("channel", ""))
        if channel_id == APP_MESSAGES:
            channel_id = self.emulator.dm_channel(self._user(data))
        elif channel_id not in self._visible_channels(self._user(data)):
            raise BadRequest(f"unknown channel {channel_id!r}")
        return self.driver.compose(
            self._user(data), channel_id, str(data.get("text", "")), _optional_str(data, "thread_ts")
        )

    def _shortcut(self, data: JsonDict) -> Outcome:
        channel_id = str(data.get("channel", ""))
        if channel_id not in self._visible_channels(self._user(data)):
            raise BadRequest(f"unknown channel {channel_id!r}")
        callback = str(data.get("callback_id", ""))
        return self.driver.message_shortcut(self._user(data), channel_id, str(data.get("ts", "")), callback)

    def _action(self, data: JsonDict) -> Outcome:
        return self.driver.act(
            self._user(data),
            str(data.get("action_id", "")),
            channel_id=_optional_str(data, "channel"),
            message_ts=_optional_str(data, "ts"),
            view_id=_optional_str(data, "view_id"),
            selected=data.get("selected"),
            ephemeral=data.get("ephemeral") is True,
        )

    def _submit(self, data: JsonDict) -> Outcome:
        raw_fields = data.get("fields")
        if not isinstance(raw_fields, list):
            raise BadRequest("fields must be a list")
        try:
            fields = [FormField.from_json(item) for item in raw_fields]
        except (KeyError, TypeError) as exc:
            raise BadRequest(f"every field needs block_id, action_id and type ({exc})") from None
        return self.driver.submit(self._user(data), str(data.get("view_id", "")), fields)

    def _close(self, data: JsonDict) -> Outcome:
        return self.driver.close(self._user(data), str(data.get("view_id", "")), everything=bool(data.get("all")))

    def _fast_forward(self, data: JsonDict) -> Outcome:
        minutes = data.get("minutes")
        if not isinstance(minutes, int) or isinstance(minutes, bool):
            raise BadRequest("minutes must be a whole number")
        return self.driver.fast_forward(minutes)
