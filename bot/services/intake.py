"""Opening an incident from a message ("Open incident" on any message): the form, prefilled from the message.

The incident is posted in the workspace's support channel when one is set (`/triage settings`), else in the
message's channel when the bot may post there; a channel shared with a client is never used, as the incident's
thread is internal. Otherwise the form asks where to post it, as `/triage` does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from blocks.new_incident import Prefill, new_incident_modal
from bot.db import unit_of_work
from bot.domain.channels import ChannelReach
from bot.domain.message_intake import SourceMessage, blocker_from_message, message_link
from bot.domain.permissions import Action
from bot.domain.workspace_settings import client_of_channel
from bot.models import ClientTier
from bot.services.channels import reach_of
from bot.services.container import Services
from bot.services.roles import permitted


@dataclass(frozen=True)
class ShortcutMessage:
    """What Slack sends with a message shortcut, as far as opening an incident goes."""

    user_id: str
    team_domain: str | None
    channel_id: str
    ts: str
    text: str
    author_id: str | None
    thread_ts: str | None = None

    @classmethod
    def of(cls, body: dict[str, Any]) -> ShortcutMessage:
        message = body.get("message") or {}
        return cls(
            user_id=str(body["user"]["id"]),
            team_domain=(body.get("team") or {}).get("domain"),
            channel_id=str((body.get("channel") or {}).get("id") or ""),
            ts=str(message.get("ts") or body.get("message_ts") or ""),
            text=str(message.get("text") or ""),
            author_id=message.get("user") if isinstance(message.get("user"), str) else None,
            thread_ts=message.get("thread_ts") if isinstance(message.get("thread_ts"), str) else None,
        )


def form_from_message(services: Services, shortcut: ShortcutMessage) -> dict[str, Any]:
    """The New incident form for this message (NotPermitted for guests and people from other organisations)."""
    permitted(services, Action.VIEW, shortcut.user_id)
    link = message_link(shortcut.team_domain, shortcut.channel_id, shortcut.ts, shortcut.thread_ts)
    source = SourceMessage(shortcut.channel_id, shortcut.ts, shortcut.author_id, link)
    with unit_of_work(services.session_factory) as session:
        client = client_of_channel(session, services.settings_key, shortcut.channel_id)
        prefill = Prefill(
            blocker=blocker_from_message(shortcut.text),
            client=client.name if client is not None else None,
            premium=client is not None and client.tier == ClientTier.PREMIUM,
        )
    channel_id, unreachable = _where_to_post(services, shortcut.channel_id, is_client_channel=client is not None)
    return new_incident_modal(channel_id=channel_id, unreachable=unreachable, source=source, prefill=prefill)


def _where_to_post(
    services: Services, message_channel: str, *, is_client_channel: bool
) -> tuple[str, ChannelReach | None]:
    support = services.settings.support_channel_id
    if support and reach_of(services, support).usable:
        return support, None
    reach = ChannelReach.SHARED if is_client_channel else reach_of(services, message_channel)
    return message_channel, None if reach.usable else reach
