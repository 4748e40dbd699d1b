"""Which token speaks for a workspace, and the settings that switch OAuth installs on."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from slack_sdk.oauth.installation_store import Installation
from slack_sdk.oauth.installation_store.file import FileInstallationStore

from bot.config import BOT_SCOPES, SettingsError, load_settings
from bot.integrations.slack import SlackCallError, SlackGateway, build_web_client
from bot.integrations.workspaces import CACHE_SECONDS, RecentInstallations, SlackWorkspaces
from tests.clocks import Ticks

API = "http://127.0.0.1:9/api/"  # never called: these tests only pick tokens
MANIFEST = Path(__file__).resolve().parents[2] / "slack-app-manifest.yaml"


def _installed(store: RecentInstallations, team_id: str, token: str) -> None:
    store.save(
        Installation(
            app_id="A0TRIAGE", team_id=team_id, user_id="UADMIN", bot_token=token, bot_id="B1", bot_user_id="UBOT"
        )
    )


def _gateway(token: str | None) -> SlackGateway:
    return SlackGateway(build_web_client(token=token, base_url=API))


@pytest.fixture
def files(tmp_path: Path) -> FileInstallationStore:
    """slack_sdk's file-based store: the real thing, on disk, without a database."""
    return FileInstallationStore(base_dir=str(tmp_path), client_id="4242.1717")


@pytest.fixture
def ticker() -> Ticks:
    return Ticks()


@pytest.fixture
def store(files: FileInstallationStore, ticker: Ticks) -> RecentInstallations:
    return RecentInstallations(files, monotonic=ticker)


def test_a_single_workspace_install_uses_slack_bot_token_for_every_team() -> None:
    default = _gateway("xoxb-only")
    workspaces = SlackWorkspaces(default)
    assert not workspaces.multi_workspace
    assert workspaces.gateway("T0ANY") is default and workspaces.gateway(None) is default


def test_each_installed_workspace_gets_its_own_token_on_the_same_api_url(store: RecentInstallations) -> None:
    _installed(store, "T0ALPHA", "xoxb-alpha")
    _installed(store, "T0BRAVO", "xoxb-bravo")
    workspaces = SlackWorkspaces(_gateway(None), installations=store)
    alpha, bravo = workspaces.gateway("T0ALPHA"), workspaces.gateway("T0BRAVO")
    assert (alpha.client.token, bravo.client.token) == ("xoxb-alpha", "xoxb-bravo")
    assert alpha.client.base_url == bravo.client.base_url == API


def test_a_workspace_without_an_installation_fails_for_good_with_a_hint(store: RecentInstallations) -> None:
    workspaces = SlackWorkspaces(_gateway(None), installations=store)
    with pytest.raises(SlackCallError) as missing:
        workspaces.gateway("T0GONE")
    assert missing.value.error == "not_installed" and not missing.value.retryable
    assert "/slack/install" in str(missing.value)


def test_incidents_from_before_workspaces_were_recorded_use_slack_bot_token_when_set(
    store: RecentInstallations,
) -> None:
    default = _gateway("xoxb-legacy")
    assert SlackWorkspaces(default, installations=store).gateway(None) is default
    with pytest.raises(SlackCallError, match="not_installed"):
        SlackWorkspaces(_gateway(None), installations=store).gateway(None)


def test_a_change_by_another_replica_is_seen_within_a_minute(
    files: FileInstallationStore, store: RecentInstallations, ticker: Ticks
) -> None:
    _installed(store, "T0ALPHA", "xoxb-first")
    workspaces = SlackWorkspaces(_gateway(None), installations=store)
    first = workspaces.gateway("T0ALPHA")
    _installed(files, "T0ALPHA", "xoxb-reinstalled")  # written by another process, past this one's cache
    ticker.now = CACHE_SECONDS - 1
    assert workspaces.gateway("T0ALPHA") is first, "cached"
    ticker.now = CACHE_SECONDS
    assert workspaces.gateway("T0ALPHA").client.token == "xoxb-reinstalled", "looked up again once stale"
    files.delete_all(enterprise_id=None, team_id="T0ALPHA")
    assert workspaces.gateway("T0ALPHA").client.token == "xoxb-reinstalled", "still cached"
    workspaces.forget("T0ALPHA")  # what the app_uninstalled middleware does
    with pytest.raises(SlackCallError, match="not_installed"):
        workspaces.gateway("T0ALPHA")


def test_an_uninstall_through_this_store_is_seen_at_once(store: RecentInstallations) -> None:
    _installed(store, "T0ALPHA", "xoxb-alpha")
    workspaces = SlackWorkspaces(_gateway(None), installations=store)
    assert workspaces.gateway("T0ALPHA").client.token == "xoxb-alpha"
    store.delete_all(enterprise_id=None, team_id="T0ALPHA")  # what Bolt's app_uninstalled listener calls
    with pytest.raises(SlackCallError, match="not_installed"):
        workspaces.gateway("T0ALPHA")
    assert store.find_installation(enterprise_id=None, team_id="T0ALPHA") is None


def test_bolt_and_deliveries_ask_the_database_once_a_minute_per_workspace(
    files: FileInstallationStore, store: RecentInstallations, ticker: Ticks
) -> None:
    asked: list[str | None] = []
    original = files.find_bot

    def counting(**kwargs: object) -> object:
        asked.append(kwargs.get("team_id"))  # type: ignore[arg-type]
        return original(**kwargs)  # type: ignore[arg-type]

    files.find_bot = counting  # type: ignore[method-assign]
    _installed(store, "T0ALPHA", "xoxb-alpha")
    for _ in range(5):
        assert store.find_bot(enterprise_id=None, team_id="T0ALPHA") is not None
        assert store.find_bot(enterprise_id=None, team_id="T0NONE") is None
    ticker.now = CACHE_SECONDS
    store.find_bot(enterprise_id=None, team_id="T0ALPHA")
    assert asked == ["T0ALPHA", "T0NONE", "T0ALPHA"]


def test_oauth_installs_need_the_client_id_and_secret_together_and_no_bot_token() -> None:
    settings = load_settings(slack_client_id="4242.1717", slack_client_secret="s3cret", slack_signing_secret="x")
    assert settings.oauth_enabled and settings.missing_slack_credentials() == []
    assert settings.bot_scopes == list(BOT_SCOPES)
    assert load_settings(slack_signing_secret="x").missing_slack_credentials() == ["SLACK_BOT_TOKEN"]
    with pytest.raises(SettingsError, match="SLACK_CLIENT_ID and SLACK_CLIENT_SECRET go together"):
        load_settings(slack_client_id="4242.1717")
    with pytest.raises(SettingsError, match="SLACK_REDIRECT_URI"):
        load_settings(slack_redirect_uri="triage.example.com/slack/oauth_redirect")


def test_the_manifest_asks_for_exactly_the_scopes_an_oauth_install_asks_for() -> None:
    manifest = yaml.safe_load(MANIFEST.read_text())
    assert manifest["oauth_config"]["scopes"]["bot"] == list(BOT_SCOPES)
    assert any(url.endswith("/slack/oauth_redirect") for url in manifest["oauth_config"]["redirect_urls"])
    assert {"app_uninstalled", "tokens_revoked"} <= set(manifest["settings"]["event_subscriptions"]["bot_events"])
