"""In-memory Slack workspace emulator exposing the Slack Web API as a WSGI app.

The emulator plays Slack for end-to-end tests and the local sandbox: the bot talks to it through
``slack_sdk.WebClient(base_url=emulator.api_url)`` and tests inspect the resulting workspace state
(messages, threads, ephemerals, modal stacks, App Home tabs and a log of every Web API call).

Realism notes (deliberate, to catch bugs that real Slack would surface):

* private channels are invisible (``channel_not_found``) to the bot unless it is a member;
* reading history / inviting / pinning needs the bot to be a channel member (``not_in_channel``);
* triggers expire after ``trigger_ttl_seconds`` and can be exchanged only once;
* modal titles / button labels are limited to 24 characters and views with input blocks need ``submit``.
"""

from __future__ import annotations

import base64
import itertools
import json
import logging
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import parse_qsl
from wsgiref.types import StartResponse, WSGIEnvironment
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

if TYPE_CHECKING:
    from bot.sandbox.wsgi_server import RunningServer

__all__ = [
    "ApiResult",
    "Call",
    "ManualClock",
    "SlackApiFailure",
    "SlackEmulator",
    "epoch_clock",
]

logger = logging.getLogger(__name__)

JsonDict = dict[str, Any]

def json_copy(value: Any) -> Any:
    """A deep copy of JSON data (everything the emulator stores is JSON): much faster than copy.deepcopy."""
    return json.loads(json.dumps(value))

Handler = Callable[[JsonDict], JsonDict]
Clock = Callable[[], float]

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_MODAL_STACK = 3
MAX_VIEW_TEXT_CHARS = 24
MAX_PRIVATE_METADATA_CHARS = 3000
CHANNEL_NAME_RE = re.compile(r"^[a-z0-9_-]{1,80}$")
JSON_ENCODED_FIELDS = ("blocks", "attachments", "view", "metadata")
RESPONSE_URL_MAX_USES = 5
RESPONSE_URL_TTL_SECONDS = 30 * 60
DEFAULT_PAGE_SIZE = 100
ANONYMOUS_USER = ""
_INTERACTIVE_CONTAINERS = ("actions", "input", "section")


class SlackApiFailure(Exception):
    """A Web API error: rendered as ``{"ok": false, "error": ...}`` with the given HTTP status."""

    def __init__(self, error: str, status: int = 200, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.status = status
        self.extra = extra

    def body(self) -> JsonDict:
        """The JSON body Slack would answer with."""
        return {"ok": False, "error": self.error, **self.extra}


class Call(NamedTuple):
    """One recorded Web API call."""

    method: str
    args: JsonDict
    response: JsonDict


@dataclass
class ApiResult:
    """HTTP status, extra headers and JSON body of one emulated response."""

    status: int
    body: JsonDict
    headers: list[tuple[str, str]] = field(default_factory=list)


class ManualClock:
    """A settable clock for tests: ``clock()`` returns ``now``; ``advance()`` moves it forward."""

    def __init__(self, start: float | None = None) -> None:
        self.now = time.time() if start is None else start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        """Move the clock forward and return the new time."""
        self.now += seconds
        return self.now


def epoch_clock(source: Any) -> Clock:
    """Adapt a clock object with ``now() -> aware datetime`` into an epoch-seconds callable."""
    return lambda: float(source.now().timestamp())


@dataclass
class _Fault:
    error: str
    status: int
    retry_after: int | None
    remaining: int
    extra: JsonDict


@dataclass
class _Trigger:
    created_at: float
    user_id: str | None
    used: bool = False


@dataclass
class _ResponseHook:
    channel_id: str
    user_id: str
    message_ts: str | None
    created_at: float
    uses: int = 0
    ephemeral: JsonDict | None = None


@dataclass
class _Channel:
    id: str
    name: str
    is_private: bool
    members: list[str]
    created: int
    creator: str
    topic: str = ""
    purpose: str = ""
    is_im: bool = False
    im_user: str | None = None
    is_archived: bool = False
    pins: list[str] = field(default_factory=list)
    messages: list[JsonDict] = field(default_factory=list)
    threads: dict[str, list[JsonDict]] = field(default_factory=dict)
    index: dict[str, JsonDict] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# small pure helpers


def _truthy(value: Any) -> bool:
    """Interpret a form/JSON flag ("1", "true", True, 1) as a bool."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes")
    return bool(value)


def _required(args: JsonDict, key: str, error: str | None = None) -> Any:
    """Return ``args[key]`` or fail like Slack with ``error`` (default ``invalid_arguments``)."""
    value = args.get(key)
    if value is None or value == "":
        raise SlackApiFailure(error or "invalid_arguments", response_metadata={"messages": [f"missing {key}"]})
    return value


def _int_arg(args: JsonDict, key: str, default: int) -> int:
    try:
        return int(args.get(key) or default)
    except (TypeError, ValueError) as exc:
        raise SlackApiFailure("invalid_arguments") from exc


def _split_ids(value: Any) -> list[str]:
    """Accept "U1,U2" or ["U1", "U2"]."""
    if isinstance(value, list | tuple):
        return [str(v) for v in value if str(v)]
    return [part.strip() for part in str(value or "").split(",") if part.strip()]


def _encode_cursor(offset: int) -> str:
    return base64.b64encode(f"offset:{offset}".encode()).decode()


def _decode_cursor(cursor: Any) -> int:
    if not cursor:
        return 0
    try:
        return int(base64.b64decode(str(cursor)).decode().split(":", 1)[1])
    except (ValueError, IndexError) as exc:
        raise SlackApiFailure("invalid_cursor") from exc


def _paginate(items: Sequence[JsonDict], args: JsonDict, key: str) -> JsonDict:
    """Slice ``items`` using Slack's ``limit``/``cursor`` pagination."""
    limit = max(1, min(_int_arg(args, "limit", DEFAULT_PAGE_SIZE), 1000))
    start = _decode_cursor(args.get("cursor"))
    page = list(items[start : start + limit])
    more = start + limit < len(items)
    return {
        key: json_copy(page),
        "has_more": more,
        "response_metadata": {"next_cursor": _encode_cursor(start + limit) if more else ""},
    }


def _decode_json_fields(args: JsonDict) -> JsonDict:
    """JSON-decode string fields (``blocks``, ``view``...) the way Slack does for form bodies."""
    decoded = dict(args)
    for key in JSON_ENCODED_FIELDS:
        value = decoded.get(key)
        if isinstance(value, str) and value.strip():
            try:
                decoded[key] = json.loads(value)
            except json.JSONDecodeError as exc:
                raise SlackApiFailure("invalid_blocks" if key == "blocks" else "invalid_arguments") from exc
    return decoded


def _text_of(obj: Any) -> str:
    """Text of a plain_text object (or a bare string)."""
    if isinstance(obj, dict):
        return str(obj.get("text", ""))
    return str(obj or "")


def _tz_fields(tz: str, at: float) -> JsonDict:
    """Slack's tz / tz_label / tz_offset for an IANA zone name."""
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        return {"tz": tz, "tz_label": tz, "tz_offset": 0}
    moment = datetime.fromtimestamp(at, tz=UTC).astimezone(zone)
    offset = moment.utcoffset()
    return {
        "tz": tz,
        "tz_label": moment.tzname() or tz,
        "tz_offset": int(offset.total_seconds()) if offset else 0,
    }


def _format_ts(micros: int) -> str:
    return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"


def _iter_block_elements(block: JsonDict) -> Iterable[JsonDict]:
    """Interactive elements of a block (actions elements, section accessory, input element)."""
    btype = block.get("type")
    if btype == "actions":
        yield from (e for e in block.get("elements", []) if isinstance(e, dict))
    elif btype == "input" and isinstance(block.get("element"), dict):
        yield block["element"]
    elif btype == "section" and isinstance(block.get("accessory"), dict) and block["accessory"].get("type") != "image":
        yield block["accessory"]


def _validate_blocks(blocks: Any, limit: int, error: str) -> list[JsonDict]:
    """Check a blocks array is a list of typed objects no longer than ``limit``."""
    if not isinstance(blocks, list) or len(blocks) > limit:
        raise SlackApiFailure(error)
    if not all(isinstance(b, dict) and b.get("type") for b in blocks):
        raise SlackApiFailure(error)
    return blocks


def _check_view_text(view: JsonDict, key: str) -> None:
    text = _text_of(view.get(key))
    if len(text) > MAX_VIEW_TEXT_CHARS:
        raise SlackApiFailure(
            "invalid_arguments",
            response_metadata={"messages": [f"[ERROR] must be less than 25 characters [json-pointer:/view/{key}]"]},
        )


def _validate_view_spec(spec: Any, allowed_types: tuple[str, ...]) -> JsonDict:
    """Validate a view payload roughly like Slack does."""
    if not isinstance(spec, dict) or spec.get("type") not in allowed_types:
        raise SlackApiFailure("invalid_arguments")
    blocks = _validate_blocks(spec.get("blocks", []), MAX_VIEW_BLOCKS, "invalid_arguments")
    if spec["type"] == "modal":
        if not _text_of(spec.get("title")):
            raise SlackApiFailure("invalid_arguments", response_metadata={"messages": ["missing title"]})
        for key in ("title", "submit", "close"):
            _check_view_text(spec, key)
        if any(b.get("type") == "input" for b in blocks) and not spec.get("submit"):
            raise SlackApiFailure("invalid_arguments", response_metadata={"messages": ["missing submit"]})
    if len(str(spec.get("private_metadata", ""))) > MAX_PRIVATE_METADATA_CHARS:
        raise SlackApiFailure("invalid_arguments")
    return spec


def _json_response(start_response: StartResponse, result: ApiResult) -> list[bytes]:
    payload = json.dumps(result.body).encode()
    headers = [("Content-Type", "application/json; charset=utf-8"), ("Content-Length", str(len(payload)))]
    start_response(f"{result.status} {_REASONS.get(result.status, 'Status')}", headers + result.headers)
    return [payload]


_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 410: "Gone", 429: "Too Many Requests", 500: "Error"}


def _bearer_token(environ: WSGIEnvironment) -> str | None:
    header = str(environ.get("HTTP_AUTHORIZATION", ""))
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return None


def _read_body(environ: WSGIEnvironment) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    return environ["wsgi.input"].read(length) if length > 0 else b""


def _read_args(environ: WSGIEnvironment) -> JsonDict:
    """Merge query-string and body (JSON or form) parameters."""
    args: JsonDict = dict(parse_qsl(str(environ.get("QUERY_STRING", "")), keep_blank_values=True))
    raw = _read_body(environ).decode("utf-8", errors="replace")
    if "json" in str(environ.get("CONTENT_TYPE", "")).lower():
        try:
            body = json.loads(raw) if raw.strip() else {}
        except json.JSONDecodeError as exc:
            raise SlackApiFailure("invalid_json") from exc
        if not isinstance(body, dict):
            raise SlackApiFailure("invalid_json")
        args.update(body)
    else:
        args.update(parse_qsl(raw, keep_blank_values=True))
    return args


# --------------------------------------------------------------------------------------------
# the emulator


class SlackEmulator:
    """A thread-safe, in-memory Slack workspace with a Web API WSGI front end."""

    def __init__(
        self,
        bot_token: str = "xoxb-sandbox",
        bot_user_id: str = "UBOT",
        app_id: str = "A0SANDBOX",
        *,
        bot_id: str = "B0SANDBOX",
        bot_name: str = "triage-bot",
        team_id: str = "T0SANDBOX",
        team_domain: str = "sandbox",
        team_name: str = "Sandbox",
        clock: Clock = time.time,
        trigger_ttl_seconds: float = 3.0,
    ) -> None:
        self.bot_token = bot_token
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.bot_name = bot_name
        self.app_id = app_id
        self.team_id = team_id
        self.team_domain = team_domain
        self.team_name = team_name
        self.clock = clock
        self.trigger_ttl_seconds = trigger_ttl_seconds
        self.base_url: str | None = None
        self._lock = threading.RLock()
        self._ids = itertools.count(1)
        self._generated_ids = itertools.count(1)
        self._last_ts_micros = 0
        self._users: dict[str, JsonDict] = {}
        self._usergroups: dict[str, JsonDict] = {}
        self._channels: dict[str, _Channel] = {}
        self._dms: dict[str, str] = {}
        self._ephemerals: list[JsonDict] = []
        self._views: dict[str, JsonDict] = {}
        self._stacks: dict[str, list[str]] = {}
        self._homes: dict[str, str] = {}
        self._triggers: dict[str, _Trigger] = {}
        self._hooks: dict[str, _ResponseHook] = {}
        self._faults: dict[str, list[_Fault]] = {}
        self._calls: list[tuple[str, str]] = []  # (method, JSON of [args, response]), decoded when read
        self._handlers: dict[str, Handler] = self._build_handlers()
        self.add_user(bot_user_id, bot_name, real_name=bot_name, is_bot=True)

    def _build_handlers(self) -> dict[str, Handler]:
        return {
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.getPermalink": self._chat_get_permalink,
            "chat.delete": self._chat_delete,
            "views.open": self._views_open,
            "views.push": self._views_push,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
            "users.info": self._users_info,
            "users.list": self._users_list,
            "users.lookupByEmail": self._users_lookup_by_email,
            "usergroups.list": self._usergroups_list,
            "usergroups.users.list": self._usergroups_users_list,
            "conversations.info": self._conversations_info,
            "conversations.list": self._conversations_list,
            "conversations.history": self._conversations_history,
            "conversations.replies": self._conversations_replies,
            "conversations.create": self._conversations_create,
            "conversations.invite": self._conversations_invite,
            "conversations.join": self._conversations_join,
            "conversations.members": self._conversations_members,
            "conversations.open": self._conversations_open,
            "conversations.setTopic": self._conversations_set_topic,
            "conversations.setPurpose": self._conversations_set_purpose,
            "pins.add": self._pins_add,
            "pins.list": self._pins_list,
            "reactions.add": self._reactions_add,
        }

    # ---------------------------------------------------------------- identity / urls

    @property
    def workspace_url(self) -> str:
        """The https URL of the emulated workspace (used in permalinks and auth.test)."""
        return f"https://{self.team_domain}.slack.local/"

    @property
    def api_url(self) -> str:
        """Base URL for ``WebClient(base_url=...)``; requires the emulator to be served."""
        return f"{self._require_base_url()}/api/"

    @property
    def supported_methods(self) -> list[str]:
        """Names of the implemented Web API methods."""
        return sorted(self._handlers)

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> RunningServer:
        """Serve the Web API in a background thread and remember its base URL."""
        from bot.sandbox.wsgi_server import start_background_server

        server = start_background_server(self.wsgi_app, host=host, port=port)
        self.base_url = server.url
        return server

    def _require_base_url(self) -> str:
        if not self.base_url:
            raise RuntimeError("SlackEmulator is not served: call serve() or set base_url first")
        return self.base_url.rstrip("/")

    # ---------------------------------------------------------------- id / ts generation

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):08X}"

    def _generated_id(self) -> str:
        """Deterministic stand-in for the block_id / action_id Slack generates."""
        return f"gen{next(self._generated_ids):04d}"

    def _next_ts(self) -> str:
        """A message ts from the clock, strictly greater than any previous one."""
        with self._lock:
            micros = max(int(self.clock() * 1_000_000), self._last_ts_micros + 1)
            self._last_ts_micros = micros
            return _format_ts(micros)

    def _new_hash(self) -> str:
        return f"{int(self.clock())}.{secrets.token_hex(4)}"

    # ---------------------------------------------------------------- seeding helpers

    def add_user(
        self,
        id: str,
        name: str,
        real_name: str | None = None,
        tz: str = "UTC",
        *,
        email: str | None = None,
        is_bot: bool = False,
    ) -> JsonDict:
        """Create (or replace) a workspace member and return its users.info shape."""
        real = real_name or name
        profile: JsonDict = {
            "real_name": real,
            "real_name_normalized": real,
            "display_name": name,
            "display_name_normalized": name,
            "team": self.team_id,
        }
        if email:
            profile["email"] = email
        if is_bot:
            profile["bot_id"] = self.bot_id
        user: JsonDict = {
            "id": id,
            "team_id": self.team_id,
            "name": name,
            "deleted": False,
            "real_name": real,
            **_tz_fields(tz, self.clock()),
            "is_bot": is_bot,
            "is_admin": False,
            "is_app_user": False,
            "updated": int(self.clock()),
            "profile": profile,
        }
        with self._lock:
            self._users[id] = user
            return json_copy(user)

    def add_channel(
        self,
        name: str,
        id: str | None = None,
        is_private: bool = False,
        members: Iterable[str] = (),
        *,
        topic: str = "",
        purpose: str = "",
    ) -> JsonDict:
        """Create a channel (the bot is a member only if listed in ``members``)."""
        with self._lock:
            channel = _Channel(
                id=id or self._new_id("C"),
                name=name,
                is_private=is_private,
                members=list(dict.fromkeys(members)),
                created=int(self.clock()),
                creator=self.bot_user_id,
                topic=topic,
                purpose=purpose,
            )
            self._channels[channel.id] = channel
            return self._channel_record(channel)

    def add_usergroup(self, id: str, handle: str, users: Iterable[str], *, name: str | None = None) -> JsonDict:
        """Create a user group (``S…`` id) with the given members."""
        group: JsonDict = {
            "id": id,
            "team_id": self.team_id,
            "is_usergroup": True,
            "name": name or handle,
            "description": "",
            "handle": handle,
            "date_create": int(self.clock()),
            "users": list(users),
        }
        group["user_count"] = len(group["users"])
        with self._lock:
            self._usergroups[id] = group
            return json_copy(group)

    def new_trigger_id(self, user_id: str | None = None) -> str:
        """Issue a trigger_id (valid for ``trigger_ttl_seconds``), optionally bound to a user."""
        with self._lock:
            trigger_id = f"{next(self._ids)}.{int(self.clock())}.{secrets.token_hex(16)}"
            self._triggers[trigger_id] = _Trigger(created_at=self.clock(), user_id=user_id)
            return trigger_id

    def new_response_url(self, channel_id: str, user_id: str, message_ts: str | None = None) -> str:
        """Issue a response_url bound to a channel/user (and the source message for replace/delete)."""
        base = self._require_base_url()
        with self._lock:
            hook_id = secrets.token_hex(12)
            self._hooks[hook_id] = _ResponseHook(channel_id, user_id, message_ts, created_at=self.clock())
            return f"{base}/response/{hook_id}"

    def dm_channel(self, user_id: str) -> str:
        """The id of the bot's DM channel with ``user_id`` (created on first use)."""
        with self._lock:
            return self._dm(user_id).id

    def post_user_message(self, channel_id: str, user_id: str, text: str, thread_ts: str | None = None) -> JsonDict:
        """Store a message as if a human posted it (no Web API call is logged)."""
        with self._lock:
            channel = self._channel_for_helper(channel_id)
            message: JsonDict = {"type": "message", "user": user_id, "text": text, "ts": self._next_ts()}
            message["team"] = self.team_id
            if thread_ts:
                self._add_reply(channel, thread_ts, message, broadcast=False)
            else:
                self._add_top_level(channel, message)
            return json_copy(message)

    # ---------------------------------------------------------------- fault injection

    def fail_next(
        self,
        method: str,
        error: str = "ratelimited",
        status: int = 429,
        retry_after: int | None = None,
        times: int = 1,
        *,
        extra: JsonDict | None = None,
    ) -> None:
        """Make the next ``times`` calls of ``method`` fail without touching state.

        ``extra`` adds fields to the error body, e.g. ``{"needed": "chat:write"}`` for ``missing_scope``.
        """
        with self._lock:
            fault = _Fault(error, status, retry_after, times, dict(extra or {}))
            self._faults.setdefault(method, []).append(fault)

    def clear_faults(self) -> None:
        """Drop all pending injected faults."""
        with self._lock:
            self._faults.clear()

    def _take_fault(self, method: str) -> ApiResult | None:
        queue = self._faults.get(method)
        if not queue:
            return None
        fault = queue[0]
        fault.remaining -= 1
        if fault.remaining <= 0:
            queue.pop(0)
        headers = [("Retry-After", str(fault.retry_after))] if fault.retry_after is not None else []
        return ApiResult(fault.status, {"ok": False, "error": fault.error, **fault.extra}, headers)

    # ---------------------------------------------------------------- inspection helpers

    def calls(self, method: str | None = None) -> list[Call]:
        """Recorded Web API calls, oldest first, optionally filtered by method."""
        with self._lock:
            return [Call(m, *json.loads(recorded)) for m, recorded in self._calls if method is None or m == method]

    def messages(self, channel_id: str) -> list[JsonDict]:
        """Top-level messages (incl. thread broadcasts) of a channel, oldest first."""
        with self._lock:
            return json_copy(self._channel_for_helper(channel_id).messages)

    def replies(self, channel_id: str, thread_ts: str) -> list[JsonDict]:
        """Replies in a thread (without the parent), oldest first."""
        with self._lock:
            return json_copy(self._channel_for_helper(channel_id).threads.get(thread_ts, []))

    def message(self, channel_id: str, ts: str) -> JsonDict | None:
        """A single message (top-level or reply) by ts."""
        with self._lock:
            found = self._channel_for_helper(channel_id).index.get(ts)
            return json_copy(found) if found else None

    def ephemerals(self, channel_id: str | None = None, user: str | None = None) -> list[JsonDict]:
        """Ephemeral messages shown so far, optionally filtered by channel and/or user."""
        with self._lock:
            return json_copy(
                [
                    e
                    for e in self._ephemerals
                    if (channel_id is None or e["channel"] == channel_id) and (user is None or e["user"] == user)
                ]
            )

    def view(self, view_id: str) -> JsonDict | None:
        """A stored view (open, closed or home) by id."""
        with self._lock:
            found = self._views.get(view_id)
            return json_copy(found) if found else None

    def modal_stack(self, user_id: str) -> list[JsonDict]:
        """The user's open modals, root first."""
        with self._lock:
            return [json_copy(self._views[v]) for v in self._stacks.get(user_id, [])]

    def current_modal(self, user_id: str) -> JsonDict | None:
        """The top of the user's modal stack, if any."""
        stack = self.modal_stack(user_id)
        return stack[-1] if stack else None

    def modal_owner(self, view_id: str) -> str | None:
        """The user whose modal stack contains ``view_id`` (None if the view is not open)."""
        with self._lock:
            return next((user for user, stack in self._stacks.items() if view_id in stack), None)

    def home(self, user_id: str) -> JsonDict | None:
        """The App Home view published for the user."""
        with self._lock:
            view_id = self._homes.get(user_id)
            return json_copy(self._views[view_id]) if view_id else None

    def channel(self, channel_id: str) -> JsonDict | None:
        """conversations.info shape of a channel plus its ``members`` list."""
        with self._lock:
            found = self._channels.get(channel_id)
            return self._channel_record(found) if found else None

    def channel_by_name(self, name: str) -> JsonDict | None:
        """Like :meth:`channel`, looked up by name (leading ``#`` allowed)."""
        with self._lock:
            found = self._find_channel_by_name(name.lstrip("#"))
            return self._channel_record(found) if found else None

    def user(self, user_id: str) -> JsonDict | None:
        """users.info shape of a user."""
        with self._lock:
            found = self._users.get(user_id)
            return json_copy(found) if found else None

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 5.0, interval: float = 0.02) -> Any:
        """Poll ``predicate`` (real time) until it returns something truthy, and return that."""
        deadline = time.monotonic() + timeout
        while True:
            result = predicate()
            if result:
                return result
            if time.monotonic() >= deadline:
                raise TimeoutError(f"condition not met within {timeout}s")
            time.sleep(interval)

    # ---------------------------------------------------------------- platform-side view operations

    def close_view(self, view_id: str) -> None:
        """Remove ``view_id`` and every view pushed above it from its owner's stack."""
        with self._lock:
            for user, stack in list(self._stacks.items()):
                if view_id in stack:
                    del stack[stack.index(view_id) :]
                    if not stack:
                        del self._stacks[user]

    def clear_modals(self, user_id: str) -> None:
        """Close every modal of the user."""
        with self._lock:
            self._stacks.pop(user_id, None)

    def push_modal(self, user_id: str, spec: JsonDict) -> JsonDict:
        """Push a view on the user's stack (``response_action: push``)."""
        with self._lock:
            return json_copy(self._push(user_id, spec))

    def replace_view(self, view_id: str, spec: JsonDict) -> JsonDict:
        """Replace a view's content in place (``response_action: update``)."""
        with self._lock:
            return json_copy(self._replace_view(self._views_or_fail(view_id), spec))

    def set_view_errors(self, view_id: str, errors: JsonDict) -> None:
        """Store ``response_action: errors`` on the view."""
        with self._lock:
            self._views_or_fail(view_id)["errors"] = dict(errors)

    # ---------------------------------------------------------------- Web API entry points

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        return self.wsgi_app(environ, start_response)

    def wsgi_app(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """WSGI entry point: ``/api/<method>`` and ``/response/<id>``."""
        try:
            result = self._route(environ)
        except Exception:  # an emulator bug must surface as Slack's internal_error, not a dropped socket
            logger.exception("slack emulator failed on %s", environ.get("PATH_INFO"))
            result = ApiResult(500, {"ok": False, "error": "internal_error"})
        return _json_response(start_response, result)

    def _route(self, environ: WSGIEnvironment) -> ApiResult:
        path = str(environ.get("PATH_INFO", ""))
        if path.startswith("/api/"):
            return self._serve_api(environ, path[len("/api/") :])
        if path.startswith("/response/"):
            return self._serve_response_url(environ, path[len("/response/") :])
        if path in ("", "/", "/health"):
            return ApiResult(200, {"ok": True, "service": "slack-emulator"})
        return ApiResult(404, {"ok": False, "error": "not_found"})

    def _serve_api(self, environ: WSGIEnvironment, method: str) -> ApiResult:
        try:
            args = _read_args(environ)
        except SlackApiFailure as exc:
            return self._record(method, {}, ApiResult(exc.status, exc.body()))
        token = _bearer_token(environ) or args.pop("token", None)
        args.pop("token", None)
        return self.handle_api_call(method, args, token)

    def handle_api_call(self, method: str, args: JsonDict, token: str | None) -> ApiResult:
        """Run one Web API call (also usable without HTTP) and log it."""
        with self._lock:
            try:
                decoded = _decode_json_fields(args)
            except SlackApiFailure as exc:
                return self._record(method, args, ApiResult(exc.status, exc.body()))
            return self._record(method, decoded, self._dispatch(method, decoded, token))

    def api(self, method: str, **args: Any) -> JsonDict:
        """Call a Web API method in-process with the bot token; returns the JSON body."""
        return self.handle_api_call(method, args, self.bot_token).body

    def _record(self, method: str, args: JsonDict, result: ApiResult) -> ApiResult:
        with self._lock:
            self._calls.append((method, json.dumps([args, result.body])))
        return result

    def _dispatch(self, method: str, args: JsonDict, token: str | None) -> ApiResult:
        fault = self._take_fault(method)
        if fault is not None:
            return fault
        handler = self._handlers.get(method)
        try:
            if handler is None:
                raise SlackApiFailure("unknown_method", req_method=method)
            self._check_auth(token)
            body = handler(args)
        except SlackApiFailure as exc:
            return ApiResult(exc.status, exc.body())
        return ApiResult(200, {"ok": True, **body})

    def _check_auth(self, token: str | None) -> None:
        if not token:
            raise SlackApiFailure("not_authed")
        if token != self.bot_token:
            raise SlackApiFailure("invalid_auth")

    # ---------------------------------------------------------------- lookups

    def _channel_record(self, channel: _Channel) -> JsonDict:
        record = self._render_channel(channel)
        record["members"] = list(channel.members)
        record["pins"] = list(channel.pins)
        return record

    def _render_channel(self, ch: _Channel) -> JsonDict:
        """conversations.info ``channel`` object."""
        if ch.is_im:
            return {"id": ch.id, "is_im": True, "user": ch.im_user, "created": ch.created, "is_user_deleted": False}
        return {
            "id": ch.id,
            "name": ch.name,
            "name_normalized": ch.name,
            "is_channel": True,
            "is_group": ch.is_private,
            "is_im": False,
            "is_mpim": False,
            "is_private": ch.is_private,
            "is_archived": ch.is_archived,
            "is_general": False,
            "is_shared": False,
            "is_ext_shared": False,
            "is_org_shared": False,
            "is_member": self.bot_user_id in ch.members,
            "created": ch.created,
            "creator": ch.creator,
            "context_team_id": self.team_id,
            "topic": {"value": ch.topic, "creator": "", "last_set": 0},
            "purpose": {"value": ch.purpose, "creator": "", "last_set": 0},
            "num_members": len(ch.members),
        }

    def _find_channel_by_name(self, name: str) -> _Channel | None:
        return next((c for c in self._channels.values() if c.name == name and not c.is_im), None)

    def _channel_for_helper(self, key: str) -> _Channel:
        """Channel by id or name for inspection helpers (KeyError if unknown)."""
        found = self._channels.get(key) or self._find_channel_by_name(key.lstrip("#"))
        if found is None:
            raise KeyError(f"unknown channel {key!r}")
        return found

    def _dm(self, user_id: str) -> _Channel:
        if user_id not in self._dms:
            dm = _Channel(
                id=self._new_id("D"),
                name=user_id,
                is_private=True,
                members=[user_id, self.bot_user_id],
                created=int(self.clock()),
                creator=self.bot_user_id,
                is_im=True,
                im_user=user_id,
            )
            self._channels[dm.id] = dm
            self._dms[user_id] = dm.id
        return self._channels[self._dms[user_id]]

    def _visible_channel(self, key: Any) -> _Channel:
        """Resolve a channel id/name/user id as the bot sees it (``channel_not_found`` otherwise)."""
        key = str(_required({"channel": key}, "channel", "channel_not_found"))
        if key in self._users and key not in self._channels:
            return self._dm(key)
        found = self._channels.get(key) or self._find_channel_by_name(key.lstrip("#"))
        if found is None or (found.is_private and self.bot_user_id not in found.members):
            raise SlackApiFailure("channel_not_found")
        return found

    def _member_channel(self, key: Any) -> _Channel:
        """A visible channel the bot belongs to (``not_in_channel`` otherwise)."""
        channel = self._visible_channel(key)
        if self.bot_user_id not in channel.members:
            raise SlackApiFailure("not_in_channel")
        return channel

    def _writable_channel(self, key: Any) -> _Channel:
        channel = self._visible_channel(key)
        if channel.is_archived:
            raise SlackApiFailure("is_archived")
        return channel

    def _user_or_fail(self, user_id: Any, error: str = "user_not_found") -> JsonDict:
        found = self._users.get(str(user_id or ""))
        if found is None:
            raise SlackApiFailure(error)
        return found

    def _message_or_fail(self, channel: _Channel, ts: Any) -> JsonDict:
        found = channel.index.get(str(ts or ""))
        if found is None:
            raise SlackApiFailure("message_not_found")
        return found

    def _views_or_fail(self, view_id: str) -> JsonDict:
        found = self._views.get(view_id)
        if found is None:
            raise SlackApiFailure("not_found")
        return found

    # ---------------------------------------------------------------- message storage

    def _normalize_blocks(self, blocks: list[JsonDict]) -> list[JsonDict]:
        """Deep-copy blocks, filling in block_id / action_id the way Slack generates them."""
        result = json_copy(blocks)
        for block in result:
            block.setdefault("block_id", self._generated_id())
            for element in _iter_block_elements(block):
                element.setdefault("action_id", self._generated_id())
        return result

    def _message_content(self, args: JsonDict, *, partial: bool = False) -> JsonDict:
        """text / blocks / attachments / metadata of a message, validated like chat.postMessage."""
        content: JsonDict = {}
        if args.get("text") is not None:
            content["text"] = str(args["text"])
        if args.get("blocks") is not None:
            blocks = _validate_blocks(args["blocks"], MAX_MESSAGE_BLOCKS, "invalid_blocks")
            content["blocks"] = self._normalize_blocks(blocks)
        for key in ("attachments", "metadata"):
            if args.get(key) is not None:
                content[key] = json_copy(args[key])
        if not (content.get("text") or content.get("blocks") or content.get("attachments")):
            raise SlackApiFailure("no_text")
        if not partial:
            content.setdefault("text", "")
        return content

    def _new_bot_message(self, content: JsonDict) -> JsonDict:
        return {
            "type": "message",
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "app_id": self.app_id,
            "team": self.team_id,
            "ts": self._next_ts(),
            **content,
        }

    def _add_top_level(self, channel: _Channel, message: JsonDict) -> None:
        channel.messages.append(message)
        channel.index[message["ts"]] = message

    def _add_reply(self, channel: _Channel, thread_ts: str, message: JsonDict, *, broadcast: bool) -> None:
        parent = channel.index.get(thread_ts)
        if parent is None or parent.get("thread_ts", thread_ts) != thread_ts:
            raise SlackApiFailure("invalid_thread_ts")
        message["thread_ts"] = thread_ts
        parent["thread_ts"] = thread_ts
        parent["reply_count"] = parent.get("reply_count", 0) + 1
        users = parent.setdefault("reply_users", [])
        if message.get("user") and message["user"] not in users:
            users.append(message["user"])
        parent["reply_users_count"] = len(users)
        parent["latest_reply"] = message["ts"]
        channel.threads.setdefault(thread_ts, []).append(message)
        channel.index[message["ts"]] = message
        if broadcast:
            message["subtype"] = "thread_broadcast"
            channel.messages.append(message)

    def _remove_message(self, channel: _Channel, message: JsonDict) -> None:
        """Delete a message; a thread parent with replies becomes a tombstone like in Slack."""
        ts = message["ts"]
        if channel.threads.get(ts):
            kept = ("ts", "thread_ts", "reply_count", "reply_users", "reply_users_count", "latest_reply")
            keep = {k: message[k] for k in kept if k in message}
            message.clear()
            message.update({"type": "message", "subtype": "tombstone", "text": "This message was deleted.", **keep})
            return
        channel.index.pop(ts, None)
        channel.messages[:] = [m for m in channel.messages if m is not message]
        thread_ts = message.get("thread_ts")
        if thread_ts and thread_ts != ts:
            replies = channel.threads.get(thread_ts, [])
            replies[:] = [m for m in replies if m is not message]
            parent = channel.index.get(thread_ts)
            if parent is not None:
                parent["reply_count"] = len(replies)

    def _permalink(self, channel: _Channel, message: JsonDict) -> str:
        ts = message["ts"]
        link = f"{self.workspace_url}archives/{channel.id}/p{ts.replace('.', '')}"
        thread_ts = message.get("thread_ts")
        if thread_ts and thread_ts != ts:
            link += f"?thread_ts={thread_ts}&cid={channel.id}"
        return link

    def _store_ephemeral(self, channel_id: str, user_id: str, content: JsonDict, source: str) -> JsonDict:
        record: JsonDict = {
            "channel": channel_id,
            "user": user_id,
            "text": content.get("text", ""),
            "blocks": content.get("blocks", []),
            "ts": self._next_ts(),
            "thread_ts": content.get("thread_ts"),
            "source": source,
        }
        self._ephemerals.append(record)
        return record

    # ---------------------------------------------------------------- auth / chat handlers

    def _auth_test(self, args: JsonDict) -> JsonDict:
        return {
            "url": self.workspace_url,
            "team": self.team_name,
            "user": self.bot_name,
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _chat_post_message(self, args: JsonDict) -> JsonDict:
        channel = self._writable_channel(args.get("channel"))
        message = self._new_bot_message(self._message_content(args))
        thread_ts = args.get("thread_ts")
        if thread_ts:
            self._add_reply(channel, str(thread_ts), message, broadcast=_truthy(args.get("reply_broadcast")))
        else:
            self._add_top_level(channel, message)
        return {"channel": channel.id, "ts": message["ts"], "message": json_copy(message)}

    def _chat_update(self, args: JsonDict) -> JsonDict:
        channel = self._writable_channel(args.get("channel"))
        message = self._message_or_fail(channel, args.get("ts"))
        if message.get("user") != self.bot_user_id or message.get("subtype") == "tombstone":
            raise SlackApiFailure("cant_update_message")
        message.update(self._message_content(args, partial=True))
        message["edited"] = {"user": self.bot_user_id, "ts": self._next_ts()}
        return {
            "channel": channel.id,
            "ts": message["ts"],
            "text": message.get("text", ""),
            "message": json_copy(message),
        }

    def _chat_post_ephemeral(self, args: JsonDict) -> JsonDict:
        channel = self._writable_channel(args.get("channel"))
        user = self._user_or_fail(args.get("user"))
        content = self._message_content(args)
        if args.get("thread_ts"):
            content["thread_ts"] = str(args["thread_ts"])
        record = self._store_ephemeral(channel.id, user["id"], content, "chat.postEphemeral")
        return {"message_ts": record["ts"]}

    def _chat_get_permalink(self, args: JsonDict) -> JsonDict:
        channel = self._visible_channel(args.get("channel"))
        message = self._message_or_fail(channel, args.get("message_ts"))
        return {"channel": channel.id, "permalink": self._permalink(channel, message)}

    def _chat_delete(self, args: JsonDict) -> JsonDict:
        channel = self._writable_channel(args.get("channel"))
        message = self._message_or_fail(channel, args.get("ts"))
        if message.get("user") != self.bot_user_id:
            raise SlackApiFailure("cant_delete_message")
        self._remove_message(channel, message)
        return {"channel": channel.id, "ts": str(args["ts"])}

    # ---------------------------------------------------------------- views

    def _check_trigger(self, trigger_id: Any) -> _Trigger:
        trigger = self._triggers.get(str(trigger_id or ""))
        if trigger is None:
            raise SlackApiFailure("invalid_trigger_id")
        if trigger.used:
            raise SlackApiFailure("exchanged_trigger_id")
        if self.clock() - trigger.created_at > self.trigger_ttl_seconds:
            raise SlackApiFailure("expired_trigger_id")
        return trigger

    def _view_arg(self, args: JsonDict, allowed_types: tuple[str, ...]) -> JsonDict:
        return _validate_view_spec(_required(args, "view"), allowed_types)

    def _check_external_id(self, spec: JsonDict, own_id: str | None = None) -> None:
        external_id = spec.get("external_id")
        if not external_id:
            return
        if any(v["external_id"] == external_id and v["id"] != own_id for v in self._views.values()):
            raise SlackApiFailure("duplicate_external_id")

    def _build_view(self, spec: JsonDict, view_id: str, root_view_id: str, previous_view_id: str | None) -> JsonDict:
        return {
            "id": view_id,
            "team_id": self.team_id,
            "type": spec["type"],
            "blocks": self._normalize_blocks(spec.get("blocks", [])),
            "private_metadata": str(spec.get("private_metadata", "")),
            "callback_id": str(spec.get("callback_id", "")),
            "state": {"values": {}},
            "hash": self._new_hash(),
            "title": json_copy(spec.get("title")),
            "clear_on_close": bool(spec.get("clear_on_close", False)),
            "notify_on_close": bool(spec.get("notify_on_close", False)),
            "close": json_copy(spec.get("close")),
            "submit": json_copy(spec.get("submit")),
            "previous_view_id": previous_view_id,
            "root_view_id": root_view_id,
            "app_id": self.app_id,
            "external_id": str(spec.get("external_id", "")),
            "app_installed_team_id": self.team_id,
            "bot_id": self.bot_id,
        }

    def _create_view(self, spec: JsonDict, root_view_id: str | None, previous_view_id: str | None) -> JsonDict:
        self._check_external_id(spec)
        view_id = self._new_id("V")
        view = self._build_view(spec, view_id, root_view_id or view_id, previous_view_id)
        self._views[view_id] = view
        return view

    def _replace_view(self, current: JsonDict, spec: JsonDict) -> JsonDict:
        _validate_view_spec(spec, (current["type"],))
        self._check_external_id(spec, own_id=current["id"])
        view = self._build_view(spec, current["id"], current["root_view_id"], current["previous_view_id"])
        self._views[current["id"]] = view
        return view

    def _push(self, user_id: str, spec: JsonDict) -> JsonDict:
        _validate_view_spec(spec, ("modal",))
        stack = self._stacks.get(user_id)
        if not stack:
            raise SlackApiFailure("not_found")
        if len(stack) >= MAX_MODAL_STACK:
            raise SlackApiFailure("push_limit_reached")
        view = self._create_view(spec, root_view_id=stack[0], previous_view_id=stack[-1])
        stack.append(view["id"])
        return view

    def _views_open(self, args: JsonDict) -> JsonDict:
        trigger = self._check_trigger(args.get("trigger_id"))
        spec = self._view_arg(args, ("modal",))
        view = self._create_view(spec, root_view_id=None, previous_view_id=None)
        trigger.used = True
        self._stacks[trigger.user_id or ANONYMOUS_USER] = [view["id"]]
        return {"view": json_copy(view)}

    def _views_push(self, args: JsonDict) -> JsonDict:
        trigger = self._check_trigger(args.get("trigger_id"))
        view = self._push(trigger.user_id or ANONYMOUS_USER, self._view_arg(args, ("modal",)))
        trigger.used = True
        return {"view": json_copy(view)}

    def _view_for_update(self, args: JsonDict) -> JsonDict:
        if args.get("view_id"):
            return self._views_or_fail(str(args["view_id"]))
        external_id = args.get("external_id")
        found = next((v for v in self._views.values() if external_id and v["external_id"] == external_id), None)
        if found is None:
            raise SlackApiFailure("not_found")
        return found

    def _views_update(self, args: JsonDict) -> JsonDict:
        current = self._view_for_update(args)
        if args.get("hash") and args["hash"] != current["hash"]:
            raise SlackApiFailure("hash_conflict")
        spec = _required(args, "view")
        return {"view": json_copy(self._replace_view(current, spec))}

    def _views_publish(self, args: JsonDict) -> JsonDict:
        user = self._user_or_fail(args.get("user_id"))
        spec = self._view_arg(args, ("home",))
        current_id = self._homes.get(user["id"])
        if current_id is None:
            view = self._create_view(spec, root_view_id=None, previous_view_id=None)
            self._homes[user["id"]] = view["id"]
            return {"view": json_copy(view)}
        current = self._views[current_id]
        if args.get("hash") and args["hash"] != current["hash"]:
            raise SlackApiFailure("hash_conflict")
        return {"view": json_copy(self._replace_view(current, spec))}

    # ---------------------------------------------------------------- users / usergroups

    def _users_info(self, args: JsonDict) -> JsonDict:
        return {"user": json_copy(self._user_or_fail(args.get("user")))}

    def _users_list(self, args: JsonDict) -> JsonDict:
        page = _paginate(list(self._users.values()), args, "members")
        page.pop("has_more")
        return {**page, "cache_ts": int(self.clock())}

    def _users_lookup_by_email(self, args: JsonDict) -> JsonDict:
        email = str(args.get("email") or "").lower()
        found = next((u for u in self._users.values() if u["profile"].get("email", "").lower() == email), None)
        if not email or found is None:
            raise SlackApiFailure("users_not_found")
        return {"user": json_copy(found)}

    def _usergroups_list(self, args: JsonDict) -> JsonDict:
        include_users = _truthy(args.get("include_users"))
        groups = [json_copy(g) for g in self._usergroups.values()]
        if not include_users:
            for group in groups:
                group.pop("users")
        return {"usergroups": groups}

    def _usergroups_users_list(self, args: JsonDict) -> JsonDict:
        group = self._usergroups.get(str(args.get("usergroup") or ""))
        if group is None:
            raise SlackApiFailure("no_such_subteam")
        return {"users": list(group["users"])}

    # ---------------------------------------------------------------- conversations

    def _conversations_info(self, args: JsonDict) -> JsonDict:
        return {"channel": self._render_channel(self._visible_channel(args.get("channel")))}

    def _listable(self, channel: _Channel, types: set[str], exclude_archived: bool) -> bool:
        if exclude_archived and channel.is_archived:
            return False
        if channel.is_im:
            return "im" in types
        if channel.is_private:
            return "private_channel" in types and self.bot_user_id in channel.members
        return "public_channel" in types

    def _conversations_list(self, args: JsonDict) -> JsonDict:
        types = set(_split_ids(args.get("types") or "public_channel"))
        exclude_archived = _truthy(args.get("exclude_archived"))
        found = [self._render_channel(c) for c in self._channels.values() if self._listable(c, types, exclude_archived)]
        page = _paginate(found, args, "channels")
        page.pop("has_more")
        return page

    def _conversations_history(self, args: JsonDict) -> JsonDict:
        channel = self._member_channel(args.get("channel"))
        oldest = float(args.get("oldest") or 0)
        latest = float(args.get("latest") or "inf")
        inclusive = _truthy(args.get("inclusive"))
        selected = [m for m in channel.messages if _in_range(float(m["ts"]), oldest, latest, inclusive)]
        page = _paginate(list(reversed(selected)), args, "messages")
        return {**page, "pin_count": len(channel.pins)}

    def _conversations_replies(self, args: JsonDict) -> JsonDict:
        channel = self._member_channel(args.get("channel"))
        message = channel.index.get(str(args.get("ts") or ""))
        if message is None:
            raise SlackApiFailure("thread_not_found")
        thread_ts = str(message.get("thread_ts") or message["ts"])
        parent = channel.index.get(thread_ts, message)
        return _paginate([parent, *channel.threads.get(thread_ts, [])], args, "messages")

    def _conversations_create(self, args: JsonDict) -> JsonDict:
        name = str(args.get("name") or "")
        if not name:
            raise SlackApiFailure("invalid_name_required")
        if len(name) > 80:
            raise SlackApiFailure("invalid_name_maxlength")
        if not CHANNEL_NAME_RE.match(name):
            raise SlackApiFailure("invalid_name_specials")
        if self._find_channel_by_name(name) is not None:
            raise SlackApiFailure("name_taken")
        record = self.add_channel(name, is_private=_truthy(args.get("is_private")), members=[self.bot_user_id])
        return {"channel": self._render_channel(self._channels[record["id"]])}

    def _conversations_invite(self, args: JsonDict) -> JsonDict:
        channel = self._member_channel(args.get("channel"))
        user_ids = _split_ids(args.get("users"))
        if not user_ids:
            raise SlackApiFailure("no_user")
        for user_id in user_ids:
            self._check_invitable(channel, user_id)
        channel.members.extend(u for u in dict.fromkeys(user_ids))
        return {"channel": self._render_channel(channel)}

    def _check_invitable(self, channel: _Channel, user_id: str) -> None:
        if user_id == self.bot_user_id:
            raise SlackApiFailure("cant_invite_self")
        self._user_or_fail(user_id)
        if user_id in channel.members:
            raise SlackApiFailure("already_in_channel", errors=[{"user": user_id, "ok": False}])

    def _conversations_join(self, args: JsonDict) -> JsonDict:
        channel = self._writable_channel(args.get("channel"))
        if channel.is_private or channel.is_im:
            raise SlackApiFailure("method_not_supported_for_channel_type")
        if self.bot_user_id in channel.members:
            return {
                "channel": self._render_channel(channel),
                "warning": "already_in_channel",
                "response_metadata": {"warnings": ["already_in_channel"]},
            }
        channel.members.append(self.bot_user_id)
        return {"channel": self._render_channel(channel)}

    def _conversations_members(self, args: JsonDict) -> JsonDict:
        channel = self._visible_channel(args.get("channel"))
        page = _paginate([{"id": m} for m in channel.members], args, "members")
        page.pop("has_more")
        page["members"] = [m["id"] for m in page["members"]]
        return page

    def _conversations_open(self, args: JsonDict) -> JsonDict:
        if args.get("channel"):
            return {"channel": {"id": self._visible_channel(args["channel"]).id}}
        user_ids = _split_ids(args.get("users"))
        if len(user_ids) != 1:
            raise SlackApiFailure("users_list_not_supplied" if not user_ids else "not_implemented")
        self._user_or_fail(user_ids[0])
        return {"channel": {"id": self._dm(user_ids[0]).id}}

    def _conversations_set_topic(self, args: JsonDict) -> JsonDict:
        channel = self._member_channel(args.get("channel"))
        channel.topic = str(args.get("topic") or "")
        return {"channel": self._render_channel(channel)}

    def _conversations_set_purpose(self, args: JsonDict) -> JsonDict:
        channel = self._member_channel(args.get("channel"))
        channel.purpose = str(args.get("purpose") or "")
        return {"channel": self._render_channel(channel), "purpose": channel.purpose}

    # ---------------------------------------------------------------- pins / reactions

    def _pins_add(self, args: JsonDict) -> JsonDict:
        channel = self._member_channel(args.get("channel"))
        message = self._message_or_fail(channel, args.get("timestamp"))
        if message["ts"] in channel.pins:
            raise SlackApiFailure("already_pinned")
        channel.pins.append(message["ts"])
        message.setdefault("pinned_to", []).append(channel.id)
        message["pinned_info"] = {"channel": channel.id, "pinned_by": self.bot_user_id, "pinned_ts": self.clock()}
        return {}

    def _pins_list(self, args: JsonDict) -> JsonDict:
        channel = self._visible_channel(args.get("channel"))
        items = []
        for ts in reversed(channel.pins):
            message = channel.index.get(ts)
            if message is None:
                continue
            items.append(
                {
                    "type": "message",
                    "created": int(message.get("pinned_info", {}).get("pinned_ts", 0)),
                    "created_by": self.bot_user_id,
                    "channel": channel.id,
                    "message": json_copy(message),
                }
            )
        return {"items": items}

    def _reactions_add(self, args: JsonDict) -> JsonDict:
        channel = self._visible_channel(args.get("channel"))
        message = self._message_or_fail(channel, args.get("timestamp"))
        name = str(args.get("name") or "").strip(":")
        if not name:
            raise SlackApiFailure("invalid_name")
        reactions = message.setdefault("reactions", [])
        reaction = next((r for r in reactions if r["name"] == name), None)
        if reaction is None:
            reaction = {"name": name, "users": [], "count": 0}
            reactions.append(reaction)
        if self.bot_user_id in reaction["users"]:
            raise SlackApiFailure("already_reacted")
        reaction["users"].append(self.bot_user_id)
        reaction["count"] = len(reaction["users"])
        return {}

    # ---------------------------------------------------------------- response_url / ack

    def _serve_response_url(self, environ: WSGIEnvironment, hook_id: str) -> ApiResult:
        try:
            payload = json.loads(_read_body(environ) or b"{}")
        except json.JSONDecodeError:
            payload = None
        if not isinstance(payload, dict):
            failure = ApiResult(400, {"ok": False, "error": "invalid_payload"})
            return self._record("response_url", {"response_id": hook_id}, failure)
        return self.handle_response_url(hook_id, payload)

    def handle_response_url(self, hook_id: str, payload: JsonDict) -> ApiResult:
        """Apply a message sent to a response_url (Bolt's ``respond()``) and log it as ``response_url``."""
        with self._lock:
            args = {"response_id": hook_id, **payload}
            try:
                hook = self._usable_hook(hook_id)
                self._apply_response(hook, payload, "response_url")
            except SlackApiFailure as exc:
                return self._record("response_url", args, ApiResult(exc.status, exc.body()))
            hook.uses += 1
            return self._record("response_url", args, ApiResult(200, {"ok": True}))

    def apply_ack(self, channel_id: str, user_id: str, payload: JsonDict) -> None:
        """Show a slash-command ack body (text/blocks) the way Slack does."""
        with self._lock:
            hook = _ResponseHook(channel_id, user_id, None, created_at=self.clock())
            self._apply_response(hook, payload, "ack")

    def _usable_hook(self, hook_id: str) -> _ResponseHook:
        hook = self._hooks.get(hook_id)
        if hook is None:
            raise SlackApiFailure("no_active_hooks", status=404)
        if self.clock() - hook.created_at > RESPONSE_URL_TTL_SECONDS:
            raise SlackApiFailure("expired_url", status=404)
        if hook.uses >= RESPONSE_URL_MAX_USES:
            raise SlackApiFailure("used_url", status=404)
        return hook

    def _apply_response(self, hook: _ResponseHook, payload: JsonDict, source: str) -> None:
        if _truthy(payload.get("delete_original")):
            self._delete_original(hook)
        elif _truthy(payload.get("replace_original")) and (hook.message_ts or hook.ephemeral):
            self._replace_original(hook, payload)
        elif payload.get("response_type") == "in_channel":
            channel = self._hook_channel(hook)
            message = self._new_bot_message(self._message_content(payload))
            if payload.get("thread_ts"):
                self._add_reply(channel, str(payload["thread_ts"]), message, broadcast=False)
            else:
                self._add_top_level(channel, message)
        else:
            content = self._message_content(payload)
            if payload.get("thread_ts"):
                content["thread_ts"] = str(payload["thread_ts"])
            hook.ephemeral = self._store_ephemeral(hook.channel_id, hook.user_id, content, source)

    def _hook_channel(self, hook: _ResponseHook) -> _Channel:
        found = self._channels.get(hook.channel_id)
        if found is None:
            raise SlackApiFailure("channel_not_found")
        return found

    def _delete_original(self, hook: _ResponseHook) -> None:
        if hook.message_ts:
            channel = self._hook_channel(hook)
            self._remove_message(channel, self._message_or_fail(channel, hook.message_ts))
        elif hook.ephemeral is not None:
            self._ephemerals[:] = [e for e in self._ephemerals if e is not hook.ephemeral]
            hook.ephemeral = None

    def _replace_original(self, hook: _ResponseHook, payload: JsonDict) -> None:
        content = self._message_content(payload)
        if hook.message_ts:
            message = self._message_or_fail(self._hook_channel(hook), hook.message_ts)
            message.pop("blocks", None)
            message.update(content)
        elif hook.ephemeral is not None:
            hook.ephemeral.update(text=content.get("text", ""), blocks=content.get("blocks", []))


def _in_range(ts: float, oldest: float, latest: float, inclusive: bool) -> bool:
    if inclusive:
        return oldest <= ts <= latest
    return oldest < ts < latest
