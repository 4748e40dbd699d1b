"""Outbound Slack Web API calls: one client with bounded retries, errors classified for the outbox."""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

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
}


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


class SlackGateway:
    """Calls one Web API method and reports failures as `SlackCallError`."""

    def __init__(self, client: WebClient) -> None:
        self.client = client

    def call(self, operation: str, args: dict[str, Any]) -> dict[str, Any]:
        try:
            response = self.client.api_call(operation, json=args)
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
        return dict(response.data) if isinstance(response.data, dict) else {}
