"""Build the Bolt app from Services and register every listener."""

from __future__ import annotations

import logging
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import Any

from slack_bolt import App
from slack_bolt.context.respond import Respond

from bot.listeners import register_listeners
from bot.listeners.errors import DATABASE_UNREACHABLE, is_database_outage
from bot.listeners.middleware import inject_services, skip_repeated_events
from bot.observability.bolt import observe_requests
from bot.observability.context import ContextCopyingExecutor, current_scope, new_correlation_id
from bot.observability.redaction import register_settings_secrets
from bot.services.container import Services

logger = logging.getLogger(__name__)


def handle_unexpected_error(error: Exception, body: dict[str, Any], respond: Respond | None) -> None:
    """The one place unexpected errors end up: logged with a reference the person can quote (the correlation id)."""
    scope = current_scope()
    reference = scope.correlation_id if scope else new_correlation_id()
    logger.error(
        "Unhandled error (ref %s) for a %s request", reference, body.get("type") or "slash command", exc_info=error
    )
    if respond is not None and body.get("response_url"):
        text = (
            f"{DATABASE_UNREACHABLE} (ref `{reference}`)"
            if is_database_outage(error)
            else f"Something went wrong on my side (ref `{reference}`). Nothing you entered was lost; try again."
        )
        try:
            respond(text=text, response_type="ephemeral", replace_original=False)
        except Exception:
            logger.warning("Could not tell the user about error ref %s", reference)


def build_bolt_app(services: Services, *, listener_executor: Executor | None = None) -> App:
    """The Bolt app; pass `listener_executor` to own the threads that run listeners (and wait for them on shutdown).

    Listeners run in a copy of the request thread's context, so what they log carries the request's correlation id.
    """
    register_settings_secrets(services.settings)
    secret = services.settings.slack_signing_secret
    if secret is None:
        raise ValueError("SLACK_SIGNING_SECRET is required to verify Slack's requests")
    executor = listener_executor or ThreadPoolExecutor(
        max_workers=services.settings.listener_threads, thread_name_prefix="bolt-listener"
    )
    app = App(
        client=services.slack.client,
        signing_secret=secret.get_secret_value(),
        token_verification_enabled=False,
        raise_error_for_unhandled_request=False,
        process_before_response=False,
        # Listeners keep their thread after ack() while they post to Slack; Bolt's default of 5 threads
        # would make new requests wait for a free one before they can even be acknowledged.
        listener_executor=ContextCopyingExecutor(executor),
    )
    app.use(observe_requests)
    app.use(inject_services(services))
    app.use(skip_repeated_events(services))
    app.error(handle_unexpected_error)
    register_listeners(app)
    return app
