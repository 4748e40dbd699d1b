"""Events API listeners."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App, BoltContext, Say
from slack_sdk import WebClient

from bot.listeners.middleware import services_of
from bot.services.incidents import home_for

logger = logging.getLogger(__name__)


def handle_app_mention(event: dict[str, Any], say: Say) -> None:
    """Point people who mention the bot at the command that does the work."""
    say(
        text="👋 Type `/triage` to open an incident, or `/triage help` for everything I can do.",
        thread_ts=event.get("thread_ts") or event.get("ts"),
    )


def handle_app_home_opened(event: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    if event.get("tab") not in (None, "home"):
        return
    user_id = event["user"]
    client.views_publish(user_id=user_id, view=home_for(services_of(context), user_id))


def handle_revocation(event: dict[str, Any], context: BoltContext) -> None:
    """Single-workspace installs: SLACK_BOT_TOKEN stops working; say so loudly (OAuth installs forget the token)."""
    logger.error(
        "Slack says %s for workspace %s: SLACK_BOT_TOKEN no longer works. Reinstall the app and update it.",
        event.get("type"),
        context.team_id,
    )


def register(app: App) -> None:
    app.event("app_mention")(handle_app_mention)
    app.event("app_home_opened")(handle_app_home_opened)


def register_revocation_log(app: App) -> None:
    """Acknowledge `app_uninstalled` / `tokens_revoked` (the manifest subscribes to them) where nothing else does."""
    app.event("app_uninstalled")(handle_revocation)
    app.event("tokens_revoked")(handle_revocation)
