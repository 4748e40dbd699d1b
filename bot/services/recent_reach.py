"""What the bot last heard from Slack about where it can post, kept for a minute per process."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from bot.domain.channels import ChannelReach

POSTABLE_KEPT_SECONDS = 60.0  # how long opening the form trusts Slack's last "the bot can post here"
MAX_REMEMBERED = 10_000


class RecentReach:
    """Per process: the conversations Slack said the bot can post in, and when it said so (by workspace).

    Only opening the new-incident form reads it, to spare a `conversations.info` round trip on every `/triage` in
    the same channel; the submission asks Slack again before anything is stored, and every answer (from the form,
    the submission or elsewhere) replaces what is kept, so a channel the bot was removed from is asked about again.
    """

    def __init__(
        self, *, seconds: float = POSTABLE_KEPT_SECONDS, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.seconds = seconds
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._postable: dict[tuple[str | None, str], float] = {}

    def postable(self, workspace: str | None, channel_id: str) -> bool:
        """Whether Slack said, within the last `seconds`, that the bot can post in the channel."""
        with self._lock:
            said_at = self._postable.get((workspace, channel_id))
        return said_at is not None and self._monotonic() - said_at < self.seconds

    def note(self, workspace: str | None, channel_id: str, reach: ChannelReach) -> None:
        """Keep Slack's latest answer: postable is remembered; anything else (unknown too) is asked again."""
        key = (workspace, channel_id)
        with self._lock:
            if reach is not ChannelReach.POSTABLE:
                self._postable.pop(key, None)
                return
            if len(self._postable) >= MAX_REMEMBERED:
                self._postable.clear()
            self._postable[key] = self._monotonic()
