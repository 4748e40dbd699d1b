""" "Send to client" under a recorded client update: parse the button, one use case, answer the clicker."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from sqlalchemy.exc import SQLAlchemyError

from blocks.ids import ClientChannelAction
from blocks.view_state import whole_number
from bot.domain.errors import DomainError
from bot.listeners.errors import DATABASE_UNREACHABLE
from bot.listeners.middleware import services_of
from bot.listeners.replays import request_key
from bot.services.changes import deliver_pending
from bot.services.incident_actions import send_update_to_client_channel

logger = logging.getLogger(__name__)


def handle_send_to_client(ack: Ack, body: dict[str, Any], respond: Respond, context: BoltContext) -> None:
    """The person confirmed in Slack's dialog; refusals (who may, already sent) are told only to them."""
    ack()
    services = services_of(context)
    update_id = whole_number(str((body.get("actions") or [{}])[0].get("value", "")))
    try:
        if update_id is None:
            raise DomainError("That client update isn't available here.")
        incident_id = send_update_to_client_channel(services, update_id, body["user"]["id"], once=request_key(body))
    except DomainError as exc:
        respond(text=str(exc), response_type="ephemeral", replace_original=False)
        return
    except SQLAlchemyError:
        logger.exception("A client update could not be sent: database error")
        respond(text=DATABASE_UNREACHABLE, response_type="ephemeral", replace_original=False)
        return
    if incident_id is not None:
        deliver_pending(services, incident_id)


def register(app: App) -> None:
    app.action(ClientChannelAction.SEND.value)(handle_send_to_client)
