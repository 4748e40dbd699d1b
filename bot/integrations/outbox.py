"""The outbox: outbound calls stored with the change that caused them, delivered after, retried, never lost."""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, delete, or_, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import Clock
from bot.db import insert_once, unit_of_work
from bot.integrations.delivery_outcomes import DeliveryOutcomes
from bot.integrations.jira_tracker import RECONCILE_LIMIT, JiraTracker, TicketRequest, TrackerError
from bot.integrations.rate_budgets import Budget, Pacing, RateBudgets, Wait, budgets_for, lane_of
from bot.integrations.slack import (
    NOT_ON_SLACK_FILE_HOST,
    SlackCallError,
    SlackGateway,
    check_operation,
    paced_by_outbox,
)
from bot.integrations.slack_limits import PER_CHANNEL_METHODS
from bot.integrations.workspaces import SlackWorkspaces
from bot.models import Incident, JiraTicket, OutboxMessage, OutboxSend, OutboxState
from bot.observability.metrics import observe_delivery_wait, observe_rate_limited
from bot.observability.workspace_load import WorkspaceLoad

logger = logging.getLogger(__name__)
FILE_OUTCOMES = ("attached", "linked", "skipped")  # what became of each file of a thread handed to Jira

ROOT_EDIT = "root_update"
# Which due call goes first (1 first): a new incident's root message, its on-call page and acknowledgement re-pages
# before anything else; routine check-ins, reminders and report charts last. Others are 5.
URGENT, NORMAL, ROUTINE = 1, 5, 8
PRIORITIES: dict[str, int] = {
    "root_message": URGENT,
    "oncall_page": URGENT,
    "ack_escalation": URGENT,
    "ack_escalation_channel": URGENT,
    "environment_reply": 2,
    ROOT_EDIT: 3,
    "checkin": ROUTINE,
    "timebox_end": ROUTINE,
    "update_due": ROUTINE,
    "deadline_reminder": ROUTINE,
    "report": ROUTINE,
    "report_charts": ROUTINE + 1,
}
POST_EVENT = "triage_bot_outbox"  # metadata event_type of every post; its payload carries the outbox key
# A post looked up after a crash is searched for in one read of the messages from LOOK_BACK before the attempt
# (clocks differ) to LOOK_AHEAD after it (the attempt's own timeouts and retries end well within it).
LOOK_BACK = timedelta(minutes=1)
LOOK_AHEAD = timedelta(minutes=1)
MAX_BACKOFF = timedelta(minutes=15)
# After a create whose answer was lost, Jira may have filed the issue and its (eventually consistent) search may not
# show it yet: the ticket is not filed again until this long after that attempt.
UNANSWERED_CREATE_WAIT = timedelta(minutes=2)
NO_JIRA = "Jira is not configured (JIRA_URL, JIRA_USER, JIRA_API_TOKEN)"
# The Jira handoff reads at most this many pages of the thread for files (a distributed app reads 15 messages a
# minute); beyond them the ticket and the thread say which messages were read.
MAX_THREAD_PAGES = 4
RESULT_KEYS = (
    "channel",
    "ts",
    "key",
    "url",
    "permalink",
    "attached",
    "linked",
    "skipped",
    "note",
    "read",
    "complete",
)
UTC_ZONE = ZoneInfo("UTC")
INCIDENT_LOCK = 7_100_000_000  # advisory-lock namespace: this + incident id


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
    reply_to: str | None = None,
    edit_of: str | None = None,
    needs_key_of: str | None = None,
    target: str = "slack",
    fresh_key: bool = False,
    workspace: str | None = None,
) -> OutboxMessage:
    """Store a Slack call to make; the same key is stored once, however often it is enqueued.

    `in_thread` posts into the incident's thread once its root message exists; `records_root`
    stores the posted message as the incident's root; `on_root` edits the root message (chat.update),
    and a newer edit of the same root supersedes older ones still waiting. `reply_to` posts in the thread
    of another outbox message (by key) once that one is sent; `edit_of` edits (chat.update) the message another
    outbox message (by key) posted, once it is posted; `needs_key_of` passes the ticket key another
    (Jira) outbox message produced as `key`. `target` is "slack" or "jira". `fresh_key` says the key was
    just made unique (a uuid), so there is nothing to look up before inserting. `workspace` says whose token sends
    a call that belongs to no incident (an incident's calls go out with its workspace's). A Slack `operation` must
    be one the gateway has a typed call for (UnknownSlackOperation otherwise).
    """
    if target == "slack":
        check_operation(operation)
    message = OutboxMessage(
        priority=PRIORITIES.get(purpose, NORMAL),
        lane=_lane(session, target, operation, args, incident_id, workspace, in_thread or on_root or records_root),
        idempotency_key=key,
        target=target,
        operation=operation,
        purpose=purpose,
        payload={
            "args": args,
            "in_thread": in_thread,
            "records_root": records_root,
            "on_root": on_root,
            "reply_to": reply_to,
            "edit_of": edit_of,
            "needs_key_of": needs_key_of,
            "workspace": workspace,
        },
        incident_id=incident_id,
        state=OutboxState.PENDING,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    if fresh_key:
        session.add(message)
        return message
    return insert_once(session, message, match=OutboxMessage.idempotency_key == key)[0]


def _lane(
    session: Session,
    target: str,
    operation: str,
    args: dict[str, Any],
    incident_id: int | None,
    workspace: str | None,
    in_incident_channel: bool,
) -> str | None:
    """The channel budget a Slack post or edit is paced by (its workspace and channel), when it has one."""
    if target != "slack" or operation not in PER_CHANNEL_METHODS:
        return None
    incident = session.get(Incident, incident_id) if incident_id is not None else None
    channel = incident.channel_id if incident is not None and in_incident_channel else args.get("channel")
    if not isinstance(channel, str) or not channel:
        return None
    return lane_of(incident.team_id if incident is not None else workspace, channel)


def request_root_refresh(*, session: Session, incident_id: int, key: str, now: datetime) -> None:
    """Ask for the incident's root message to be re-rendered from stored state when the edit is delivered.

    The message is rendered by the dispatcher, so one waiting edit serves every change committed before it goes
    out. On PostgreSQL a waiting edit that no dispatcher holds is locked and reused: it cannot be sent before this
    transaction commits, so it will show this change. One that is being sent right now is skipped (SKIP LOCKED)
    and a new edit is queued; the older one is superseded when delivered. SQLite has no row locks, so there every
    request queues an edit and the dispatcher sends only the newest.
    """
    if session.get_bind().dialect.name == "postgresql":
        waiting = session.scalar(
            select(OutboxMessage.id)
            .where(
                OutboxMessage.incident_id == incident_id,
                OutboxMessage.purpose == ROOT_EDIT,
                OutboxMessage.state == OutboxState.PENDING,
            )
            .order_by(OutboxMessage.id.desc())
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        if waiting is not None:
            return
    enqueue_slack_call(
        session=session,
        key=key,
        operation="chat.update",
        args={},
        purpose=ROOT_EDIT,
        now=now,
        incident_id=incident_id,
        on_root=True,
        fresh_key=True,
    )
    session.flush()  # a later request in this transaction finds (and reuses) this row


def backoff(attempts: int, retry_after: float | None) -> timedelta:
    """5 s, 10 s, 20 s … capped at 15 min; Slack's Retry-After wins when it is longer."""
    delay = min(timedelta(seconds=5 * 2 ** max(attempts - 1, 0)), MAX_BACKOFF)
    if retry_after is not None:
        delay = max(delay, timedelta(seconds=retry_after))
    return delay


def undelivered_summary(
    *, session: Session, incident_id: int, now: datetime | None = None, zone: ZoneInfo = UTC_ZONE
) -> list[str]:
    """Human lines about calls for this incident that are still pending (or waiting for Slack's rate limit, and
    until when) or have failed."""
    rows = session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.incident_id == incident_id)
        .where(OutboxMessage.state.in_([OutboxState.PENDING, OutboxState.FAILED]))
        .order_by(OutboxMessage.id)
    )
    now = now or datetime.now(UTC_ZONE)
    lines = []
    for row in rows:
        what = row.purpose.replace("_", " ")
        system = "Jira" if row.target == "jira" else "Slack"
        if row.state == OutboxState.PENDING and row.limited_until is not None and row.limited_until > now:
            until = row.limited_until.astimezone(zone).strftime("%H:%M:%S %Z")
            lines.append(f"{system} {what}: waiting for Slack's rate limit until {until}")
        elif row.state == OutboxState.PENDING:
            tail = f" (attempt {row.attempts}, last error: {row.last_error})" if row.attempts else ""
            lines.append(f"{system} {what}: pending — retrying{tail}")
        else:
            lines.append(f"{system} {what}: failed — {row.last_error}")
    return lines


class _NotYet(Exception):
    """What this call depends on has not been delivered yet."""


class _Superseded(Exception):
    """This call is no longer worth making."""


class _Unreachable(Exception):
    """What this call depends on failed for good, so this one can never be made."""


@dataclass
class DeliveryReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    deferred: int = 0
    claimed: int = 0  # rows looked at: a pass that claimed its whole limit may have left due rows behind
    last: tuple[int, int] = (0, 0)  # (priority, id) of the last row looked at: where the next pass goes on from
    limited: int = 0  # calls put off because their rate budget was spent (also counted in `deferred`)

    @property
    def busy(self) -> bool:
        return bool(self.sent or self.retrying or self.failed)


class OutboxDispatcher:
    """Claims due outbox rows one at a time (`FOR UPDATE SKIP LOCKED` on PostgreSQL) and delivers them."""

    def __init__(
        self,
        *,
        session_factory: sessionmaker[Session],
        workspaces: SlackWorkspaces,
        clock: Clock,
        jira: JiraTracker | None = None,
        outcomes: DeliveryOutcomes | None = None,
        pacing: Pacing | None = None,
        render_root: Callable[[Session, Incident], dict[str, Any]] | None = None,
    ) -> None:
        self.session_factory = session_factory
        self.workspaces = workspaces  # each row is delivered with the token of its incident's workspace
        self.jira = jira
        self.clock = clock
        # Told in the delivering transaction after every attempt (sent, retrying, or failed for good), so the
        # use case that queued the row records what it means (an escalation filed or pending, a permalink known)
        # atomically with it. Use cases register their handlers by purpose at start-up (bot.services.wiring).
        self.outcomes = outcomes or DeliveryOutcomes()
        # Slack calls are paced before Slack has to refuse them, by budgets every replica shares (rate_budgets).
        # Renders the incident's root message (text and blocks) from stored state when a root edit goes out, so
        # the edit shows everything committed by then; without it, the arguments queued with the edit are sent.
        self.render_root = render_root
        # SQLite ignores FOR UPDATE: within one process, a lock keeps two threads from sending one row twice.
        self._local_lock = threading.Lock()
        bind = session_factory.kw.get("bind")
        assert isinstance(bind, Engine), "the session factory is bound to an engine"
        self._engine = bind
        self._needs_local_lock = bind.dialect.name == "sqlite"
        self.budgets = RateBudgets(bind, pacing)
        self.workspace_load = WorkspaceLoad(session_factory)  # busy or quiet, for the delivery-wait metric
        # The time rate budgets refill by: Slack's, which is the bot's clock in production (the end-to-end tests
        # give it Slack's time, as the emulator keeps it, while the bot's own clock stands still).
        self.pace_clock: Callable[[], datetime] = self.clock.now
        # Only PostgreSQL can commit the send record beside a delivery in flight; SQLite runs one replica, and a
        # restart after a crash there may post a message a second time.
        self._records_sends = bind.dialect.name == "postgresql"

    def deliver_due(
        self, *, incident_id: int | None = None, limit: int = 200, after: tuple[int, int] = (0, 0)
    ) -> DeliveryReport:
        """One pass over due rows, the most urgent first, then in id order (from `after`, a (priority, id) cursor);
        a row waiting for another stays due for later."""
        report = DeliveryReport(last=after)
        for _ in range(limit):
            delivered = self._deliver_one(report, incident_id, report.last)
            if delivered is None:
                break
            report.claimed += 1
            report.last = delivered
        return report

    def _deliver_one(
        self, report: DeliveryReport, incident_id: int | None, after: tuple[int, int]
    ) -> tuple[int, int] | None:
        if self._needs_local_lock:
            with self._local_lock:
                return self._claim_and_deliver(report, incident_id, after)
        return self._claim_and_deliver(report, incident_id, after)

    def _claim_and_deliver(
        self, report: DeliveryReport, incident_id: int | None, after: tuple[int, int]
    ) -> tuple[int, int] | None:
        """Deliver the next due row after `after`; its (priority, id), or None when there is none."""
        now = self.clock.now()
        paced_at = self.pace_clock()
        with unit_of_work(self.session_factory) as session:
            query = (
                select(OutboxMessage)
                .where(OutboxMessage.state == OutboxState.PENDING, OutboxMessage.next_attempt_at <= now)
                .where(or_(OutboxMessage.limited_until.is_(None), OutboxMessage.limited_until <= paced_at))
                .where(tuple_(OutboxMessage.priority, OutboxMessage.id) > tuple_(*after))
                .order_by(OutboxMessage.priority, OutboxMessage.id)
                .limit(1)
                .with_for_update(skip_locked=True)
            )
            if incident_id is not None:
                query = query.where(OutboxMessage.incident_id == incident_id)
            row = session.scalar(query)
            if row is None:
                return None
            self._deliver(session, row, now, report)
            return row.priority, row.id

    def _deliver(self, session: Session, row: OutboxMessage, now: datetime, report: DeliveryReport) -> None:
        try:
            args = self._resolve_args(session, row)
        except _NotYet:
            report.deferred += 1
            return
        except _Superseded:
            row.state = OutboxState.SUPERSEDED
            return
        except _Unreachable as exc:
            row.state, row.last_error = OutboxState.FAILED, str(exc)
            report.failed += 1
            return
        budgets = self._budgets_of(session, row, args)
        paced_at = self.pace_clock()
        wait = self.budgets.take(budgets, paced_at) if budgets else None
        if wait is not None:
            self._wait_for_limit(session, row, wait)
            report.deferred += 1
            report.limited += 1
            return
        if row.payload.get("on_root") and self.render_root is not None:
            # Rendered only once the edit may go out: one refused by a spent budget costs no rendering.
            args = self._rendered_root(session, row, args)
        row.attempts += 1
        try:
            with paced_by_outbox():
                result = self._call(session, row, args, now, self._slack_for(session, row))
        except (SlackCallError, TrackerError) as exc:
            if isinstance(exc, SlackCallError) and exc.error == "ratelimited" and exc.retry_after:
                self.budgets.pause(budgets, paced_at + timedelta(seconds=exc.retry_after), paced_at)
                observe_rate_limited(row.operation)
            self._record_failure(row, exc, now, report)
            if row.state == OutboxState.FAILED:
                self._forget_send(session, row)
            self.outcomes(session, row)
            return
        self._forget_send(session, row)
        row.state = OutboxState.SENT
        row.sent_at = now
        row.limited_until = None
        load = self.workspace_load.class_of(self._team_of(session, row))
        observe_delivery_wait(load, row.priority, (now - row.created_at).total_seconds())
        row.last_error = None
        row.result = {k: result[k] for k in RESULT_KEYS if k in result}
        report.sent += 1
        if row.payload.get("records_root") and row.incident_id is not None:
            # Delivery metadata, not a domain change: a Core update leaves the incident's version alone.
            session.execute(
                update(Incident)
                .where(Incident.id == row.incident_id)
                .values(root_ts=result.get("ts"), channel_id=result.get("channel", args.get("channel")))
            )
        self.outcomes(session, row)

    def _resolve_args(self, session: Session, row: OutboxMessage) -> dict[str, Any]:
        """Fill in what was unknown when the call was queued: the root's ts, another message's thread or key."""
        args = dict(row.payload["args"])
        payload = row.payload
        if payload.get("in_thread") or payload.get("on_root"):
            incident = session.get(Incident, row.incident_id)
            if incident is None:
                raise _Superseded
            if incident.root_ts is None:
                self._raise_if_root_failed(session, incident)
                raise _NotYet
            self._lock_incident(session, incident.id)
            if payload.get("on_root"):
                if self._newer_root_edit_exists(session, row):
                    raise _Superseded
                args.update(channel=incident.channel_id, ts=incident.root_ts)
            else:
                if row.target == "slack" and self._earlier_reply_pending(session, row):
                    raise _NotYet
                args.update(channel=incident.channel_id, thread_ts=incident.root_ts)
        if payload.get("reply_to"):
            parent = self._sent_result(session, payload["reply_to"])
            args.update(channel=parent["channel"], thread_ts=parent["ts"])
        if payload.get("edit_of"):
            posted = self._sent_result(session, payload["edit_of"])
            args.update(channel=posted["channel"], ts=posted["ts"])
        if payload.get("needs_key_of"):
            args["key"] = self._sent_result(session, payload["needs_key_of"])["key"]
        return args

    def _rendered_root(self, session: Session, row: OutboxMessage, args: dict[str, Any]) -> dict[str, Any]:
        """The root message as stored state shows it now, to replace the message at `args`' channel and ts."""
        assert self.render_root is not None
        incident = session.get(Incident, row.incident_id)
        assert incident is not None, "resolved before: a root edit of a missing incident is superseded"
        return {**self.render_root(session, incident), "channel": args["channel"], "ts": args["ts"]}

    def _raise_if_root_failed(self, session: Session, incident: Incident) -> None:
        root = session.scalar(select(OutboxMessage).where(OutboxMessage.idempotency_key == f"{incident.key}:root"))
        if root is not None and root.state == OutboxState.FAILED:
            raise _Unreachable(f"the incident's root message could not be posted: {root.last_error}")

    def _sent_result(self, session: Session, key: str) -> dict[str, Any]:
        parent = session.scalar(select(OutboxMessage).where(OutboxMessage.idempotency_key == key))
        if parent is None or parent.state == OutboxState.FAILED:
            raise _Superseded  # what it depends on will never exist
        if parent.state != OutboxState.SENT or not parent.result:
            raise _NotYet
        return parent.result

    def _budgets_of(self, session: Session, row: OutboxMessage, args: dict[str, Any]) -> list[Budget]:
        """The rate budgets a Slack call takes a token from (none for Jira)."""
        if row.target != "slack":
            return []
        channel = args.get("channel")
        return budgets_for(
            self.budgets.pacing,
            self._team_of(session, row),
            row.operation,
            channel if isinstance(channel, str) else None,
        )

    def _team_of(self, session: Session, row: OutboxMessage) -> str | None:
        """The workspace the call speaks for: its incident's, else the one it was queued for."""
        incident = session.get(Incident, row.incident_id) if row.incident_id is not None else None
        return incident.team_id if incident is not None else row.payload.get("workspace")

    def _wait_for_limit(self, session: Session, row: OutboxMessage, wait: Wait) -> None:
        """Put this call off until its budget has a token, and with it every other waiting call that budget holds
        back: the same method in the same channel when the channel's budget ran out, the same method in the whole
        workspace when its tier did. A busy backlog is then not walked call by call, and calls another budget would
        let through are never held. `/triage show` says until when."""
        ready_at = row.limited_until = wait.until
        if row.lane is None:
            return
        held = OutboxMessage.lane == row.lane
        if not wait.channel_spent:
            held = OutboxMessage.lane.startswith(row.lane.split(":", 1)[0] + ":", autoescape=True)
        others = (
            select(OutboxMessage.id)
            .where(held, OutboxMessage.operation == row.operation, OutboxMessage.state == OutboxState.PENDING)
            .where(or_(OutboxMessage.limited_until.is_(None), OutboxMessage.limited_until < ready_at))
            .where(OutboxMessage.id != row.id)
            .with_for_update(skip_locked=True)
        )
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(others.scalar_subquery()))
            .values(limited_until=ready_at)
            .execution_options(synchronize_session=False)
        )

    def _slack_for(self, session: Session, row: OutboxMessage) -> SlackGateway | None:
        """The gateway of the row's workspace, or None for a Jira call that reads nothing from Slack."""
        if row.target == "jira" and row.operation != "attach_thread_files":
            return None
        return self.workspaces.gateway(self._team_of(session, row))

    def _call(
        self, session: Session, row: OutboxMessage, args: dict[str, Any], now: datetime, slack: SlackGateway | None
    ) -> dict[str, Any]:
        if row.target == "jira" and row.operation == "attach_thread_files":
            assert slack is not None
            return self._attach_thread_files(slack, row, args)
        if row.target == "jira" and row.operation == "create_ticket":
            return self._file_ticket(session, args, now)
        if row.target == "jira":
            return self._call_jira(row.operation, args)
        assert slack is not None
        if row.operation == "chat.postMessage" and self._records_sends:
            return self._post_once(slack, session, row, args, now)
        return _call_joining_if_needed(slack, row.operation, args)

    def _post_once(
        self, slack: SlackGateway, session: Session, row: OutboxMessage, args: dict[str, Any], now: datetime
    ) -> dict[str, Any]:
        """Post, unless an earlier attempt's post reached Slack before its process died: then that one is used.

        Before calling Slack the attempt is recorded (`outbox_sends`) on a connection of its own, so the record
        survives a crash that rolls the delivery back; the post carries the outbox key in its metadata.
        """
        args = {**args, "metadata": {"event_type": POST_EVENT, "event_payload": {"outbox_key": row.idempotency_key}}}
        earlier = session.get(OutboxSend, row.id)
        if earlier is not None:
            found = _earlier_post(slack, row.idempotency_key, args, earlier.started_at)
            if found is not None:
                logger.warning(
                    "Outbox %s was already posted by an attempt that did not finish; not posting again", row.id
                )
                return {"ok": True, "channel": args["channel"], "ts": found["ts"]}
        self._record_send(row.id, now)
        try:
            return _call_joining_if_needed(slack, "chat.postMessage", args)
        except SlackCallError as exc:
            if exc.refused:  # Slack said no (e.g. 429): nothing was posted, so the next attempt need not look
                session.execute(delete(OutboxSend).where(OutboxSend.outbox_id == row.id))
            raise

    def _record_send(self, outbox_id: int, now: datetime) -> None:
        """Committed at once on its own connection (PostgreSQL), whatever becomes of the delivering transaction."""
        values = {"outbox_id": outbox_id, "started_at": now, "worker": f"{socket.gethostname()}:{os.getpid()}"}
        statement = pg_insert(OutboxSend).values(**values)
        statement = statement.on_conflict_do_update(index_elements=["outbox_id"], set_=values)
        with self._engine.begin() as connection:
            connection.execute(statement)

    def _forget_send(self, session: Session, row: OutboxMessage) -> None:
        if self._records_sends and row.operation == "chat.postMessage":
            session.execute(delete(OutboxSend).where(OutboxSend.outbox_id == row.id))

    def _attach_thread_files(self, slack: SlackGateway, row: OutboxMessage, args: dict[str, Any]) -> dict[str, Any]:
        """Files shared in the incident's thread go to the Jira issue: attached, or linked when that can't be done
        (skipped when not on Slack's file host).

        The thread is read a page at a time, at most MAX_THREAD_PAGES pages. Each file handled and each page read
        is remembered on the row, so a retry (after a 429, say) goes on where it stopped and never attaches a file
        twice. When the thread is longer, the ticket gets a comment saying which messages were read.
        """
        jira = self._require_jira()
        done: dict[str, str] = dict(row.payload.get("done") or {})
        read = dict(row.payload.get("read") or {"cursor": "", "pages": 0, "replies": 0, "complete": False})
        while not read["complete"] and read["pages"] < MAX_THREAD_PAGES:
            page = slack.thread_files_page(args["channel"], args["thread_ts"], read["cursor"])
            for shared in page.files:
                if shared.get("id") in done or not shared.get("url_private"):
                    continue
                done[shared["id"]] = self._attach_or_link(slack, args["key"], shared)
                row.payload = {**row.payload, "done": done}
            read = {"cursor": page.cursor, "pages": read["pages"] + 1, "replies": read["replies"] + page.replies}
            read["complete"] = not page.cursor
            row.payload = {**row.payload, "read": read}
        messages = read["replies"] + 1  # and the thread's first message
        if not read["complete"] and not row.payload.get("noted"):
            jira.add_comment(args["key"], partial_thread_note(messages))
            row.payload = {**row.payload, "noted": True}
        counts = {how: sum(1 for done_how in done.values() if done_how == how) for how in FILE_OUTCOMES}
        return {"key": args["key"], **counts, "read": messages, "complete": read["complete"]}

    def _attach_or_link(self, slack: SlackGateway, key: str, shared: dict[str, Any]) -> str:
        """`attached`, `linked` (too large or refused by Jira), or `skipped`: not on Slack's file host, so not
        fetched (the bot token goes nowhere else) and not linked (its URL is whatever the file's app said)."""
        assert self.jira is not None
        name = str(shared.get("name") or shared["id"])
        try:
            self.jira.attach(key, name, slack.download(shared["url_private"]))
            return "attached"
        except SlackCallError as exc:
            if exc.error == NOT_ON_SLACK_FILE_HOST:
                return "skipped"
            if exc.retryable:
                raise
        except TrackerError as exc:
            if exc.retryable:
                raise
        self.jira.add_remote_link(key, str(shared.get("permalink") or shared["url_private"]), f"Slack file: {name}")
        return "linked"

    def _require_jira(self) -> JiraTracker:
        if self.jira is None:
            raise TrackerError(NO_JIRA, retryable=False)
        return self.jira

    def _call_jira(self, operation: str, args: dict[str, Any]) -> dict[str, Any]:
        jira = self._require_jira()
        if operation == "add_comment":
            jira.add_comment(args["key"], args["body"])
        elif operation == "add_remote_link":
            jira.add_remote_link(args["key"], args["url"], args["title"])
        else:
            raise TrackerError(f"unknown Jira operation {operation}", retryable=False)
        return {"key": args["key"]}

    def _file_ticket(self, session: Session, args: dict[str, Any], now: datetime) -> dict[str, Any]:
        """File a Jira issue once: the key we kept when Jira answered comes first, Jira's search second (it is
        eventually consistent), and after a create whose answer was lost, a wait before filing again."""
        jira = self._require_jira()
        request = TicketRequest(**{**args, "labels": tuple(args.get("labels", ()))})
        kept = session.get(JiraTicket, request.dedupe_label)
        if kept is not None and kept.key:
            return {"key": kept.key, "url": jira.issue_url(kept.key)}
        found = jira.find_by_label(request.dedupe_label, reconcile=self._known_issue_ids(session, request.project))
        if found is not None:
            self._keep_ticket(session, request, key=found.key, issue_id=found.id, filed_at=now)
            return {"key": found.key, "url": found.url}
        if kept is not None and kept.attempted_at is not None and now < kept.attempted_at + UNANSWERED_CREATE_WAIT:
            wait = (kept.attempted_at + UNANSWERED_CREATE_WAIT - now).total_seconds()
            message = (
                f"Jira did not answer when the bot filed {request.dedupe_label} and its search does not show it yet; "
                f"filing again in {wait:.0f}s unless it appears"
            )
            raise TrackerError(message, retryable=True, retry_after=wait, kind="create_unanswered")
        prepared = jira.prepare(request)
        self._keep_ticket(session, request, attempted_at=now)
        try:
            ticket = jira.create(prepared)
        except TrackerError as exc:
            if exc.status is not None and exc.status < 500:  # refused, so nothing was filed
                self._keep_ticket(session, request, attempted_at=None)
            raise
        self._keep_ticket(session, request, key=ticket.key, issue_id=ticket.id, filed_at=now)
        return {"key": ticket.key, "url": ticket.url, **({"note": ticket.note} if ticket.note else {})}

    def _known_issue_ids(self, session: Session, project: str) -> list[str]:
        """Ids of the project's issues we filed lately, for search to reconcile (include even while its index lags)."""
        query = (
            select(JiraTicket.issue_id)
            .where(JiraTicket.project == project, JiraTicket.issue_id.is_not(None))
            .order_by(JiraTicket.filed_at.desc())
            .limit(RECONCILE_LIMIT)
        )
        return [issue_id for issue_id in session.scalars(query) if issue_id]

    def _keep_ticket(self, session: Session, request: TicketRequest, **values: Any) -> None:
        """Record what became of a ticket. On PostgreSQL it is committed at once on a connection of its own, so a
        crash before the delivery commits does not lose a key Jira gave; SQLite (one replica) keeps it with the
        delivery."""
        row = {"label": request.dedupe_label, "project": request.project, **values}
        if self._records_sends:
            statement = pg_insert(JiraTicket).values(**row).on_conflict_do_update(index_elements=["label"], set_=values)
            with self._engine.begin() as connection:
                connection.execute(statement)
        else:
            lite = sqlite_insert(JiraTicket).values(**row).on_conflict_do_update(index_elements=["label"], set_=values)
            session.execute(lite)

    def _lock_incident(self, session: Session, incident_id: int) -> None:
        """One incident's messages go out one at a time, so its root and thread stay in order across workers."""
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": INCIDENT_LOCK + incident_id})

    def _earlier_reply_pending(self, session: Session, row: OutboxMessage) -> bool:
        """An earlier reply in the same thread has not gone out yet (it is in flight or retrying)."""
        earlier = session.scalars(
            select(OutboxMessage.payload).where(
                OutboxMessage.incident_id == row.incident_id,
                OutboxMessage.target == "slack",
                OutboxMessage.id < row.id,
                OutboxMessage.state == OutboxState.PENDING,
            )
        )
        return any(p.get("in_thread") for p in earlier)

    def _newer_root_edit_exists(self, session: Session, row: OutboxMessage) -> bool:
        """Root edits of one incident go out one at a time, and only the newest is worth sending."""
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

    def _record_failure(
        self, row: OutboxMessage, exc: SlackCallError | TrackerError, now: datetime, report: DeliveryReport
    ) -> None:
        row.last_error = str(exc)
        if exc.retryable:
            row.next_attempt_at = now + backoff(row.attempts, exc.retry_after)
            report.retrying += 1
            logger.warning("%s %s for outbox %s failed (%s); retrying", row.target, row.operation, row.id, exc)
        else:
            row.state = OutboxState.FAILED
            report.failed += 1
            logger.error("%s %s for outbox %s failed for good: %s", row.target, row.operation, row.id, exc)


def _call_joining_if_needed(slack: SlackGateway, operation: str, args: dict[str, Any]) -> dict[str, Any]:
    """Posting in a public channel the bot is not in: join it, then post."""
    try:
        return slack.call(operation, args)
    except SlackCallError as exc:
        if exc.error != "not_in_channel" or "channel" not in args:
            raise
        slack.call("conversations.join", {"channel": args["channel"]})
        return slack.call(operation, args)


def _earlier_post(slack: SlackGateway, key: str, args: dict[str, Any], started_at: datetime) -> dict[str, Any] | None:
    """The post an earlier attempt made, found by the outbox key in its metadata (one history read)."""

    def carries_key(message: dict[str, Any]) -> bool:
        metadata = message.get("metadata") or {}
        return metadata.get("event_type") == POST_EVENT and metadata.get("event_payload", {}).get("outbox_key") == key

    return slack.find_posted(
        args["channel"],
        matches=carries_key,
        thread_ts=args.get("thread_ts"),
        oldest=(started_at - LOOK_BACK).timestamp(),
        latest=(started_at + LOOK_AHEAD).timestamp(),
    )


def partial_thread_note(messages: int) -> str:
    """What a ticket is told when only the first messages of a long thread were read for files."""
    return (
        f"Files from the first {messages} messages of the Slack thread only: the rest of the thread was not read "
        "(Slack limits how much of a conversation this app may read). Later files are in the thread itself."
    )
