"""What a request may make the bot do depends on whether Slack's signature on it was checked.

Bolt runs its SSL check and its signature and timestamp verification first, then its `before_authorize` hook:
`after_verification` is that hook, so it only ever sees requests that passed (or came over Socket Mode's
authenticated connection). It marks the request verified and gives it a `respond()` that posts only to Slack's
response-URL hosts (`SlackRespond`). The error handler answers only verified requests: a request that failed
verification has no URL the bot will call.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import BoltContext, BoltResponse

from bot.integrations.respond import SlackRespond
from bot.integrations.slack_hosts import SlackHosts

logger = logging.getLogger(__name__)

VERIFIED = "slack_request_verified"


def is_verified(context: BoltContext | None) -> bool:
    """True once Bolt's signature check (or Socket Mode's authenticated connection) let the request through."""
    return context is not None and context.get(VERIFIED) is True


def readable_envelope(body: dict[str, Any]) -> bool:
    """Whether Bolt's own middleware (and its log line for an unhandled request) can read the body: `event` and
    `view` are objects, `actions` a list of objects, as in everything Slack sends."""
    if any(key in body and not isinstance(body[key], dict) for key in ("event", "view")):
        return False
    actions = body.get("actions", [])
    return isinstance(actions, list) and all(isinstance(action, dict) for action in actions)


def after_verification(hosts: SlackHosts) -> Callable[..., Any]:
    """Bolt's `before_authorize` hook: mark the request verified, give it a safe `respond()`; an envelope Bolt's
    later middleware would crash on is answered 400 (Slack never sends one)."""

    def middleware(body: dict[str, Any], context: BoltContext, next: Callable[[], None]) -> BoltResponse | None:
        if not readable_envelope(body):
            logger.warning("Refused a signed Slack request with an unreadable envelope")
            return BoltResponse(status=400, body="malformed payload")
        context[VERIFIED] = True
        context["respond"] = SlackRespond(
            response_url=context.response_url,
            hosts=hosts,
            proxy=context.client.proxy if context.client else None,
            ssl=context.client.ssl if context.client else None,
        )
        next()
        return None

    return middleware
