"""The "Open incident" message shortcut: parse, build the prefilled form (one use case), open it."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.exc import SQLAlchemyError

from blocks.ids import ShortcutId
from blocks.settings import notice_modal
from bot.domain.errors import DomainError
from bot.listeners.errors import DATABASE_UNREACHABLE
from bot.listeners.middleware import services_of
from bot.services.intake import ShortcutMessage, form_from_message

logger = logging.getLogger(__name__)


def handle_open_incident(ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    ack()
    try:
        view: Any = form_from_message(services_of(context), ShortcutMessage.of(body))
    except DomainError as exc:
        view = notice_modal("Open incident", str(exc))
    except SQLAlchemyError:
        logger.exception("The incident form could not be built from a message: database error")
        view = notice_modal("Open incident", DATABASE_UNREACHABLE)
    try:
        client.views_open(trigger_id=body["trigger_id"], view=view)
    except SlackApiError as exc:
        logger.warning("views.open for a message shortcut failed: %s", exc.response.get("error"))


def register(app: App) -> None:
    app.shortcut(ShortcutId.OPEN_INCIDENT.value)(handle_open_incident)
