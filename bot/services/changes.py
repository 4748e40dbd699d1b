"""Applying one change to an incident: fresh state, optimistic-concurrency retries, replies and a root refresh."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified
from sqlalchemy.orm.exc import StaleDataError

from blocks.incident import Message
from bot.db import unit_of_work
from bot.domain.incidents import load_incident
from bot.domain.permissions import Action, Actor
from bot.models import Incident
from bot.services.container import Services
from bot.services.deliveries import first_delivery
from bot.services.names import learn_names_soon
from bot.services.rendering import queue_root_refresh, queue_thread_reply
from bot.services.roles import allow

logger = logging.getLogger(__name__)
ATTEMPTS = 3
T = TypeVar("T")

Change = Callable[[Session, Incident, datetime], list[Message]]


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
    services: Services,
    incident_id: int,
    change: Change,
    *,
    purpose: str,
    actor: Actor,
    action: Action,
    once: str | None = None,
) -> bool:
    """Run `change` on fresh state, queue its replies and a root refresh; retried when someone else changed it first.

    `actor` must be allowed to do `action` on the incident as it is now (NotPermitted otherwise); a change may check
    more (a severity change, a correction of someone's entry). `once` is the identity of the Slack request asking
    for the change (`bot.listeners.replays`): it is recorded in the change's own transaction, so the same request
    arriving again changes nothing and this returns False. Nothing is sent here: callers acknowledge Slack first,
    then `deliver_pending`.
    """

    def attempt() -> bool:
        with unit_of_work(services.session_factory) as session:
            now = services.clock.now()
            if once is not None and not first_delivery(session, once, now):
                logger.info("Request %s was already applied to INC-%s; not again", once, incident_id)
                return False
            incident = load_incident(session, incident_id, services.workspace)
            allow(services, action, actor, incident)
            _hold(session, incident, now)
            replies = change(session, incident, now)
            for reply in replies:
                queue_thread_reply(services, session, incident, reply, purpose)
            queue_root_refresh(services, session, incident)
        return True

    return retry_when_stale(attempt)


def _hold(session: Session, incident: Incident, now: datetime) -> None:
    """Move the incident's version on before changing it or any of its parts, and hold its row until commit.

    The version column guards the incident's own columns only; a change to a workaround, a step or the trail
    alone would not touch the row, and two such changes at once would both start from the same state and one
    would be lost. With the row taken first, the second change waits, finds the version moved on and runs
    again on fresh state (`retry_when_stale`).
    """
    incident.updated_at = now
    flag_modified(incident, "updated_at")  # a new version even when the clock has not moved
    session.flush()


def deliver_pending(services: Services, incident_id: int) -> None:
    """Send what the change queued, soon and off the request's thread; failures stay queued for the tick. Then learn
    the names of the people and channels the incident now names, what was filed on delivery too (for exports and the
    CLI)."""

    def deliver() -> None:
        try:
            services.outbox.deliver_due(incident_id=incident_id)
        finally:
            learn_names_soon(services, incident_id)

    services.background.submit_once(("deliver", incident_id), deliver)
