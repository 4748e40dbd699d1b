"""The outbox: outbound calls stored with the change that caused them, delivered after, retried, never lost."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import Clock
from bot.db import unit_of_work
from bot.integrations.slack import SlackCallError, SlackGateway
from bot.models import Incident, OutboxMessage, OutboxState

logger = logging.getLogger(__name__)

WAIT_FOR_ROOT = timedelta(seconds=2)
ROOT_EDIT = "root_update"
MAX_BACKOFF = timedelta(minutes=15)
ROOT_EDIT_LOCK = 7_100_000_000  # advisory-lock namespace: this + incident id


def enqueue_slack_call(
    *,
    session: Session,
    key: str,
    operation: str,
    args: dict[str, Any],
    purpose: str,
    now: datetime,
    incident_id: int | None = None,
    in_thread: bool = False,
    records_root: bool = False,
    on_root: bool = False,
) -> OutboxMessage:
    """Store a Slack call to make; the same key is stored once, however often it is enqueued.

    `in_thread` posts into the incident's thread once its root message exists; `records_root`
    stores the posted message as the incident's root; `on_root` edits the root message (chat.update),
    and a newer edit of the same root supersedes older ones still waiting.
    """
    existing = session.scalar(select(OutboxMessage).where(OutboxMessage.idempotency_key == key))
    if existing is not None:
        return existing
    message = OutboxMessage(
        idempotency_key=key,
        target="slack",
        operation=operation,
        purpose=purpose,
        payload={"args": args, "in_thread": in_thread, "records_root": records_root, "on_root": on_root},
        incident_id=incident_id,
        state=OutboxState.PENDING,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(message)
    except IntegrityError:
        return session.scalars(select(OutboxMessage).where(OutboxMessage.idempotency_key == key)).one()
    if on_root and incident_id is not None:
        _supersede_older_root_edits(session, incident_id, message.id)
    return message


def _supersede_older_root_edits(session: Session, incident_id: int, newest_id: int) -> None:
    session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.incident_id == incident_id,
            OutboxMessage.purpose == ROOT_EDIT,
            OutboxMessage.state == OutboxState.PENDING,
            OutboxMessage.id < newest_id,
        )
        .values(state=OutboxState.SUPERSEDED)
    )


def backoff(attempts: int, retry_after: float | None) -> timedelta:
    """5 s, 10 s, 20 s … capped at 15 min; Slack's Retry-After wins when it is longer."""
    delay = min(timedelta(seconds=5 * 2 ** max(attempts - 1, 0)), MAX_BACKOFF)
    if retry_after is not None:
        delay = max(delay, timedelta(seconds=retry_after))
    return delay


def undelivered_summary(*, session: Session, incident_id: int) -> list[str]:
    """Human lines about calls for this incident that are still pending or have failed."""
    rows = session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.incident_id == incident_id)
        .where(OutboxMessage.state.in_([OutboxState.PENDING, OutboxState.FAILED]))
        .order_by(OutboxMessage.id)
    )
    lines = []
    for row in rows:
        what = row.purpose.replace("_", " ")
        if row.state == OutboxState.PENDING:
            tail = f" (attempt {row.attempts}, last error: {row.last_error})" if row.attempts else ""
            lines.append(f"Slack {what}: pending — retrying{tail}")
        else:
            lines.append(f"Slack {what}: failed — {row.last_error}")
    return lines


@dataclass
class DeliveryReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    deferred: int = 0


class OutboxDispatcher:
    """Claims due outbox rows one at a time (`FOR UPDATE SKIP LOCKED` on PostgreSQL) and delivers them."""

    def __init__(self, *, session_factory: sessionmaker[Session], slack: SlackGateway, clock: Clock) -> None:
        self.session_factory = session_factory
        self.slack = slack
        self.clock = clock
        # SQLite ignores FOR UPDATE: within one process, a lock keeps two threads from sending one row twice.
        self._local_lock = threading.Lock()
        bind = session_factory.kw.get("bind")
        self._needs_local_lock = bind is not None and bind.dialect.name == "sqlite"

    def deliver_due(self, *, incident_id: int | None = None, limit: int = 200) -> DeliveryReport:
        report = DeliveryReport()
        for _ in range(limit):
            if not self._deliver_one(report, incident_id):
                break
        return report

    def _deliver_one(self, report: DeliveryReport, incident_id: int | None) -> bool:
        if self._needs_local_lock:
            with self._local_lock:
                return self._claim_and_deliver(report, incident_id)
        return self._claim_and_deliver(report, incident_id)

    def _claim_and_deliver(self, report: DeliveryReport, incident_id: int | None) -> bool:
        now = self.clock.now()
        with unit_of_work(self.session_factory) as session:
            query = (
                select(OutboxMessage)
                .where(OutboxMessage.state == OutboxState.PENDING, OutboxMessage.next_attempt_at <= now)
                .order_by(OutboxMessage.id)
                .limit(1)
                .with_for_update(skip_locked=True)
            )
            if incident_id is not None:
                query = query.where(OutboxMessage.incident_id == incident_id)
            row = session.scalar(query)
            if row is None:
                return False
            self._deliver(session, row, now, report)
        return True

    def _deliver(self, session: Session, row: OutboxMessage, now: datetime, report: DeliveryReport) -> None:
        args = dict(row.payload["args"])
        if row.payload.get("in_thread") or row.payload.get("on_root"):
            incident = session.get(Incident, row.incident_id)
            if incident is None or incident.root_ts is None:
                row.next_attempt_at = now + WAIT_FOR_ROOT
                report.deferred += 1
                return
            if row.payload.get("on_root"):
                if self._newer_root_edit_exists(session, row):
                    row.state = OutboxState.SUPERSEDED
                    return
                args.update(channel=incident.channel_id, ts=incident.root_ts)
            else:
                args.update(channel=incident.channel_id, thread_ts=incident.root_ts)
        row.attempts += 1
        try:
            result = self._call_joining_if_needed(row.operation, args)
        except SlackCallError as exc:
            self._record_failure(row, exc, now, report)
            return
        row.state = OutboxState.SENT
        row.sent_at = now
        row.last_error = None
        row.result = {k: result[k] for k in ("channel", "ts") if k in result}
        report.sent += 1
        if row.payload.get("records_root") and row.incident_id is not None:
            # Delivery metadata, not a domain change: a Core update leaves the incident's version alone.
            session.execute(
                update(Incident)
                .where(Incident.id == row.incident_id)
                .values(root_ts=result.get("ts"), channel_id=result.get("channel", args.get("channel")))
            )

    def _newer_root_edit_exists(self, session: Session, row: OutboxMessage) -> bool:
        """Root edits of one incident go out one at a time, and only the newest is worth sending."""
        if session.get_bind().dialect.name == "postgresql":
            session.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": ROOT_EDIT_LOCK + (row.incident_id or 0)}
            )
        newer = session.scalar(
            select(OutboxMessage.id)
            .where(
                OutboxMessage.incident_id == row.incident_id,
                OutboxMessage.purpose == ROOT_EDIT,
                OutboxMessage.id > row.id,
                OutboxMessage.state.in_([OutboxState.PENDING, OutboxState.SENT]),
            )
            .limit(1)
        )
        return newer is not None

    def _call_joining_if_needed(self, operation: str, args: dict[str, Any]) -> dict[str, Any]:
        """Posting in a public channel the bot is not in: join it, then post."""
        try:
            return self.slack.call(operation, args)
        except SlackCallError as exc:
            if exc.error != "not_in_channel" or "channel" not in args:
                raise
            self.slack.call("conversations.join", {"channel": args["channel"]})
            return self.slack.call(operation, args)

    def _record_failure(self, row: OutboxMessage, exc: SlackCallError, now: datetime, report: DeliveryReport) -> None:
        row.last_error = str(exc)
        if exc.retryable:
            row.next_attempt_at = now + backoff(row.attempts, exc.retry_after)
            report.retrying += 1
            logger.warning("Slack %s for outbox %s failed (%s); retrying", row.operation, row.id, exc.error)
        else:
            row.state = OutboxState.FAILED
            report.failed += 1
            logger.error("Slack %s for outbox %s failed for good: %s", row.operation, row.id, exc)
