"""Everything a listener or a scheduled job needs, built once from Settings."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import Clock
from bot.config import Settings
from bot.domain.workspace_settings import SINGLE_WORKSPACE
from bot.integrations.jira_tracker import JiraTracker
from bot.integrations.outbox import OutboxDispatcher
from bot.integrations.people import SlackPeople
from bot.integrations.slack import SlackGateway
from bot.integrations.statuspage import StatusPageClient
from bot.integrations.workspaces import RecentInstallations, SlackWorkspaces
from bot.services.background import BackgroundWork
from bot.services.oncall_sources import OnCallDirectory
from bot.services.recent_reach import RecentReach
from bot.services.settings_cache import WorkspaceSettingsCache

NO_WORKSPACE = ""  # no incident belongs to it


@dataclass
class Services:
    """`workspace` scopes what a request sees to its Slack workspace (OAuth installs); None sees everything."""

    settings: Settings
    clock: Clock
    engine: Engine
    session_factory: sessionmaker[Session]
    slack: SlackGateway
    outbox: OutboxDispatcher
    status_page: StatusPageClient
    jira: JiraTracker | None
    background: BackgroundWork
    workspaces: SlackWorkspaces
    workspace: str | None = None
    people: SlackPeople = field(default_factory=SlackPeople)  # who is who in Slack, for the roles
    oncall_directory: OnCallDirectory | None = None  # PagerDuty / Opsgenie answers (build_services sets it)
    workspace_settings: WorkspaceSettingsCache = field(default_factory=WorkspaceSettingsCache)
    environment_settings: Settings | None = None  # the defaults `settings` were merged over (None: the same)
    recent_reach: RecentReach = field(default_factory=RecentReach)  # where Slack said the bot can post, lately

    def for_request(self, team_id: str | None) -> Services:
        """These services as one request (or one incident's timer) sees them: with its workspace's own settings
        (`/triage settings`) over the environment's, and scoped to its workspace when the app is installed in
        several. A request naming no workspace then sees no incident at all (fails closed), rather than every
        workspace's, and the environment's settings.
        """
        base = self.environment_settings or self.settings
        if not self.workspaces.multi_workspace:
            settings = self.workspace_settings.effective(base, self.session_factory, SINGLE_WORKSPACE)
            return self if settings is self.settings else replace(self, settings=settings, environment_settings=base)
        workspace = team_id or NO_WORKSPACE
        settings = base if not team_id else self.workspace_settings.effective(base, self.session_factory, team_id)
        return replace(self, workspace=workspace, settings=settings, environment_settings=base)

    @property
    def settings_key(self) -> str:
        """Whose saved settings these are: the request's workspace, or a single-workspace install's."""
        return self.workspace or SINGLE_WORKSPACE

    @property
    def workspace_slack(self) -> SlackGateway:
        """The Web API gateway of the workspace this request came from (SLACK_BOT_TOKEN's in single-workspace mode)."""
        return self.workspaces.gateway(self.workspace)


def build_jira(settings: Settings) -> JiraTracker | None:
    """The Jira client, or None when Jira is not configured (escalations are then recorded, not filed)."""
    if not settings.jira_configured:
        return None
    assert settings.jira_url and settings.jira_user and settings.jira_api_token
    token = settings.jira_api_token.get_secret_value()
    return JiraTracker(settings.jira_url, settings.jira_user, token, timeout=settings.jira_timeout_seconds)


def build_installation_store(settings: Settings, engine: Engine) -> RecentInstallations | None:
    """slack_sdk's SQLAlchemy installation store in our database (tables from migration 0009), for OAuth installs."""
    if not settings.oauth_enabled:
        return None
    assert settings.slack_client_id is not None
    return RecentInstallations(SQLAlchemyInstallationStore(client_id=settings.slack_client_id, engine=engine))
