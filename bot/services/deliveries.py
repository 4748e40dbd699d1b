"""The record of Slack requests already acted on (`slack_deliveries`), keyed by each request's identity."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from bot.db import insert_once, unit_of_work
from bot.models import SlackDelivery
from bot.services.container import Services

logger = logging.getLogger(__name__)


def first_delivery(session: Session, key: str, now: datetime) -> bool:
    """Record the request `key` in `session`'s transaction; False when it is recorded already.

    "Already" includes a delivery whose transaction is still open: the insert waits for it, and finds the key
    once that one commits — or records it, should that one roll back. Recorded in the same transaction as the
    request's effect, the key is kept exactly when the effect is.
    """
    _, created = insert_once(session, SlackDelivery(key=key, received_at=now), match=SlackDelivery.key == key)
    return created


def first_time_received(services: Services, key: str) -> bool:
    """Record the request `key` on its own (an event, acted on after it is acknowledged): False when it was recorded
    before. When the record can't be made (database unreachable) the request counts as new: better handled twice
    than never."""
    try:
        with unit_of_work(services.session_factory) as session:
            return first_delivery(session, key, services.clock.now())
    except SQLAlchemyError:
        logger.warning("Could not record delivery %s; handling it anyway", key)
        return True
