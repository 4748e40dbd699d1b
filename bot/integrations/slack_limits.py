"""Slack's published Web API rate limits (docs.slack.dev/apis/web-api/rate-limits), as the bot paces itself by them.

Limits apply per method, per app, per workspace, by the method's tier: Tier 1 allows 1+ calls a minute, Tier 2
20+, Tier 3 50+, Tier 4 100+. `chat.postMessage` has its own: about one message per second per channel, short bursts
allowed. The tiers are those on each method's reference page for the methods the bot uses; others are Tier 3, and
"special" methods other than `chat.postMessage` (`chat.getPermalink`, `auth.test`) are counted as Tier 4.
"""

from __future__ import annotations

TIER_PER_MINUTE = {1: 1, 2: 20, 3: 50, 4: 100}
DEFAULT_TIER = 3
METHOD_TIERS: dict[str, int] = {
    "auth.test": 4,
    "chat.delete": 3,
    "chat.getPermalink": 4,
    "chat.postEphemeral": 4,
    "chat.update": 3,
    "conversations.create": 2,
    "conversations.history": 3,
    "conversations.info": 3,
    "conversations.invite": 3,
    "conversations.join": 3,
    "conversations.list": 2,
    "conversations.members": 4,
    "conversations.open": 3,
    "conversations.replies": 3,
    "conversations.setPurpose": 2,
    "conversations.setTopic": 2,
    "files.completeUploadExternal": 4,
    "files.getUploadURLExternal": 4,
    "files.info": 4,
    "pins.add": 2,
    "pins.list": 2,
    "reactions.add": 3,
    "usergroups.list": 2,
    "usergroups.users.list": 2,
    "users.info": 4,
    "users.list": 2,
    "users.lookupByEmail": 3,
    "views.open": 4,
    "views.publish": 4,
    "views.push": 4,
    "views.update": 4,
}
POST_METHOD = "chat.postMessage"
PER_CHANNEL_METHODS = (POST_METHOD, "chat.update")  # each paced per channel, at the posting pace


def tier_of(method: str) -> int:
    return METHOD_TIERS.get(method, DEFAULT_TIER)
