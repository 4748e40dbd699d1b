"""Where an incident can live: a conversation the bot can post in."""

from __future__ import annotations

import enum

from bot.domain.errors import FieldProblems


class ChannelReach(enum.Enum):
    """Whether the bot can post an incident's messages in a conversation."""

    POSTABLE = "postable"  # it is a member, or it is a public channel the bot joins before posting
    NOT_A_MEMBER = "not_a_member"  # a private channel, direct message or group DM the bot is not in
    ARCHIVED = "archived"
    SHARED = "shared"  # shared with another organisation (Slack Connect): a client sees it, incidents are internal
    UNKNOWN = "unknown"  # Slack could not say just now: post there, as the outbox retries what fails

    @property
    def usable(self) -> bool:
        """Whether an incident may be opened there (an unknown answer is not a reason to refuse one)."""
        return self in (ChannelReach.POSTABLE, ChannelReach.UNKNOWN)


def channel_reach(
    *, visible: bool, archived: bool, private: bool, member: bool, direct: bool, external: bool = False
) -> ChannelReach:
    """The bot can post where it is a member; in a public channel too, as it joins it first. A private channel,
    direct message or group DM it is not in is hidden from it (`visible` is False) or shows it is not a member.
    An incident never lives in a channel shared with another organisation (`external`): the client would read it."""
    if not visible:
        return ChannelReach.NOT_A_MEMBER
    if archived:
        return ChannelReach.ARCHIVED
    if external:
        return ChannelReach.SHARED
    if direct or not private or member:
        return ChannelReach.POSTABLE
    return ChannelReach.NOT_A_MEMBER


def post_in_problems(chosen: str | None) -> FieldProblems:
    """A form that asks where to post (`chosen` is "" when nothing was chosen, None when it did not ask) needs one."""
    return {"post_in": "Choose a channel for the incident."} if chosen == "" else {}
