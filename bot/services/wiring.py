"""The composition root: builds Services from Settings and wires the use cases to the outbox at start-up.

The outbox (an integration) never imports a use case: what a delivery achieved reaches the use case that queued it
through `DeliveryOutcomes`, keyed by purpose and filled here, and the root message is rendered through the hook
set here. Nothing else imports upwards, so `bot/services` has no import cycle (tests/unit/test_layers.py).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine

from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.db import make_engine, make_session_factory
from bot.integrations.delivery_outcomes import DeliveryOutcomes
from bot.integrations.outbox import OutboxDispatcher
from bot.integrations.rate_budgets import Pacing
from bot.integrations.slack import SlackGateway, build_web_client
from bot.integrations.statuspage import StatusPageClient
from bot.integrations.workspaces import SlackWorkspaces
from bot.services import permalinks, resolution
from bot.services.background import BackgroundWork
from bot.services.container import Services, build_installation_store, build_jira
from bot.services.escalation import engineering, internal_notice, product_feedback
from bot.services.oncall_sources import OnCallDirectory, build_services_for_sources
from bot.services.rendering import render_root

# Every use case that records what its deliveries achieved; a new escalation path adds its module here.
OUTCOME_REGISTRATIONS: tuple[Callable[[Services, DeliveryOutcomes], None], ...] = (
    permalinks.register_outcomes,
    internal_notice.register_outcomes,
    engineering.register_outcomes,
    product_feedback.register_outcomes,
    resolution.register_outcomes,
)


def build_services(settings: Settings, *, clock: Clock | None = None, engine: Engine | None = None) -> Services:
    clock = clock or SystemClock()
    engine = engine or make_engine(settings.database_url)
    session_factory = make_session_factory(engine)
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    slack = SlackGateway(build_web_client(token=token, base_url=settings.slack_api_url))
    workspaces = SlackWorkspaces(slack, installations=build_installation_store(settings, engine))
    jira = build_jira(settings)
    pacing = Pacing(settings.slack_posts_per_second, settings.slack_post_burst, settings.slack_tier_scale)
    outbox = OutboxDispatcher(
        session_factory=session_factory, workspaces=workspaces, clock=clock, jira=jira, pacing=pacing
    )
    status_page = StatusPageClient(settings.statuspage_url)
    background = BackgroundWork(
        settings.after_ack_threads,
        answer_threads=settings.listener_threads,
        answers_on_request_threads=max(1, settings.web_threads // 2),
    )
    services = Services(
        settings, clock, engine, session_factory, slack, outbox, status_page, jira, background, workspaces
    )
    services.oncall_directory = OnCallDirectory(build_services_for_sources(settings), clock.now)
    wire(services)
    return services


def wire(services: Services) -> None:
    """Tell the outbox whom to tell what a delivery achieved, and how to render a root message."""
    for register in OUTCOME_REGISTRATIONS:
        register(services, services.outbox.outcomes)
    services.outbox.render_root = lambda session, incident: render_root(services, session, incident).as_args()
