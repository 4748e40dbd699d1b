"""Where Slack said the bot can post, kept a minute per process for opening the new-incident form."""

from __future__ import annotations

from bot.domain.channels import ChannelReach
from bot.services.recent_reach import RecentReach
from tests.clocks import Ticks


def test_a_postable_channel_is_trusted_for_a_minute_per_workspace() -> None:
    ticks = Ticks()
    recent = RecentReach(seconds=60, monotonic=ticks)
    assert not recent.postable("T1", "C1"), "never asked: ask Slack"
    recent.note("T1", "C1", ChannelReach.POSTABLE)
    ticks.now = 59.9
    assert recent.postable("T1", "C1")
    assert not recent.postable("T2", "C1"), "another workspace's channel of the same id"
    ticks.now = 60.0
    assert not recent.postable("T1", "C1"), "a minute later Slack is asked again"


def test_any_other_answer_forgets_the_channel_at_once() -> None:
    for reach in (ChannelReach.NOT_A_MEMBER, ChannelReach.ARCHIVED, ChannelReach.SHARED, ChannelReach.UNKNOWN):
        recent = RecentReach(monotonic=Ticks())
        recent.note(None, "C1", ChannelReach.POSTABLE)
        recent.note(None, "C1", reach)
        assert not recent.postable(None, "C1"), reach
