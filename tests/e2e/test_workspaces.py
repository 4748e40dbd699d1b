"""Multi-workspace distribution: installs through Slack OAuth, then each workspace sees and gets only its own."""

from __future__ import annotations

import html
import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from http.client import HTTPMessage

import pytest
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from sqlalchemy import Engine, select

from bot.app import build_bolt_app
from bot.clock import ManualClock
from bot.config import load_settings
from bot.db import unit_of_work
from bot.models import Incident, OutboxMessage, OutboxState
from bot.sandbox.emulator import SlackEmulator
from bot.sandbox.federation import SlackFederation
from bot.sandbox.platform import SlackPlatform
from bot.sandbox.wsgi_server import RunningServer, start_background_server
from bot.scheduler import tick
from bot.services.container import Services
from bot.services.wiring import build_services
from bot.web import WebApp
from tests.e2e.conftest import AGENT, ONCALL, SIGNING_SECRET, SUPPORT, Stack
from tests.e2e.test_open_incident_flow import filled_form

CLIENT_ID, CLIENT_SECRET = "4242.1717", "oauth-client-secret"
ALPHA, BRAVO, CHARLIE = "T0ALPHA", "T0BRAVO", "T0CHARLIE"


@dataclass
class Workspace:
    emulator: SlackEmulator
    platform: SlackPlatform

    @property
    def team_id(self) -> str:
        return self.emulator.team_id

    def roots(self) -> list[dict[str, object]]:
        return self.emulator.messages(SUPPORT)

    def thread(self, ts: str) -> list[str]:
        return [str(m.get("text", "")) for m in self.emulator.replies(SUPPORT, ts)]


@dataclass
class Distribution:
    """The bot in OAuth mode behind one Slack URL that serves three workspaces (the app not yet installed)."""

    federation: SlackFederation
    services: Services
    clock: ManualClock
    bot_url: str
    workspaces: dict[str, Workspace]

    def get(self, path: str, cookie: str | None = None) -> tuple[int, HTTPMessage, str]:
        request = urllib.request.Request(self.bot_url + path, headers={"Cookie": cookie} if cookie else {})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.headers, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.headers, error.read().decode()

    def install(self, team_id: str) -> str:
        """What a workspace admin does: open /slack/install, click through, allow; the page they end on."""
        status, headers, page = self.get("/slack/install")
        assert status == 200, page
        authorize_url = html.unescape(re.search(r'href="([^"]+/oauth/v2/authorize[^"]*)"', page).group(1))  # type: ignore[union-attr]
        cookie = headers["Set-Cookie"].split(";", 1)[0]
        redirect = self.federation.approve(authorize_url, team_id=team_id, user_id=AGENT)
        status, _, done = self.get(redirect.removeprefix(self.bot_url), cookie=cookie)
        assert status == 200, done
        return done

    def open_incident(self, team_id: str, client: str) -> str:
        """Open an incident from a workspace; the root message's ts once its thread is there."""
        workspace = self.workspaces[team_id]
        before = len(workspace.roots())
        assert workspace.platform.slash_command(AGENT, SUPPORT).status == 200
        modal = workspace.emulator.wait_for(lambda: workspace.emulator.current_modal(AGENT))
        assert workspace.platform.submit_view(modal["id"], AGENT, filled_form(client=client)).status == 200
        root = workspace.emulator.wait_for(lambda: len(workspace.roots()) > before and workspace.roots()[before])
        workspace.emulator.wait_for(lambda: len(workspace.thread(str(root["ts"]))) >= 4)
        return str(root["ts"])

    def ask(self, team_id: str, text: str) -> str:
        """`/triage <text>` in a workspace: the answer only the asker sees."""
        workspace = self.workspaces[team_id]
        before = len(workspace.emulator.ephemerals(SUPPORT, AGENT))
        assert workspace.platform.slash_command(AGENT, SUPPORT, text=text).status == 200
        shown = workspace.emulator.wait_for(lambda: workspace.emulator.ephemerals(SUPPORT, AGENT)[before:] or None)
        return json.dumps(shown, ensure_ascii=False)


def _workspace(team_id: str) -> SlackEmulator:
    """A workspace with the same people and the same channel id as the others: only the token tells them apart."""
    emulator = SlackEmulator(
        bot_token=f"xoxb-{team_id.lower()}", team_id=team_id, team_domain=team_id.lower(), team_name=team_id.title()
    )
    emulator.wait_timeout = 20.0
    emulator.add_user(AGENT, "agent", real_name="Sam Support")
    emulator.add_user(ONCALL, "oncall", real_name="Olu Oncall")
    emulator.add_channel("support", id=SUPPORT, members=[AGENT, ONCALL, emulator.bot_user_id])
    return emulator


@pytest.fixture
def distribution(database_url: str, clean_db: Engine, clock: ManualClock) -> Iterator[Distribution]:
    federation = SlackFederation(client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    emulators = [federation.add_workspace(_workspace(team)) for team in (ALPHA, BRAVO, CHARLIE)]
    slack = federation.serve()
    settings = load_settings(
        slack_signing_secret=SIGNING_SECRET,
        slack_client_id=CLIENT_ID,
        slack_client_secret=CLIENT_SECRET,
        slack_api_url=federation.api_url,
        slack_authorize_url=federation.authorize_url,
        database_url=database_url,
        oncall_slack_id=ONCALL,
    )
    services = build_services(settings, clock=clock, engine=clean_db)
    listeners = ThreadPoolExecutor(max_workers=8, thread_name_prefix="e2e-listener")
    bot: RunningServer = start_background_server(
        WebApp(build_bolt_app(services, listener_executor=listeners), services)
    )
    federation.redirect_url = f"{bot.url}/slack/oauth_redirect"  # the app's configured redirect URL
    workspaces = {
        e.team_id: Workspace(e, SlackPlatform(e, f"{bot.url}/slack/events", SIGNING_SECRET)) for e in emulators
    }
    yield Distribution(federation, services, clock, bot.url, workspaces)
    bot.stop()
    listeners.shutdown(wait=True)
    services.background.drain()
    slack.stop()


def test_the_install_page_and_the_redirect_store_each_workspace_s_own_bot_token(distribution: Distribution) -> None:
    assert "Thank you!" in distribution.install(ALPHA)
    distribution.install(BRAVO)
    store = SQLAlchemyInstallationStore(client_id=CLIENT_ID, engine=distribution.services.engine)
    for team in (ALPHA, BRAVO):
        bot = store.find_bot(enterprise_id=None, team_id=team)
        assert bot is not None and bot.bot_token == distribution.federation.token_of(team)
    assert store.find_bot(enterprise_id=None, team_id=CHARLIE) is None


def test_incidents_stay_in_the_workspace_they_were_opened_in(distribution: Distribution) -> None:
    distribution.install(ALPHA)
    distribution.install(BRAVO)
    alpha_ts = distribution.open_incident(ALPHA, "Alpha Legal")
    bravo_ts = distribution.open_incident(BRAVO, "Bravo Partners")
    alpha, bravo = distribution.workspaces[ALPHA], distribution.workspaces[BRAVO]
    assert [m["ts"] for m in alpha.roots()] == [alpha_ts] and "Alpha Legal" in json.dumps(alpha.roots())
    assert [m["ts"] for m in bravo.roots()] == [bravo_ts] and "Bravo Partners" in json.dumps(bravo.roots())
    with unit_of_work(distribution.services.session_factory) as session:
        stored = {i.client.name: (i.team_id, i.root_ts) for i in session.scalars(select(Incident)).unique()}
    assert stored == {"Alpha Legal": (ALPHA, alpha_ts), "Bravo Partners": (BRAVO, bravo_ts)}

    listed = distribution.ask(BRAVO, "list")
    assert "Bravo Partners" in listed and "Alpha Legal" not in listed
    for asked in ("show INC-1", "summary INC-1"):
        answer = distribution.ask(BRAVO, asked)
        assert "That incident isn't available here" in answer and "INC-1" not in answer
    report = distribution.ask(ALPHA, "workarounds")
    assert "No active workarounds" in report

    # Reminders the scheduler posts later go out with each workspace's own token, into its own thread.
    distribution.clock.advance(timedelta(minutes=6))
    tick(distribution.services)
    distribution.services.background.drain(timeout=10)
    for workspace, ts in ((alpha, alpha_ts), (bravo, bravo_ts)):
        workspace.emulator.wait_for(
            lambda w=workspace, t=ts: any("has not been acknowledged" in x for x in w.thread(t))
        )
    assert distribution.workspaces[CHARLIE].emulator.calls("chat.postMessage") == []
    # One auth.test when the app was installed, one for the first request; later requests are not slowed by it.
    assert len(alpha.emulator.calls("auth.test")) == len(bravo.emulator.calls("auth.test")) == 2


def test_a_workspace_without_the_app_installed_is_refused_and_nothing_is_stored(distribution: Distribution) -> None:
    distribution.install(ALPHA)
    charlie = distribution.workspaces[CHARLIE]
    assert charlie.platform.slash_command(AGENT, SUPPORT).status == 200
    told = charlie.emulator.wait_for(lambda: charlie.emulator.ephemerals(SUPPORT, AGENT))
    assert "Triage Bot is not installed in this workspace" in json.dumps(told)
    assert charlie.emulator.calls("views.open") == []
    with unit_of_work(distribution.services.session_factory) as session:
        assert session.scalars(select(Incident)).first() is None


def test_an_install_with_a_forged_state_is_refused(distribution: Distribution) -> None:
    status, _, page = distribution.get("/slack/install")
    authorize_url = html.unescape(re.search(r'href="([^"]+/oauth/v2/authorize[^"]*)"', page).group(1))  # type: ignore[union-attr]
    redirect = distribution.federation.approve(authorize_url, team_id=ALPHA, user_id=AGENT)
    forged = re.sub(r"state=[^&]+", "state=forged", redirect)
    status, _, page = distribution.get(forged.removeprefix(distribution.bot_url), cookie="slack-app-oauth-state=forged")
    assert status == 401 and "Oops, Something Went Wrong!" in page
    store = SQLAlchemyInstallationStore(client_id=CLIENT_ID, engine=distribution.services.engine)
    assert store.find_bot(enterprise_id=None, team_id=ALPHA) is None
    assert distribution.get("/slack/oauth_redirect")[0] == 400, "no code, no state"


def test_install_pages_exist_only_with_oauth_installs(distribution: Distribution, stack: Stack) -> None:
    for path in ("/slack/install", "/slack/oauth_redirect"):
        request = urllib.request.Request(stack.bot_url + path)
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        assert refused.value.code == 404
    posted = urllib.request.Request(distribution.bot_url + "/slack/install", data=b"", method="POST")
    with pytest.raises(urllib.error.HTTPError) as wrong_method:
        urllib.request.urlopen(posted, timeout=10)
    assert wrong_method.value.code == 405


def test_after_an_uninstall_its_messages_fail_with_a_clear_reason_and_others_go_on(distribution: Distribution) -> None:
    distribution.install(ALPHA)
    distribution.install(BRAVO)
    distribution.open_incident(ALPHA, "Alpha Legal")
    bravo_ts = distribution.open_incident(BRAVO, "Bravo Partners")
    distribution.federation.revoke(ALPHA)
    alpha = distribution.workspaces[ALPHA]
    assert alpha.platform.send_event({"type": "app_uninstalled"}).status == 200
    store = SQLAlchemyInstallationStore(client_id=CLIENT_ID, engine=distribution.services.engine)
    alpha.emulator.wait_for(lambda: store.find_bot(enterprise_id=None, team_id=ALPHA) is None)

    distribution.clock.advance(timedelta(minutes=6))
    tick(distribution.services)
    distribution.services.background.drain(timeout=10)
    with unit_of_work(distribution.services.session_factory) as session:
        failed = session.scalars(select(OutboxMessage).where(OutboxMessage.state == OutboxState.FAILED)).all()
        assert failed and {row.incident_id for row in failed} == {1}
        assert all("not installed in this workspace" in (row.last_error or "") for row in failed)
    bravo = distribution.workspaces[BRAVO]
    bravo.emulator.wait_for(lambda: any("has not been acknowledged" in x for x in bravo.thread(bravo_ts)))


def test_a_single_workspace_install_acknowledges_an_uninstall_and_logs_it(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    assert stack.platform.send_event({"type": "app_uninstalled"}).status == 200
    stack.emulator.wait_for(lambda: "SLACK_BOT_TOKEN no longer works" in caplog.text)
