"""Which bot token speaks for a workspace: the single-workspace token, or the one its OAuth install stored."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from logging import Logger

from slack_sdk.oauth.installation_store import Bot, Installation, InstallationStore

from bot.integrations.slack import SlackCallError, SlackGateway, build_web_client

CACHE_SECONDS = 60.0  # how long another replica's reinstall may go unseen here


class RecentInstallations(InstallationStore):
    """An installation store whose `find_bot` answers are kept for CACHE_SECONDS in this process.

    Bolt asks for the workspace's bot on every request before the listener may acknowledge, and every delivery
    asks too; one query per workspace a minute is enough. Saving or deleting through this store forgets the
    workspace at once; a change made by another replica is seen within CACHE_SECONDS.
    """

    def __init__(self, store: InstallationStore, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._bots: dict[tuple[str | None, str | None], tuple[float, Bot | None]] = {}

    @property
    def logger(self) -> Logger:
        return self.store.logger

    def forget(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        with self._lock:
            self._bots.pop((enterprise_id, team_id), None)

    def find_bot(
        self, *, enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool | None = False
    ) -> Bot | None:
        key = (enterprise_id, None if is_enterprise_install else team_id)
        now = self._monotonic()
        with self._lock:
            cached = self._bots.get(key)
        if cached is not None and now - cached[0] < CACHE_SECONDS:
            return cached[1]
        bot = self.store.find_bot(
            enterprise_id=enterprise_id, team_id=team_id, is_enterprise_install=is_enterprise_install
        )
        with self._lock:
            self._bots[key] = (now, bot)
        return bot

    def find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        return self.store.find_installation(
            enterprise_id=enterprise_id, team_id=team_id, user_id=user_id, is_enterprise_install=is_enterprise_install
        )

    def save(self, installation: Installation) -> None:
        self.store.save(installation)
        self.forget(enterprise_id=installation.enterprise_id, team_id=installation.team_id)

    def save_bot(self, bot: Bot) -> None:
        self.store.save_bot(bot)
        self.forget(enterprise_id=bot.enterprise_id, team_id=bot.team_id)

    def delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        self.store.delete_bot(enterprise_id=enterprise_id, team_id=team_id)
        self.forget(enterprise_id=enterprise_id, team_id=team_id)

    def delete_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None
    ) -> None:
        self.store.delete_installation(enterprise_id=enterprise_id, team_id=team_id, user_id=user_id)
        self.forget(enterprise_id=enterprise_id, team_id=team_id)


class SlackWorkspaces:
    """The `SlackGateway` for a workspace (Slack team id).

    Without an installation store (single-workspace mode) every team gets the one gateway built from
    SLACK_BOT_TOKEN. With one (OAuth installs) each team gets a gateway with the bot token its installation
    stored; incidents recorded before workspaces were (team None) use SLACK_BOT_TOKEN when it is set.
    """

    def __init__(
        self, default: SlackGateway, *, installations: RecentInstallations | None = None, base_url: str | None = None
    ) -> None:
        self.default = default
        self.installations = installations
        self.base_url = base_url  # default: the single-workspace client's
        self._lock = threading.Lock()
        self._by_token: dict[str, SlackGateway] = {}

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
        bot = self.installations.find_bot(enterprise_id=None, team_id=team_id)
        if bot is None or not bot.bot_token:
            raise SlackCallError("not_installed", retryable=False)
        return self._for_token(bot.bot_token)

    def forget(self, team_id: str) -> None:
        """Stop using the workspace's token at once (it was uninstalled, or its tokens revoked)."""
        if self.installations is not None:
            self.installations.forget(enterprise_id=None, team_id=team_id)

    def _for_token(self, token: str) -> SlackGateway:
        with self._lock:
            gateway = self._by_token.get(token)
            if gateway is None:
                base_url = self.base_url or self.default.client.base_url
                gateway = self._by_token[token] = SlackGateway(build_web_client(token=token, base_url=base_url))
            return gateway
