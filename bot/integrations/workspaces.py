"""Which bot token speaks for a workspace: the single-workspace token, or the one its OAuth install stored."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from slack_sdk.oauth.installation_store import InstallationStore

from bot.integrations.slack import SlackCallError, SlackGateway, build_web_client

CACHE_SECONDS = 60.0  # an uninstall or reinstall is seen within this long


class SlackWorkspaces:
    """The `SlackGateway` for a workspace (Slack team id).

    Without an installation store (single-workspace mode) every team gets the one gateway built from
    SLACK_BOT_TOKEN. With one (OAuth installs) each team gets a gateway with the bot token its installation
    stored; incidents recorded before workspaces were (team None) use SLACK_BOT_TOKEN when it is set.
    """

    def __init__(
        self,
        default: SlackGateway,
        *,
        installations: InstallationStore | None = None,
        base_url: str | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.default = default
        self.installations = installations
        self.base_url = base_url  # default: the single-workspace client's
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._cached: dict[str, tuple[float, SlackGateway]] = {}

    @property
    def multi_workspace(self) -> bool:
        return self.installations is not None

    def gateway(self, team_id: str | None) -> SlackGateway:
        """The gateway that speaks for `team_id`; `SlackCallError("not_installed")` when nothing can."""
        if self.installations is None:
            return self.default
        if team_id is None:
            if self.default.client.token:
                return self.default
            raise SlackCallError("not_installed", retryable=False)
        return self._installed(team_id)

    def forget(self, team_id: str) -> None:
        """Drop the cached token of a workspace (it was uninstalled or reinstalled)."""
        with self._lock:
            self._cached.pop(team_id, None)

    def _installed(self, team_id: str) -> SlackGateway:
        now = self._monotonic()
        with self._lock:
            cached = self._cached.get(team_id)
            if cached is not None and now - cached[0] < CACHE_SECONDS:
                return cached[1]
        assert self.installations is not None
        bot = self.installations.find_bot(enterprise_id=None, team_id=team_id)
        if bot is None or not bot.bot_token:
            self.forget(team_id)
            raise SlackCallError("not_installed", retryable=False)
        base_url = self.base_url or self.default.client.base_url
        gateway = SlackGateway(build_web_client(token=bot.bot_token, base_url=base_url))
        with self._lock:
            self._cached[team_id] = (now, gateway)
        return gateway
