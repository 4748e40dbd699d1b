"""Outbound Slack Web API calls: one client with bounded retries, errors classified for the outbox."""

from __future__ import annotations

import http.client
import json
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
DEFAULT_MAX_DOWNLOAD_BYTES = 10 * 1024 * 1024
REPLIES_PAGE_SIZE = 200
_READ_CHUNK_BYTES = 64 * 1024


# Slack takes JSON bodies on its write methods for messages and views; read methods (conversations.replies,
# usergroups.users.list, …) and others want form parameters.
JSON_METHOD_PREFIXES = ("chat.", "views.")


def _form_value(value: Any) -> Any:
    """Form parameters are flat: lists and objects travel as JSON text, booleans as Slack writes them."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return value


class SlackCallError(Exception):
    """A Slack call that did not succeed, with what the outbox needs to decide what to do next."""

    def __init__(self, error: str, *, retryable: bool, retry_after: float | None = None, needed: str | None = None):
        self.error = error
        self.retryable = retryable
        self.retry_after = retry_after
        self.needed = needed
        hint = HINTS.get(error)
        detail = f" (needs scope {needed})" if needed else ""
        super().__init__(f"{error}{detail}" + (f": {hint}" if hint else ""))


def build_web_client(*, token: str | None, base_url: str, timeout: int = 10) -> WebClient:
    """A WebClient that retries connection errors, 429 (after Retry-After) and 5xx once each."""
    return WebClient(
        token=token,
        base_url=base_url,
        timeout=timeout,
        retry_handlers=[
            ConnectionErrorRetryHandler(max_retry_count=1),
            RateLimitErrorRetryHandler(max_retry_count=1),
            ServerErrorRetryHandler(max_retry_count=1),
        ],
    )


def _retry_after(error: SlackApiError) -> float | None:
    headers = {k.lower(): v for k, v in (error.response.headers or {}).items()}
    value = headers.get("retry-after")
    if isinstance(value, list):
        value = value[0] if value else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    default_port = {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), parts.port or default_port


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
        if _origin(newurl) != _origin(req.full_url):
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
        """One Web API call: a JSON body for the methods Slack accepts JSON on, form parameters otherwise."""
        if operation.startswith(JSON_METHOD_PREFIXES):
            return self._api_call(operation, json=args)
        return self._api_call(operation, params={k: _form_value(v) for k, v in args.items() if v is not None})

    def thread_files(self, channel: str, thread_ts: str) -> list[dict[str, Any]]:
        """Every file object shared in a thread, parent first, then the replies in order."""
        return [
            file
            for message in self._thread_messages(channel, thread_ts)
            for file in message.get("files") or []
            if isinstance(file, dict)
        ]

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
        self, channel: str, *, matches: Callable[[dict[str, Any]], bool], thread_ts: str | None, oldest: float
    ) -> dict[str, Any] | None:
        """A message in the thread (or, without `thread_ts`, in the channel since `oldest`) that `matches`."""
        messages = self._thread_messages(channel, thread_ts) if thread_ts else self._history(channel, oldest)
        return next((message for message in messages if matches(message)), None)

    def _history(self, channel: str, oldest: float) -> Iterator[dict[str, Any]]:
        """Top-level messages of a channel since `oldest` (epoch seconds), newest first, with their metadata."""
        cursor = ""
        while True:
            params: dict[str, Any] = {"channel": channel, "oldest": f"{oldest:.6f}", "limit": REPLIES_PAGE_SIZE}
            params["include_all_metadata"] = "true"
            if cursor:
                params["cursor"] = cursor
            page = self._api_call("conversations.history", http_verb="GET", params=params)
            yield from (m for m in page.get("messages") or [] if isinstance(m, dict))
            cursor = str((page.get("response_metadata") or {}).get("next_cursor") or "")
            if not cursor:
                return

    def _thread_messages(self, channel: str, thread_ts: str) -> Iterator[dict[str, Any]]:
        """All messages of a thread across pages (a message repeated on a later page is skipped)."""
        seen_ts: set[str] = set()
        for page in self._replies_pages(channel, thread_ts):
            for message in page.get("messages") or []:
                if isinstance(message, dict) and str(message.get("ts")) not in seen_ts:
                    seen_ts.add(str(message.get("ts")))
                    yield message

    def _replies_pages(self, channel: str, thread_ts: str) -> Iterator[dict[str, Any]]:
        """``conversations.replies`` page by page (form parameters: Slack takes no JSON body for it)."""
        seen_cursors: set[str] = set()
        cursor = ""
        while cursor not in seen_cursors:
            seen_cursors.add(cursor)
            params: dict[str, Any] = {"channel": channel, "ts": thread_ts, "limit": REPLIES_PAGE_SIZE}
            params["include_all_metadata"] = "true"
            if cursor:
                params["cursor"] = cursor
            page = self._api_call("conversations.replies", http_verb="GET", params=params)
            yield page
            cursor = str((page.get("response_metadata") or {}).get("next_cursor") or "")

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

    def _api_call(self, operation: str, **request: Any) -> dict[str, Any]:
        with _as_slack_call_error(operation):
            response = self.client.api_call(operation, **request)
        return dict(response.data) if isinstance(response.data, dict) else {}


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
            error, retryable=retryable, retry_after=_retry_after(exc), needed=exc.response.get("needed")
        ) from None
    except (SlackClientError, OSError) as exc:
        logger.warning("Slack %s failed to connect: %s", operation, type(exc).__name__)
        raise SlackCallError("connection_error", retryable=True) from None
