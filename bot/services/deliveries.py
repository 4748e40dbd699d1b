"""The record of Slack requests already acted on (`slack_deliveries`), keyed by each request's identity."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from bot.db import insert_once
from bot.models import SlackDelivery


def first_delivery(session: Session, key: str, now: datetime) -> bool:
    """Record the request `key` in `session`'s transaction; False when it is recorded already.

    "Already" includes a delivery whose transaction is still open: the insert waits for it, and finds the key
    once that one commits — or records it, should that one roll back. Recorded in the same transaction as the
    request's effect, the key is kept exactly when the effect is.
    """
    _, created = insert_once(session, SlackDelivery(key=key, received_at=now), match=SlackDelivery.key == key)
    return created
