"""What a delivered outbox row means, told to the use case that queued it: a registry keyed by purpose.

The outbox knows no use case. At start-up (bot.services.wiring) each use case registers a handler for the purposes
it queues; after every attempt (sent, retrying, or failed for good) the outbox calls the handler of the row's
purpose in the delivering transaction, so what the delivery achieved is recorded atomically with it.
"""

from __future__ import annotations

import enum
from collections.abc import Callable

from sqlalchemy.orm import Session

from bot.models import OutboxMessage

OutcomeHandler = Callable[[Session, OutboxMessage], None]


class DeliveryPurpose(enum.StrEnum):
    """Purposes whose delivery outcome a use case records (others are fire-and-forget messages)."""

    ROOT_MESSAGE = "root_message"  # posted: ask for its permalink
    ROOT_PERMALINK = "root_permalink"  # the link to the incident's thread, kept for tickets and notices
    INTERNAL_NOTICE = "internal_notice"
    NOTICE_PERMALINK = "notice_permalink"  # the link to the internal notice, for the summary and exports
    ENGINEERING_TICKET = "engineering_ticket"
    PRODUCT_FEEDBACK_TICKET = "product_feedback_ticket"
    TICKET_FILES = "ticket_files"  # the thread's files attached to a Jira ticket
    FOLLOW_UP_TICKET = "follow_up_ticket"


class DuplicateOutcomeHandler(ValueError):
    """A purpose gets one handler: two would each record the outcome."""


class DeliveryOutcomes:
    """One handler per purpose, registered at start-up; rows of other purposes have nothing to record."""

    def __init__(self) -> None:
        self._handlers: dict[DeliveryPurpose, OutcomeHandler] = {}

    def register(self, purpose: DeliveryPurpose, handler: OutcomeHandler) -> None:
        if purpose in self._handlers:
            raise DuplicateOutcomeHandler(f"{purpose.value} already has an outcome handler")
        self._handlers[purpose] = handler

    @property
    def purposes(self) -> frozenset[DeliveryPurpose]:
        return frozenset(self._handlers)

    def __call__(self, session: Session, row: OutboxMessage) -> None:
        try:
            purpose = DeliveryPurpose(row.purpose)
        except ValueError:
            return
        handler = self._handlers.get(purpose)
        if handler is not None:
            handler(session, row)
