"""Bolt's side of observability: describe each request for logs and metrics, time the listeners' Slack calls."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from slack_bolt import BoltContext
from slack_sdk import WebClient
from slack_sdk.web import SlackResponse

from bot.integrations.slack_connections import KeepAliveWebClient
from bot.observability.context import current_scope, describe, enter_scope
from bot.observability.metrics import timed_slack_call

logger = logging.getLogger(__name__)


class ObservedWebClient(KeepAliveWebClient):
    """A WebClient whose every Web API call is timed (and counted when it fails) in the Slack call metrics."""

    def api_call(self, api_method: str, **kwargs: Any) -> SlackResponse:
        with timed_slack_call(api_method):
            return super().api_call(api_method, **kwargs)


def observed_copy(client: WebClient) -> ObservedWebClient:
    """The same client (token, URL, timeout, retry handlers), timed.

    One per distinct set of those, reused by every request that brings it: a WebClient keeps nothing between calls,
    and building one per request (as well as Bolt's) cost each request the construction and its environment reads.
    """
    key = _settings_of(client)
    observed = _observed_clients.get(key)
    if observed is None:
        observed = ObservedWebClient(
            token=client.token,
            base_url=client.base_url,
            timeout=client.timeout,
            ssl=client.ssl,
            proxy=client.proxy,
            headers=dict(client.headers),
            team_id=client.default_params.get("team_id"),
            logger=client.logger,
            retry_handlers=client.retry_handlers,
        )
        with _observed_lock:
            if len(_observed_clients) >= MAX_OBSERVED_CLIENTS:
                _observed_clients.clear()  # workspaces (tokens) beyond this many: start over rather than grow
            _observed_clients[key] = observed
    return observed


MAX_OBSERVED_CLIENTS = 1024
_observed_clients: dict[tuple[Any, ...], ObservedWebClient] = {}
_observed_lock = threading.Lock()


def _settings_of(client: WebClient) -> tuple[Any, ...]:
    """Everything a copy takes from the client (objects by identity: the app's own, alive as long as it is)."""
    return (
        client.token,
        client.base_url,
        client.timeout,
        id(client.ssl),
        client.proxy,
        tuple(client.headers.items()),
        client.default_params.get("team_id"),
        id(client.logger),
        tuple(map(id, client.retry_handlers)),
    )


def observe_requests(context: BoltContext, body: dict[str, Any], next: Callable[[], None]) -> None:
    """Global middleware: name the request's type and incident for its logs, and time its listeners' Slack calls.

    Over HTTP, `WebApp` has opened the request's scope (with its correlation id); in Socket Mode nothing has,
    and a scope left from an earlier message on this thread is already described, so a fresh one is started.
    Bolt builds a new client per request; it is swapped for a timed one (views.open, views.publish, …).
    """
    scope = current_scope()
    if scope is None or scope.described:
        scope = enter_scope()
    try:
        describe(scope, body)
    except Exception:  # a payload nobody foresaw must cost its log fields, never the request
        logger.warning("Could not describe a Slack request for its logs", exc_info=True)
    if context.client is not None:
        context["client"] = observed_copy(context.client)
    next()
