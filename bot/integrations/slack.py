"""Outbound Slack Web API calls: one client with bounded retries, errors classified for the outbox."""

from __future__ import annotations

import contextvars
import http.client
import logging
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any
from urllib.parse import urlsplit

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web import SlackResponse

from bot.integrations import slack_json
from bot.integrations.slack_connections import KeepAliveWebClient, origin_of
from bot.integrations.slack_hosts import SlackHosts, host_of
from bot.observability.metrics import timed_slack_call

logger = logging.getLogger(__name__)

# Errors that a later attempt can fix on its own; everything else needs a person.
RETRYABLE_ERRORS = {
    "ratelimited",
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
    "connection_error",
}

HINTS = {
    "not_in_channel": "invite the bot to the channel (`/invite @Triage Bot`)",
    "channel_not_found": "the channel is gone or private: invite the bot to it",
    "is_archived": "the channel is archived",
    "missing_scope": "reinstall the app from slack-app-manifest.yaml so it has the scope named in the error",
    "invalid_auth": "SLACK_BOT_TOKEN is not valid for this workspace",
    "token_revoked": "the app was uninstalled: reinstall it and update SLACK_BOT_TOKEN",
    "not_installed": "the app is not installed in this workspace (any more): install it again from /slack/install",
}


DOWNLOAD_TIMEOUT_SECONDS = 10
NOT_ON_SLACK_FILE_HOST = "not_on_slack_file_host"  # a file the bot will not fetch (no request, no token)
UNKNOWN_OPERATION = "unknown_operation"  # a stored call naming no Web API method the bot knows
DEFAULT_MAX_DOWNLOAD_BYTES = 10 * 1024 * 1024
REPLIES_PAGE_SIZE = 200  # asked for; Slack gives a distributed non-Marketplace app at most 15
RESEND_LOOKUP_SIZE = 15  # the one history read before a resend: what every install may have in one call
MAX_SDK_RATE_LIMIT_WAIT_SECONDS = 2.0  # a longer Retry-After goes back to the outbox, which waits without a thread
# Set while the outbox makes a call: its 429s go back to the outbox, which pauses the shared rate budget, instead of
# being sent again from inside the client where no budget sees them.
_paced_by_outbox: contextvars.ContextVar[bool] = contextvars.ContextVar("paced_by_outbox", default=False)
_READ_CHUNK_BYTES = 64 * 1024

# Every Web API method the bot calls by name (the outbox stores these names), as slack_sdk's typed WebClient
# method: each encodes its arguments the way Slack reads that method (JSON for chat.postMessage, form parameters
# for chat.getPermalink, conversations.replies, ...).
SLACK_METHODS: dict[str, str] = {
    "auth.test": "auth_test",
    "chat.delete": "chat_delete",
    "chat.getPermalink": "chat_getPermalink",
    "chat.postEphemeral": "chat_postEphemeral",
    "chat.postMessage": "chat_postMessage",
    "chat.update": "chat_update",
    "conversations.create": "conversations_create",
    "conversations.history": "conversations_history",
    "conversations.info": "conversations_info",
    "conversations.invite": "conversations_invite",
    "conversations.join": "conversations_join",
    "conversations.members": "conversations_members",
    "conversations.replies": "conversations_replies",
    "pins.add": "pins_add",
    "usergroups.list": "usergroups_list",
    "usergroups.users.list": "usergroups_users_list",
    "users.info": "users_info",
    "users.lookupByEmail": "users_lookupByEmail",
}


class UnknownSlackOperation(ValueError):
    """A Web API method name the bot has no typed call for (a typo, or a method never meant to be called)."""


def check_operation(operation: str) -> None:
    """Refuse a Web API method name that `SlackGateway.call` could not send."""
    if operation not in SLACK_METHODS:
        raise UnknownSlackOperation(f"no typed Slack call for {operation!r}; add it to SLACK_METHODS")


class SlackCallError(Exception):
    """A Slack call that did not succeed, with what the outbox needs to decide what to do next."""

    def __init__(
        self,
        error: str,
        *,
        retryable: bool,
        retry_after: float | None = None,
        needed: str | None = None,
        refused: bool = False,
    ):
        self.error = error
        self.retryable = retryable
        self.retry_after = retry_after
        self.needed = needed
        # Slack answered that it did not do it (an error below HTTP 500, e.g. 429): nothing happened in Slack.
        # After a 5xx or a lost connection the call may have taken effect.
        self.refused = refused
        hint = HINTS.get(error)
        detail = f" (needs scope {needed})" if needed else ""
        super().__init__(f"{error}{detail}" + (f": {hint}" if hint else ""))


@contextmanager
def paced_by_outbox() -> Iterator[None]:
    """Calls made inside are paced by the outbox's rate budgets: a 429 is never retried by the client."""
    token = _paced_by_outbox.set(True)
    try:
        yield
    finally:
        _paced_by_outbox.reset(token)


class ShortRateLimitRetryHandler(RateLimitErrorRetryHandler):
    """Retries a 429 after its Retry-After only when that is short; a longer wait is left to the outbox.

    slack_sdk's own handler sleeps whatever Slack asks, e.g. a minute for a history read of a distributed app,
    holding a delivery thread that long. A call the outbox makes (`paced_by_outbox`) is never retried here: the
    outbox pauses the rate budget every replica shares and sends the call again when it refills.
    """

    def __init__(self, max_retry_count: int = 1, max_wait_seconds: float = MAX_SDK_RATE_LIMIT_WAIT_SECONDS) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.max_wait_seconds = max_wait_seconds

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if response is None or response.status_code != 429 or _paced_by_outbox.get():
            return False
        wait = _header_seconds({k: v for k, v in (response.headers or {}).items()})
        return wait is not None and wait <= self.max_wait_seconds


def build_web_client(*, token: str | None, base_url: str, timeout: int = 10) -> WebClient:
    """A WebClient on kept-alive connections, its JSON on orjson (`slack_json`), that retries connection errors, a
    short 429 (after its Retry-After) and 5xx once each."""
    slack_json.install()
    return KeepAliveWebClient(
        token=token,
        base_url=base_url,
        timeout=timeout,
        retry_handlers=[
            ConnectionErrorRetryHandler(max_retry_count=1),
            ShortRateLimitRetryHandler(max_retry_count=1),
            ServerErrorRetryHandler(max_retry_count=1),
        ],
    )


def _header_seconds(headers: dict[str, Any]) -> float | None:
    """Retry-After in seconds from a header mapping (values may be lists, as slack_sdk keeps them)."""
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if isinstance(value, list):
        value = value[0] if value else None
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _retry_after(error: SlackApiError) -> float | None:
    return _header_seconds(dict(error.response.headers or {}))


class _SameOriginRedirects(urllib.request.HTTPRedirectHandler):
    """Follows redirects only to the same scheme, host and port: the bot token must not leave them.

    (urllib copies the Authorization header onto redirected requests.) A refused redirect surfaces as the
    3xx ``HTTPError`` -- e.g. a bounce to a sign-in page on another host when Slack does not take the token.
    """

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: http.client.HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        if origin_of(newurl) != origin_of(req.full_url):
            logger.warning("Slack file download refused a redirect to another host (HTTP %s)", code)
            return None
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_DOWNLOAD_OPENER = urllib.request.build_opener(_SameOriginRedirects())


def _declared_size(response: http.client.HTTPResponse) -> int | None:
    try:
        return int(response.headers.get("Content-Length") or "")
    except ValueError:
        return None


def _read_capped(response: http.client.HTTPResponse, limit: int) -> bytes:
    """The body, but never more than ``limit + 1`` bytes (one more than allowed shows it is too large)."""
    chunks: list[bytes] = []
    total = 0
    while total <= limit:
        chunk = response.read(min(_READ_CHUNK_BYTES, limit + 1 - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


def _read_download(response: http.client.HTTPResponse, max_bytes: int) -> bytes:
    declared = _declared_size(response)
    if declared is not None and declared > max_bytes:
        logger.warning("Slack file download refused: %s bytes declared, limit %s", declared, max_bytes)
        raise SlackCallError("file_too_large", retryable=False)
    content = _read_capped(response, max_bytes)
    if len(content) > max_bytes:
        logger.warning("Slack file download stopped: more than %s bytes", max_bytes)
        raise SlackCallError("file_too_large", retryable=False)
    return content


def _http_download_error(error: urllib.error.HTTPError) -> SlackCallError:
    """A failed download by HTTP status: 5xx and 429 may pass on their own, anything else will not."""
    status = error.code
    retry_after = error.headers.get("Retry-After") if error.headers else None
    error.close()
    logger.warning("Slack file download failed with HTTP %s", status)
    try:
        delay = float(retry_after) if retry_after is not None else None
    except ValueError:
        delay = None
    return SlackCallError("file_download_failed", retryable=status == 429 or status >= 500, retry_after=delay)


class SlackGateway:
    """Calls one Web API method and reports failures as `SlackCallError`."""

    def __init__(self, client: WebClient) -> None:
        self.client = client
        self.hosts = SlackHosts.for_api_url(client.base_url)  # where downloads may carry the token

    def call(self, operation: str, args: dict[str, Any]) -> dict[str, Any]:
        """One Web API call through slack_sdk's typed method for `operation` (e.g. "chat.getPermalink").

        A name without a typed method (a call stored by an older version, a typo) fails for good, loudly.
        """
        try:
            check_operation(operation)
        except UnknownSlackOperation as exc:
            logger.error("Refused a Slack call: %s", exc)
            raise SlackCallError(UNKNOWN_OPERATION, retryable=False) from None
        method = getattr(self.client, SLACK_METHODS[operation])
        with _as_slack_call_error(operation):
            response = method(**args)
        return _data(response)

    def thread_files_page(self, channel: str, thread_ts: str, cursor: str = "") -> ThreadPage:
        """The file objects shared in one page of a thread (parent first, then replies in order), and where the
        next page starts ("" when this was the last)."""
        page = self.call(
            "conversations.replies",
            {"channel": channel, "ts": thread_ts, "limit": REPLIES_PAGE_SIZE, "cursor": cursor or None},
        )
        messages = [m for m in page.get("messages") or [] if isinstance(m, dict)]
        files = [f for message in messages for f in message.get("files") or [] if isinstance(f, dict)]
        following = str((page.get("response_metadata") or {}).get("next_cursor") or "")
        replies = sum(1 for m in messages if str(m.get("ts")) != thread_ts)  # Slack repeats the parent on each page
        return ThreadPage(files=files, replies=replies, cursor="" if following == cursor else following)

    def download(self, url: str, *, max_bytes: int = DEFAULT_MAX_DOWNLOAD_BYTES) -> bytes:
        """The content behind a file's ``url_private`` / ``url_private_download``, fetched with the bot token.

        Raises ``file_too_large`` beyond ``max_bytes``, ``not_on_slack_file_host`` (before any request) for a URL
        that is not https on Slack's file hosts (or SLACK_API_URL's emulator), and ``file_download_failed``
        otherwise (retryable for 5xx, 429 and connection problems). Errors and logs never carry the token.
        """
        if max_bytes < 0:
            raise ValueError("max_bytes must not be negative")
        request = self._download_request(url)
        try:
            with _DOWNLOAD_OPENER.open(request, timeout=DOWNLOAD_TIMEOUT_SECONDS) as response:
                return _read_download(response, max_bytes)
        except urllib.error.HTTPError as exc:
            raise _http_download_error(exc) from None
        except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
            logger.warning("Slack file download failed to connect: %s", type(exc).__name__)
            raise SlackCallError("file_download_failed", retryable=True) from None

    def _download_request(self, url: str) -> urllib.request.Request:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            logger.warning("Slack file download refused: not an http(s) URL")
            raise SlackCallError("file_download_failed", retryable=False)
        if not self.hosts.allows_file_url(url):
            # A remote file's url_private is whatever its app said: the bot token must never go there.
            logger.warning("Slack file download skipped: %s is not Slack's file host", host_of(url))
            raise SlackCallError(NOT_ON_SLACK_FILE_HOST, retryable=False)
        token = self.client.token
        if not token:
            logger.warning("Slack file download refused: the client has no token")
            raise SlackCallError("file_download_failed", retryable=False)
        return urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"}, method="GET")

    def find_posted(
        self,
        channel: str,
        *,
        matches: Callable[[dict[str, Any]], bool],
        thread_ts: str | None,
        oldest: float,
        latest: float,
    ) -> dict[str, Any] | None:
        """A message in the thread (or, without `thread_ts`, at the top of the channel) between `oldest` and `latest`
        (epoch seconds) that `matches`, from one call of at most RESEND_LOOKUP_SIZE messages.

        One call is what a distributed app may make a minute (15 messages at most): a busier window is not read
        further, and the message is taken as not found.
        """
        window = {
            "channel": channel,
            "oldest": f"{oldest:.6f}",
            "latest": f"{latest:.6f}",
            "inclusive": True,
            "limit": RESEND_LOOKUP_SIZE,
            "include_all_metadata": True,
        }
        if thread_ts:
            page = self.call("conversations.replies", {**window, "ts": thread_ts})
        else:
            page = self.call("conversations.history", window)
        messages = [m for m in page.get("messages") or [] if isinstance(m, dict)]
        found = next((m for m in messages if str(m.get("ts")) != thread_ts and matches(m)), None)
        if found is None and page.get("has_more"):
            logger.warning("Looked for an earlier post in %s messages; Slack had more in the window", len(messages))
        return found

    def upload_files(
        self, *, channel: str, files: Sequence[Upload], thread_ts: str | None = None, comment: str | None = None
    ) -> list[dict[str, Any]]:
        """Share files in a channel or thread with files upload v2 (the SDK runs its three steps)."""
        uploads = [{"content": f.content, "filename": f.filename, "title": f.title} for f in files]
        with _as_slack_call_error("files_upload_v2"):
            response = self.client.files_upload_v2(
                channel=channel, thread_ts=thread_ts, initial_comment=comment, file_uploads=uploads
            )
        return [f for f in response.get("files") or [] if isinstance(f, dict)]


def _data(response: SlackResponse) -> dict[str, Any]:
    return dict(response.data) if isinstance(response.data, dict) else {}


@dataclass(frozen=True)
class ThreadPage:
    """One page of a thread as the file handoff reads it."""

    files: list[dict[str, Any]]
    replies: int  # replies on this page (the parent, which Slack repeats on every page, not counted)
    cursor: str  # where the next page starts; "" when the thread ends here


@dataclass(frozen=True)
class Upload:
    filename: str
    title: str
    content: bytes


@contextmanager
def _as_slack_call_error(operation: str) -> Iterator[None]:
    """Web API failures as `SlackCallError`: retryable for 429, 5xx, Slack's transient errors and connections.

    Each call is timed, and a failure counted under its error, in the Slack call metrics.
    """
    with timed_slack_call(operation), _translated_errors(operation):
        yield


@contextmanager
def _translated_errors(operation: str) -> Iterator[None]:
    try:
        yield
    except SlackApiError as exc:
        error = str(exc.response.get("error") or f"http_{exc.response.status_code}")
        status = exc.response.status_code
        retryable = status == 429 or status >= 500 or error in RETRYABLE_ERRORS
        raise SlackCallError(
            error,
            retryable=retryable,
            retry_after=_retry_after(exc),
            needed=exc.response.get("needed"),
            refused=status < 500,
        ) from None
    except (SlackClientError, OSError) as exc:
        logger.warning("Slack %s failed to connect: %s", operation, type(exc).__name__)
        raise SlackCallError("connection_error", retryable=True) from None
