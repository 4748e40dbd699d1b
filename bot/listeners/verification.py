"""What a request may make the bot do depends on whether Slack's signature on it was checked.

Bolt runs its own middleware (SSL check, signature and timestamp verification, authorization) before any added
with `app.use`, so the first middleware added here only ever sees requests that passed them. It marks the request
verified and gives it a `respond()` that posts only to Slack's response-URL hosts (`SlackRespond`). The error
handler answers only verified requests: a request that failed verification has no URL the bot will call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import BoltContext

from bot.integrations.respond import SlackRespond
from bot.integrations.slack_hosts import SlackHosts

VERIFIED = "slack_request_verified"


def is_verified(context: BoltContext | None) -> bool:
    """True once Bolt's signature check (or Socket Mode's authenticated connection) let the request through."""
    return context is not None and context.get(VERIFIED) is True


def mark_verified(hosts: SlackHosts) -> Callable[..., Any]:
    """Global middleware, added first: every request that reaches it was verified by Bolt."""

    def middleware(context: BoltContext, next: Callable[[], None]) -> None:
        context[VERIFIED] = True
        context["respond"] = SlackRespond(
            response_url=context.response_url,
            hosts=hosts,
            proxy=context.client.proxy if context.client else None,
            ssl=context.client.ssl if context.client else None,
        )
        next()

    return middleware
