"""What a person is told when the bot cannot do what they asked: the database out of reach, or an unexpected error."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import BoltContext
from slack_bolt.context.respond import Respond
from sqlalchemy.exc import SQLAlchemyError

from bot.listeners.verification import is_verified
from bot.observability.context import current_scope, new_correlation_id

logger = logging.getLogger(__name__)

DATABASE_UNREACHABLE = (
    "I can't reach the database right now, so nothing was changed. Please try again in a minute — "
    "everything recorded before is safe."
)


def is_database_outage(error: BaseException) -> bool:
    """A database error (connection lost or refused, pool exhausted) rather than a bug in what was asked."""
    return isinstance(error, SQLAlchemyError)


def handle_unexpected_error(
    error: Exception, body: dict[str, Any], respond: Respond | None, context: BoltContext | None = None
) -> None:
    """The one place unexpected errors end up: logged with a reference the person can quote (the correlation id).

    Only a request whose signature was verified is answered: the body of any other one is the sender's to choose,
    and its response_url could name any host (Bolt calls this handler also when its own verification raises).
    """
    scope = current_scope()
    reference = scope.correlation_id if scope else new_correlation_id()
    logger.error(
        "Unhandled error (ref %s) for a %s request", reference, body.get("type") or "slash command", exc_info=error
    )
    if respond is not None and body.get("response_url") and is_verified(context):
        text = (
            f"{DATABASE_UNREACHABLE} (ref `{reference}`)"
            if is_database_outage(error)
            else f"Something went wrong on my side (ref `{reference}`). Nothing you entered was lost; try again."
        )
        try:
            respond(text=text, response_type="ephemeral", replace_original=False)
        except Exception:
            logger.warning("Could not tell the user about error ref %s", reference)
