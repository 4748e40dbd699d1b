"""Bolt listeners grouped by Slack surface; each module wires itself with `register(app)`."""

from slack_bolt import App

from bot.listeners import actions, commands, events, views


def register_listeners(app: App) -> None:
    commands.register(app)
    views.register(app)
    events.register(app)
    actions.register(app)
