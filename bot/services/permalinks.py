"""The link to an incident's thread: asked of Slack once its root message is posted, kept for tickets and notices."""

from __future__ import annotations

from functools import partial

from sqlalchemy.orm import Session

from bot.integrations.delivery_outcomes import DeliveryOutcomes, DeliveryPurpose
from bot.integrations.outbox import enqueue_slack_call
from bot.models import Incident, OutboxMessage, OutboxState
from bot.services.container import Services


def ask_for_permalink(services: Services, session: Session, row: OutboxMessage) -> None:
    """The root message is posted: queue chat.getPermalink for it."""
    incident = session.get(Incident, row.incident_id) if row.incident_id is not None else None
    if incident is None or row.state != OutboxState.SENT or not row.result:
        return
    enqueue_slack_call(
        session=session,
        key=f"{incident.key}:permalink",
        operation="chat.getPermalink",
        args={"channel": row.result.get("channel"), "message_ts": row.result.get("ts")},
        purpose=DeliveryPurpose.ROOT_PERMALINK,
        now=services.clock.now(),
        incident_id=incident.id,
    )


def keep_permalink(session: Session, row: OutboxMessage) -> None:
    incident = session.get(Incident, row.incident_id) if row.incident_id is not None else None
    if incident is not None and row.state == OutboxState.SENT and row.result:
        incident.root_permalink = row.result.get("permalink")


def register_outcomes(services: Services, outcomes: DeliveryOutcomes) -> None:
    outcomes.register(DeliveryPurpose.ROOT_MESSAGE, partial(ask_for_permalink, services))
    outcomes.register(DeliveryPurpose.ROOT_PERMALINK, keep_permalink)
