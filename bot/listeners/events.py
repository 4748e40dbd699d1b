"""Events API listeners."""

from __future__ import annotations

from typing import Any

from slack_bolt import App, Say


def handle_app_mention(event: dict[str, Any], say: Say) -> None:
    """Point people who mention the bot at the command that does the work."""
    say(
        text="👋 Type `/triage` to open an incident, or `/triage help` for everything I can do.",
        thread_ts=event.get("thread_ts") or event.get("ts"),
    )


def register(app: App) -> None:
    app.event("app_mention")(handle_app_mention)
