"""Events API listeners."""

from __future__ import annotations

from typing import Any

from slack_bolt import App, BoltContext, Say
from slack_sdk import WebClient

from bot.listeners.middleware import services_of
from bot.services.incidents import home_for


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


def register(app: App) -> None:
    app.event("app_mention")(handle_app_mention)
    app.event("app_home_opened")(handle_app_home_opened)
