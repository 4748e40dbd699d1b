"""Applying one change to an incident: fresh state, optimistic-concurrency retries, replies and a root refresh."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from bot.blocks.incident import Message
from bot.db import unit_of_work
from bot.domain.incidents import find_incident
from bot.domain.permissions import Action, Actor
from bot.models import Incident
from bot.services.container import Services
from bot.services.rendering import queue_root_refresh, queue_thread_reply
from bot.services.roles import allow

logger = logging.getLogger(__name__)
ATTEMPTS = 3
T = TypeVar("T")

Change = Callable[[Session, Incident, datetime], list[Message]]


def load_incident(session: Session, incident_id: int, workspace: str | None = None) -> Incident:
    """The incident, if a request from `workspace` may see it; IncidentNotFound otherwise."""
    return find_incident(session, incident_id, workspace=workspace)


def retry_when_stale(work: Callable[[], T]) -> T:
    """Run `work` (one unit of work) again when someone else changed the incident first (optimistic version)."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return work()
        except StaleDataError:
            if attempt == ATTEMPTS:
                raise
            logger.info("An incident changed concurrently; retrying (%s)", attempt)
    raise AssertionError("unreachable")


def apply_change(
    services: Services, incident_id: int, change: Change, *, purpose: str, actor: Actor, action: Action
) -> None:
    """Run `change` on fresh state, queue its replies and a root refresh; retried when someone else changed it first.

    `actor` must be allowed to do `action` on the incident as it is now (NotPermitted otherwise); a change may check
    more (a severity change, a correction of someone's entry). Nothing is sent here: callers acknowledge Slack
    first, then `deliver_pending`.
    """

    def attempt() -> None:
        with unit_of_work(services.session_factory) as session:
            incident = load_incident(session, incident_id, services.workspace)
            allow(services, action, actor, incident)
            replies = change(session, incident, services.clock.now())
            for reply in replies:
                queue_thread_reply(services, session, incident, reply, purpose)
            queue_root_refresh(services, session, incident)

    retry_when_stale(attempt)


def deliver_pending(services: Services, incident_id: int) -> None:
    """Send what the change queued, soon and off the request's thread; failures stay queued for the tick."""
    services.background.submit_once(
        ("deliver", incident_id), lambda: services.outbox.deliver_due(incident_id=incident_id)
    )
