"""`/triage settings`, App Home's Settings button, and the settings modal's Save: parse, one use case, answer."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.exc import SQLAlchemyError

from blocks.ids import CallbackId, HomeAction
from blocks.settings import notice_modal
from bot.domain.errors import DomainError
from bot.domain.workspace_settings import SETTABLE
from bot.listeners.middleware import services_of
from bot.services.workspace_settings import save_settings, settings_view

logger = logging.getLogger(__name__)
DATABASE_DOWN = "The settings can't be read or saved just now (database unreachable). Try again in a minute."


def open_settings(services_context: BoltContext, client: WebClient, trigger_id: str, user_id: str) -> str | None:
    """Open the modal; None when it opened, else the one line to tell the person (who may change settings)."""
    try:
        view = settings_view(services_of(services_context), user_id)
    except DomainError as exc:
        return str(exc)
    except SQLAlchemyError:
        logger.exception("The settings modal could not be built: database error")
        return DATABASE_DOWN
    try:
        client.views_open(trigger_id=trigger_id, view=view)
    except SlackApiError as exc:
        logger.warning("views.open of the settings failed: %s", exc.response.get("error"))
        return "I couldn't open the settings. Please try again."
    return None


def handle_settings_command(ack: Ack, command: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    """`/triage settings`: refused at once (only the asker sees why) unless the person may change settings."""
    problem = open_settings(context, client, command["trigger_id"], command["user_id"])
    if problem:
        ack(text=problem)
    else:
        ack()


def handle_home_settings(ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    ack()
    user_id = body["user"]["id"]
    problem = open_settings(context, client, body["trigger_id"], user_id)
    if problem:  # the button is shown only to those who may; a stale Home tab gets the answer in a modal
        client.views_open(trigger_id=body["trigger_id"], view=notice_modal("Settings", problem))


def handle_save(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    try:
        saved = save_settings(services_of(context), body["user"]["id"], view["state"]["values"])
    except DomainError as exc:
        ack(response_action="errors", errors={SETTABLE[0].field: str(exc)[:150]})
        return
    except SQLAlchemyError:
        logger.exception("Settings could not be saved: database error")
        ack(response_action="errors", errors={SETTABLE[0].field: DATABASE_DOWN})
        return
    if saved.errors:
        ack(response_action="errors", errors=saved.errors)
        return
    assert saved.view is not None
    ack(response_action="update", view=saved.view)


def register(app: App) -> None:
    app.view(CallbackId.SETTINGS.value)(handle_save)
    app.action(HomeAction.OPEN_SETTINGS.value)(handle_home_settings)
