"""Global middleware: hand services to listeners; acknowledge, without redoing, Slack's retried events."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import BoltContext, BoltRequest, BoltResponse
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from bot.db import unit_of_work
from bot.models import SlackDelivery
from bot.services.container import Services

logger = logging.getLogger(__name__)


def services_of(context: BoltContext) -> Services:
    services: Services = context["services"]
    return services


def inject_services(services: Services) -> Callable[..., Any]:
    def middleware(context: BoltContext, next: Callable[[], None]) -> None:
        context["services"] = services
        next()

    return middleware


def delivery_key(body: dict[str, Any]) -> str | None:
    """A key that is the same for every delivery of one Events API event."""
    if body.get("type") == "event_callback" and body.get("event_id"):
        return f"event:{body['event_id']}"
    return None


def skip_repeated_events(services: Services) -> Callable[..., Any]:
    """Slack re-delivers an event it thinks timed out; the first delivery is the one we act on."""

    def middleware(req: BoltRequest, body: dict[str, Any], next: Callable[[], None]) -> BoltResponse | None:
        key = delivery_key(body)
        if key is None:
            next()
            return None
        try:
            with unit_of_work(services.session_factory) as session:
                session.add(SlackDelivery(key=key, received_at=services.clock.now()))
        except IntegrityError:
            retry = req.headers.get("x-slack-retry-num", ["?"])[0]
            logger.info("Ignoring repeated delivery %s (retry %s)", key, retry)
            return BoltResponse(status=200, body="")
        except SQLAlchemyError:
            logger.warning("Could not record delivery %s; handling it anyway", key)
        next()
        return None

    return middleware
