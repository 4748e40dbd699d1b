"""Build the Bolt app from Services and register every listener."""

from __future__ import annotations

import logging
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from slack_bolt import App
from slack_bolt.context.respond import Respond

from bot.listeners import register_listeners
from bot.listeners.middleware import inject_services, skip_repeated_events
from bot.services.container import Services

logger = logging.getLogger(__name__)


def handle_unexpected_error(error: Exception, body: dict[str, Any], respond: Respond | None) -> None:
    """The one place unexpected errors end up: logged with a reference the person can quote."""
    reference = uuid.uuid4().hex[:8]
    logger.error(
        "Unhandled error (ref %s) for a %s request", reference, body.get("type") or "slash command", exc_info=error
    )
    if respond is not None and body.get("response_url"):
        try:
            respond(
                text=f"Something went wrong on my side (ref `{reference}`). Nothing you entered was lost; try again."
            )
        except Exception:
            logger.warning("Could not tell the user about error ref %s", reference)


def build_bolt_app(services: Services, *, listener_executor: ThreadPoolExecutor | None = None) -> App:
    """The Bolt app; pass `listener_executor` to own the threads that run listeners (and wait for them on shutdown)."""
    secret = services.settings.slack_signing_secret
    if secret is None:
        raise ValueError("SLACK_SIGNING_SECRET is required to verify Slack's requests")
    app = App(
        client=services.slack.client,
        signing_secret=secret.get_secret_value(),
        token_verification_enabled=False,
        raise_error_for_unhandled_request=False,
        process_before_response=False,
        # Listeners keep their thread after ack() while they post to Slack; Bolt's default of 5 threads
        # would make new requests wait for a free one before they can even be acknowledged.
        listener_executor=listener_executor
        or ThreadPoolExecutor(max_workers=services.settings.listener_threads, thread_name_prefix="bolt-listener"),
    )
    app.use(inject_services(services))
    app.use(skip_repeated_events(services))
    app.error(handle_unexpected_error)
    register_listeners(app)
    return app
