"""Records, constants and clocks of the Slack emulator: the data the workspace is made of."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import bot.jsontext as jsontext

JsonDict = dict[str, Any]


def json_copy(value: Any) -> Any:
    """A deep copy of JSON data (everything the emulator stores is JSON): much faster than copy.deepcopy."""
    return jsontext.copied(value)


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


class PayloadTally:
    """How many Block Kit payloads (messages and views) were checked, and how many of them were refused."""

    def __init__(self) -> None:
        self.validated = 0
        self.refused = 0
        self._lock = threading.Lock()

    def count(self, *, refused: bool) -> None:
        with self._lock:
            self.validated += 1
            self.refused += int(refused)


PAYLOADS = PayloadTally()  # every emulator in this process (a test run's total)


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
    # The body as sent, encoded once when the call is recorded (under the emulator's lock, so it shows the state of
    # that moment); handlers may answer with the stored records themselves instead of copies of them.
    encoded: bytes | None = field(default=None, compare=False, repr=False)


@dataclass
class RawResult:
    """HTTP status, content type, extra headers and raw body of a non-JSON response (file downloads)."""

    status: int
    content_type: str
    body: bytes
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
    is_mpim: bool = False
    is_archived: bool = False
    shared_with: str | None = None  # "workspace" (shared within an org) or "external" (Slack Connect)
    pins: list[str] = field(default_factory=list)
    messages: list[JsonDict] = field(default_factory=list)
    threads: dict[str, list[JsonDict]] = field(default_factory=dict)
    index: dict[str, JsonDict] = field(default_factory=dict)


@dataclass
class _PendingUpload:
    """A file announced with files.getUploadURLExternal; its bytes arrive at the upload URL before completion."""

    filename: str
    length: int
    alt_txt: str | None
    content: bytes | None = None


@dataclass
class _StoredFile:
    """A file shared in a message: its Slack file object, its bytes and the channel it was shared in."""

    record: JsonDict
    content: bytes
    channel_id: str


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
