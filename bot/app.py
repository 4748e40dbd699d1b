"""Build the Bolt app from Services and register every listener."""

from __future__ import annotations

from concurrent.futures import Executor, ThreadPoolExecutor

from slack_bolt import App
from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore

from bot.integrations.slack import build_web_client
from bot.integrations.slack_hosts import SlackHosts
from bot.listeners import register_listeners
from bot.listeners.acknowledgement import AckAwaitingExecutor, answer_on_ack
from bot.listeners.errors import handle_unexpected_error
from bot.listeners.events import register_revocation_log
from bot.listeners.middleware import NamedArgs, forget_revoked_workspaces, inject_services, skip_repeated_events
from bot.listeners.verification import after_verification
from bot.observability.bolt import observe_requests
from bot.observability.redaction import register_settings_secrets
from bot.services.container import Services

NOT_INSTALLED = (
    ":warning: Triage Bot is not installed in this workspace (or was removed), so nothing was recorded. "
    "Ask a workspace admin to install it again."
)
OAUTH_STATE_SECONDS = 600  # an install started on /slack/install must finish within this long


def oauth_settings(services: Services) -> OAuthSettings | None:
    """Slack OAuth installs (`/slack/install`, `/slack/oauth_redirect`) when SLACK_CLIENT_ID/SECRET are set.

    Installations and the short-lived OAuth states live in our database, in slack_sdk's own tables.
    """
    settings = services.settings
    installations = services.workspaces.installations
    if installations is None or settings.slack_client_secret is None:
        return None
    oauth = OAuthSettings(
        client_id=settings.slack_client_id,
        client_secret=settings.slack_client_secret.get_secret_value(),
        scopes=settings.bot_scopes,
        redirect_uri=settings.slack_redirect_uri,
        authorization_url=settings.slack_authorize_url,
        installation_store=installations,
        installation_store_bot_only=True,
        state_store=SQLAlchemyOAuthStateStore(expiration_seconds=OAUTH_STATE_SECONDS, engine=services.engine),
    )
    # Bolt asks the store for the workspace's bot on every request (answered from memory for a minute, see
    # RecentInstallations), then asks Slack `auth.test` about the token before the listener may acknowledge. Its
    # cache (per token) keeps that round trip off every request after the first; a workspace whose installation
    # was deleted is still refused, since no token is found for it.
    oauth.authorize.cache_enabled = True  # type: ignore[attr-defined]
    return oauth


def build_bolt_app(services: Services, *, listener_executor: Executor | None = None) -> App:
    """The Bolt app; pass `listener_executor` to own the threads that run listeners (and wait for them on shutdown).

    Listeners run in a copy of the request thread's context, so what they log carries the request's correlation id.
    """
    register_settings_secrets(services.settings)
    secret = services.settings.slack_signing_secret
    if secret is None:
        raise ValueError("SLACK_SIGNING_SECRET is required to verify Slack's requests")
    executor = listener_executor or ThreadPoolExecutor(
        max_workers=services.settings.listener_threads, thread_name_prefix="bolt-listener"
    )
    oauth = oauth_settings(services)
    app = App(
        # With OAuth installs each request gets a client with its workspace's token; the app's own needs none.
        client=services.slack.client
        if oauth is None
        else build_web_client(token=None, base_url=services.slack.client.base_url),
        signing_secret=secret.get_secret_value(),
        token_verification_enabled=False,
        raise_error_for_unhandled_request=False,
        process_before_response=False,
        # Listeners keep their thread after ack() while they post to Slack; Bolt's default of 5 threads
        # would make new requests wait for a free one before they can even be acknowledged.
        listener_executor=AckAwaitingExecutor(executor),
        oauth_settings=oauth,
        installation_store_bot_only=True if oauth is not None else None,
        user_facing_authorize_error_message=NOT_INSTALLED,
        # Runs right after Bolt's signature check: only verified requests get a respond() (to Slack's hosts only).
        before_authorize=NamedArgs(after_verification(SlackHosts.for_api_url(services.settings.slack_api_url))),
    )
    if oauth is not None:
        app.use(NamedArgs(forget_revoked_workspaces(services)))
    app.use(NamedArgs(observe_requests))
    app.use(NamedArgs(answer_on_ack))  # after observe_requests: the request's scope is open
    app.use(NamedArgs(inject_services(services)))
    app.use(NamedArgs(skip_repeated_events(services)))
    app.error(handle_unexpected_error)
    register_listeners(app)
    # After the listeners: Bolt tries them in order, and commands and interactions are far more frequent.
    if oauth is not None:
        app.enable_token_revocation_listeners()
    else:
        register_revocation_log(app)
    return app
