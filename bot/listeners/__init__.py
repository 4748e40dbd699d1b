"""Bolt listeners grouped by Slack surface; each module wires itself with `register(app)`."""

from slack_bolt import App

from bot.listeners import actions, client_channel, commands, events, settings, shortcuts, views
from bot.listeners.middleware import NamedArgs, refuse_malformed_interactions


def register_listeners(app: App) -> None:
    app.use(NamedArgs(refuse_malformed_interactions))
    commands.register(app)
    views.register(app)
    events.register(app)
    actions.register(app)
    settings.register(app)
    shortcuts.register(app)
    client_channel.register(app)
