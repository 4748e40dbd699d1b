"""Whether the bot can post in a conversation, asked of Slack (conversations.info) before and after the
new-incident form, so that an incident is never stored with nowhere to post it."""

from __future__ import annotations

import logging

from bot.domain.channels import ChannelReach, channel_reach
from bot.integrations.slack import SlackCallError
from bot.services.container import Services

logger = logging.getLogger(__name__)


def reach_of(services: Services, channel_id: str) -> ChannelReach:
    """What conversations.info says about posting in `channel_id` (UNKNOWN when Slack can't answer just now)."""
    reach = _ask_slack(services, channel_id)
    services.recent_reach.note(services.workspace, channel_id, reach)
    return reach


def reach_for_form(services: Services, channel_id: str) -> ChannelReach:
    """`reach_of` for opening the new-incident form: POSTABLE without asking when Slack said so within the minute."""
    if services.recent_reach.postable(services.workspace, channel_id):
        return ChannelReach.POSTABLE
    return reach_of(services, channel_id)


def _ask_slack(services: Services, channel_id: str) -> ChannelReach:
    try:
        found = services.workspace_slack.call("conversations.info", {"channel": channel_id}).get("channel")
    except SlackCallError as exc:
        if exc.error == "channel_not_found":
            return channel_reach(visible=False, archived=False, private=True, member=False, direct=False)
        logger.warning("Could not check whether the bot can post in %s: %s", channel_id, exc.error)
        return ChannelReach.UNKNOWN
    if not isinstance(found, dict) or not found:
        return ChannelReach.UNKNOWN
    channel = found
    return channel_reach(
        visible=True,
        archived=bool(channel.get("is_archived")),
        private=bool(channel.get("is_private") or channel.get("is_group")),
        member=bool(channel.get("is_member")),
        direct=bool(channel.get("is_im") or channel.get("is_mpim")),
        external=bool(channel.get("is_ext_shared") or channel.get("is_pending_ext_shared")),
    )
