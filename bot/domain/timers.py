"""Timed work as due rows: scheduled idempotently, claimed by one worker at a time, finished with an outcome."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.db import insert_once
from bot.models import Timer


def schedule_timer(
    *,
    session: Session,
    kind: str,
    due_at: datetime,
    dedupe_key: str,
    now: datetime,
    incident_id: int | None = None,
    workaround_id: int | None = None,
    sequence: int = 1,
    payload: dict[str, Any] | None = None,
) -> Timer:
    """A due row; the same dedupe key is scheduled once however often this is called."""
    timer = Timer(
        kind=kind,
        due_at=due_at,
        dedupe_key=dedupe_key,
        incident_id=incident_id,
        workaround_id=workaround_id,
        sequence=sequence,
        payload=payload or {},
        created_at=now,
    )
    return insert_once(session, timer, match=Timer.dedupe_key == dedupe_key)[0]


def claim_due_timer(*, session: Session, now: datetime, worker: str) -> Timer | None:
    """The earliest due, unfinished timer, locked for this transaction (other workers skip it)."""
    timer = session.scalar(
        select(Timer)
        .where(Timer.done_at.is_(None), Timer.due_at <= now)
        .order_by(Timer.due_at, Timer.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    if timer is not None:
        timer.claimed_by, timer.claimed_at = worker, now
    return timer


def finish_timer(timer: Timer, *, outcome: str, now: datetime) -> None:
    timer.done_at = now
    timer.outcome = outcome[:200]


def cancel_timers(
    *,
    session: Session,
    incident_id: int,
    kinds: Iterable[str],
    now: datetime,
    outcome: str,
    workaround_id: int | None = None,
) -> int:
    """Finish pending timers of these kinds (of one workaround, if given) without running them; returns how many."""
    query = update(Timer).where(Timer.incident_id == incident_id, Timer.kind.in_(list(kinds)), Timer.done_at.is_(None))
    if workaround_id is not None:
        query = query.where(Timer.workaround_id == workaround_id)
    result = session.execute(query.values(done_at=now, outcome=outcome[:200]))
    return int(getattr(result, "rowcount", 0) or 0)


def next_due(*, session: Session, incident_id: int, kinds: Iterable[str] | None = None) -> Timer | None:
    query = select(Timer).where(Timer.incident_id == incident_id, Timer.done_at.is_(None))
    if kinds is not None:
        query = query.where(Timer.kind.in_(list(kinds)))
    return session.scalar(query.order_by(Timer.due_at).limit(1))


def upcoming_timers(*, session: Session, incident_id: int, kinds: Iterable[str], limit: int = 50) -> list[Timer]:
    """The incident's pending timers of these kinds, soonest first (at most `limit`)."""
    query = select(Timer).where(Timer.incident_id == incident_id, Timer.done_at.is_(None), Timer.kind.in_(list(kinds)))
    return list(session.scalars(query.order_by(Timer.due_at, Timer.id).limit(limit)))
