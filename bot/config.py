"""Settings: the one place that reads the environment."""

from __future__ import annotations

from datetime import timedelta
from functools import cached_property
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.domain.acknowledgement import parse_minutes_by_severity
from bot.domain.deadlines import parse_offsets
from bot.domain.oncall_sources import InvalidSource, parse_source
from bot.models import Severity

DEFAULT_DATABASE_URL = "sqlite:///triage-bot.db"
# `triage-bot sandbox`'s own database (demo data; it never takes DATABASE_URL). The CLI reads it when DATABASE_URL
# is not set and there is no triage-bot.db (bot/cli_database.py).
SANDBOX_DATABASE_URL = "sqlite:///sandbox.db"
DEFAULT_JIRA_PRIORITIES = "SEV1=Highest,SEV2=High,SEV3=Medium,SEV4=Low"
SLACK_API_DEFAULT = "https://slack.com/api/"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
SLACK_AUTHORIZE_DEFAULT = "https://slack.com/oauth/v2/authorize"
# The bot scopes the code uses; slack-app-manifest.yaml lists the same (a unit test keeps them equal).
BOT_SCOPES = (
    "commands",
    "chat:write",
    "channels:join",
    "app_mentions:read",
    "channels:manage",
    "pins:write",
    "usergroups:read",
    "channels:history",
    "groups:history",
    "files:read",
    "files:write",
    "users:read",
    "users:read.email",
    "channels:read",
    "groups:read",
    "im:read",
    "mpim:read",
)


MAX_AREA_NAME = 150  # a select option's value
MAX_AREAS = 99 * 100  # 99 groups of 100 options in one select (the 100th group holds "Other / not sure")


class SettingsError(Exception):
    """A missing or malformed setting; the message is one line naming the variable."""


class Settings(BaseSettings):
    """Everything the bot reads from the environment (or a `.env` file)."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = SLACK_API_DEFAULT
    slack_client_id: str | None = Field(default=None, description="with SLACK_CLIENT_SECRET: OAuth installs")
    slack_client_secret: SecretStr | None = None
    slack_scopes: str = Field(default=",".join(BOT_SCOPES), description="bot scopes asked for on install")
    slack_redirect_uri: str | None = Field(default=None, description="https://…/slack/oauth_redirect")
    slack_authorize_url: str = SLACK_AUTHORIZE_DEFAULT
    database_url: str = DEFAULT_DATABASE_URL
    port: int = Field(default=3000, ge=1, le=65535)
    web_concurrency: int = Field(default=1, ge=1, le=64)
    web_threads: int = Field(default=16, ge=1, le=512)
    listener_threads: int = Field(default=64, ge=1, le=1024)
    after_ack_threads: int = Field(default=4, ge=1, le=64)
    jira_url: str | None = None
    jira_user: str | None = None
    jira_api_token: SecretStr | None = None
    oncall_slack_id: str | None = Field(
        default=None, description="Slack user (U…/W…) or user group (S…) tagged on new incidents"
    )
    oncall_source: str | None = Field(
        default=None,
        description="rotation:<team>, usergroup:S…, pagerduty:<escalation policy id> or opsgenie:<schedule name>",
    )
    pagerduty_api_token: SecretStr | None = Field(default=None, description="PagerDuty REST API key (read-only)")
    pagerduty_api_url: str = "https://api.pagerduty.com"
    opsgenie_api_key: SecretStr | None = Field(default=None, description="Opsgenie API integration key")
    opsgenie_api_url: str = Field(
        default="https://api.opsgenie.com", description="https://api.eu.opsgenie.com in the EU"
    )
    slack_posts_per_second: float = Field(
        default=1.0, gt=0, le=50, description="posts and edits a second per channel, after SLACK_POST_BURST"
    )
    slack_post_burst: int = Field(default=10, ge=1, le=100, description="posts a channel may get at once")
    slack_tier_scale: float = Field(default=1.0, gt=0, le=20, description="multiplies Slack's published tiers")
    display_timezone: str = "UTC"
    scheduler_interval_seconds: float = Field(default=1.0, gt=0)
    ack_windows: str = Field(default="SEV1=5,SEV2=15,SEV3=60,SEV4=240", description="minutes to acknowledge")
    client_update_cadence: str = Field(default="SEV1=30,SEV2=60,SEV3=240,SEV4=1440", description="minutes")
    isolation_window_hours: float = Field(default=24, gt=0)
    correlation_window_hours: float = Field(default=6, gt=0)
    statuspage_url: str | None = None
    deploy_hook_secret: SecretStr | None = None
    escalation_channel_id: str | None = None
    support_channel_id: str | None = Field(
        default=None, description="where incidents opened from a message post (else the message's channel)"
    )
    internal_channel_id: str | None = Field(default=None, description="support/engineering channel for notices")
    jira_project: str = "ENG"
    jira_product_project: str = "PROD"
    jira_issue_type: str = Field(default="Bug", description="issue type of engineering handoffs in JIRA_PROJECT")
    jira_product_issue_type: str = Field(default="Task", description="issue type of feedback in JIRA_PRODUCT_PROJECT")
    jira_follow_up_issue_type: str = Field(default="Task", description="issue type of resolution follow-ups")
    jira_priorities: str = Field(default=DEFAULT_JIRA_PRIORITIES, description="Jira priority name per severity")
    jira_timeout_seconds: float = Field(default=5, gt=0, le=120)
    jira_poll_minutes: float = Field(default=5, gt=0)
    product_areas: str = Field(default="", description="area=PM user id, comma separated")
    major_incident_declarers: str = Field(default="", description="users (U…) and user groups (S…); empty: anyone")
    deadline_reminders: str = Field(default="120,60,30,10", description="minutes before the client's deadline")
    sev1_within_minutes: int | None = Field(default=None, ge=1, description="raise to SEV1 this close to the deadline")
    log_level: str = Field(default="INFO", description="DEBUG, INFO, WARNING, ERROR or CRITICAL")
    log_format: Literal["auto", "json", "text"] = Field(
        default="auto", description="json: one JSON object per line; text: classic lines; auto: text on a terminal"
    )

    @field_validator("log_level")
    @classmethod
    def _known_log_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in LOG_LEVELS:
            raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}")
        return level

    @field_validator("log_format", mode="before")
    @classmethod
    def _format_in_lower_case(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _oauth_credentials_together(self) -> Settings:
        if (self.slack_client_id is None) != (self.slack_client_secret is None):
            raise ValueError(
                "SLACK_CLIENT_ID and SLACK_CLIENT_SECRET go together: set both for OAuth installs, or neither"
            )
        return self

    @field_validator("slack_api_url")
    @classmethod
    def _api_url_has_scheme(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL such as https://slack.com/api/")
        return value if value.endswith("/") else value + "/"

    @field_validator("slack_authorize_url", "slack_redirect_uri")
    @classmethod
    def _oauth_url_has_scheme(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL such as https://triage.example.com/slack/oauth_redirect")
        return value

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if value.startswith("postgresql://"):
            return "postgresql+psycopg://" + value.removeprefix("postgresql://")
        if value.startswith("postgres://"):
            return "postgresql+psycopg://" + value.removeprefix("postgres://")
        if not value.startswith(("postgresql+psycopg://", "sqlite://")):
            raise ValueError("must start with postgresql:// or sqlite:///")
        return value

    @field_validator("oncall_slack_id")
    @classmethod
    def _slack_id_shape(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if value[:1] not in {"U", "W", "S"} or not value.isalnum():
            raise ValueError("must be a Slack user ID (U…) or user group ID (S…)")
        return value

    @field_validator("support_channel_id", "internal_channel_id", "escalation_channel_id")
    @classmethod
    def _channel_id_shape(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if value[:1] not in {"C", "G"} or not value.isalnum():
            raise ValueError("must be a Slack channel ID (C… or G…)")
        return value

    @field_validator("oncall_source")
    @classmethod
    def _readable_source(cls, value: str | None) -> str | None:
        if not value or not value.strip():
            return None
        try:
            return str(parse_source(value))
        except InvalidSource as exc:
            raise ValueError(str(exc)) from None

    @field_validator("pagerduty_api_url", "opsgenie_api_url")
    @classmethod
    def _service_url_is_http(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL such as https://api.pagerduty.com")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _source_has_its_key(self) -> Settings:
        source = self.oncall_source or ""
        if source.startswith("pagerduty:") and self.pagerduty_api_token is None:
            raise ValueError("ONCALL_SOURCE names PagerDuty: set PAGERDUTY_API_TOKEN too")
        if source.startswith("opsgenie:") and self.opsgenie_api_key is None:
            raise ValueError("ONCALL_SOURCE names Opsgenie: set OPSGENIE_API_KEY too")
        return self

    @field_validator("ack_windows", "client_update_cadence")
    @classmethod
    def _minutes_per_severity(cls, value: str) -> str:
        parse_minutes_by_severity(value)
        return value

    @field_validator("jira_priorities")
    @classmethod
    def _priority_per_severity(cls, value: str) -> str:
        parse_jira_priorities(value)
        return value

    @cached_property
    def jira_priority_by_severity(self) -> dict[Severity, str]:
        return parse_jira_priorities(self.jira_priorities)

    @field_validator(
        "jira_project",
        "jira_product_project",
        "jira_issue_type",
        "jira_product_issue_type",
        "jira_follow_up_issue_type",
    )
    @classmethod
    def _jira_name_given(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value.strip()

    @field_validator("deadline_reminders")
    @classmethod
    def _reminder_offsets(cls, value: str) -> str:
        parse_offsets(value)
        return value

    @property
    def deadline_reminder_offsets(self) -> list[timedelta]:
        return parse_offsets(self.deadline_reminders)

    @property
    def sev1_within(self) -> timedelta | None:
        return timedelta(minutes=self.sev1_within_minutes) if self.sev1_within_minutes else None

    @field_validator("product_areas")
    @classmethod
    def _areas_shape(cls, value: str) -> str:
        parse_product_areas(value)
        return value

    @field_validator("major_incident_declarers")
    @classmethod
    def _declarers_shape(cls, value: str) -> str:
        bad = [p for p in _csv(value) if p[:1] not in {"U", "W", "S"} or not p.isalnum()]
        if bad:
            raise ValueError(f"'{bad[0]}' is not a Slack user (U…) or user group (S…) id")
        return value

    @property
    def product_area_pms(self) -> dict[str, str | None]:
        return parse_product_areas(self.product_areas)

    @property
    def declarer_ids(self) -> list[str]:
        return _csv(self.major_incident_declarers)

    @field_validator("statuspage_url")
    @classmethod
    def _statuspage_is_http(cls, value: str | None) -> str | None:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL ending in /api/v2/incidents.json")
        return value or None

    @cached_property
    def ack_window_by_severity(self) -> dict[Severity, timedelta]:
        return parse_minutes_by_severity(self.ack_windows)

    @cached_property
    def update_cadence_by_severity(self) -> dict[Severity, timedelta]:
        return parse_minutes_by_severity(self.client_update_cadence)

    @property
    def isolation_window(self) -> timedelta:
        return timedelta(hours=self.isolation_window_hours)

    @property
    def correlation_window(self) -> timedelta:
        return timedelta(hours=self.correlation_window_hours)

    @field_validator("display_timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError("must be an IANA time zone such as Europe/London") from exc
        return value

    @cached_property
    def display_zone(self) -> ZoneInfo:
        return ZoneInfo(self.display_timezone)

    @property
    def jira_configured(self) -> bool:
        return bool(self.jira_url and self.jira_user and self.jira_api_token)

    @property
    def oauth_enabled(self) -> bool:
        """Installed into workspaces through Slack OAuth (`/slack/install`), each with its own bot token."""
        return self.slack_client_id is not None and self.slack_client_secret is not None

    @property
    def bot_scopes(self) -> list[str]:
        return _csv(self.slack_scopes)

    def missing_slack_credentials(self) -> list[str]:
        """Names of the variables that HTTP mode needs and that are unset (no bot token with OAuth installs)."""
        missing = []
        if self.slack_bot_token is None and not self.oauth_enabled:
            missing.append("SLACK_BOT_TOKEN")
        if self.slack_signing_secret is None:
            missing.append("SLACK_SIGNING_SECRET")
        return missing


def _csv(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def parse_jira_priorities(text: str) -> dict[Severity, str]:
    """`SEV1=Highest,SEV2=High,SEV3=Medium,SEV4=Low` -> the Jira priority name per severity; every severity given."""
    priorities: dict[Severity, str] = {}
    for part in _csv(text):
        name, _, priority = (p.strip() for p in part.partition("="))
        try:
            severity = Severity(name.upper())
        except ValueError:
            raise ValueError(f"'{part}' is not SEVn=priority name (as in {DEFAULT_JIRA_PRIORITIES})") from None
        if not priority:
            raise ValueError(f"'{part}' names no priority (as in {DEFAULT_JIRA_PRIORITIES})")
        priorities[severity] = priority
    missing = [s.value for s in Severity if s not in priorities]
    if missing:
        raise ValueError(f"missing {', '.join(missing)} (as in {DEFAULT_JIRA_PRIORITIES})")
    return priorities


def parse_product_areas(text: str) -> dict[str, str | None]:
    """`uploads=U0PM1,billing=U0PM2,search` -> area: product manager (None when not given)."""
    areas: dict[str, str | None] = {}
    for part in _csv(text):
        area, _, pm = (p.strip() for p in part.partition("="))
        if not area or (pm and (pm[:1] not in {"U", "W"} or not pm.isalnum())):
            raise ValueError(f"'{part}' is not area=U… (a product area and its PM's Slack user id)")
        if len(area) > MAX_AREA_NAME:
            raise ValueError(f"'{area[:40]}…' is longer than {MAX_AREA_NAME} characters (Slack's limit for a choice)")
        areas[area] = pm or None
    if len(areas) > MAX_AREAS:
        raise ValueError(f"{len(areas)} product areas are more than the {MAX_AREAS} a Slack select can offer")
    return areas


def load_settings(**overrides: object) -> Settings:
    """Read the settings, turning pydantic's report into one line that names the variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        message = str(first["msg"]).removeprefix("Value error, ")
        if not first["loc"]:
            raise SettingsError(f"Invalid settings: {message}") from None
        raise SettingsError(f"Invalid setting {str(first['loc'][0]).upper()}: {message}") from None
