"""Continuity Planning: time-boxed workarounds, retry cycles with check-ins, each attempt logged."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.db import insert_once
from bot.domain.audit import record_event
from bot.domain.errors import DomainError, FieldProblems
from bot.domain.glossary import WORKAROUND_KINDS
from bot.domain.lifecycle import require_open
from bot.domain.timers import cancel_timers, schedule_timer
from bot.domain.workspaces import in_workspace
from bot.models import (
    Attempt,
    AttemptOutcome,
    Incident,
    Timer,
    Workaround,
    WorkaroundKind,
    WorkaroundState,
)

RETRY_CHECKIN = "retry_checkin"
CHECKIN_UNANSWERED = "checkin_unanswered"
TIMEBOX_END = "timebox_end"
WORKAROUND_TIMERS = (RETRY_CHECKIN, CHECKIN_UNANSWERED, TIMEBOX_END)
LATE_AFTER = timedelta(minutes=1)
KIND_LABELS = WORKAROUND_KINDS
OUTCOME_LABELS = {
    AttemptOutcome.WORKED: "worked",
    AttemptOutcome.STILL_FAILING: "still failing",
    AttemptOutcome.ERROR_CHANGED: "error changed",
}


class WorkaroundGone(DomainError):
    def __init__(self, workaround_id: int) -> None:
        self.workaround_id = workaround_id
        super().__init__("That workaround has ended; nothing more to record on it.")


@dataclass(frozen=True)
class StartForm:
    """A workaround as the person started it (kind is None until chosen; the interval is for retry cycles)."""

    kind: WorkaroundKind | None
    description: str
    client_expectation: str
    time_box_minutes: int
    interval_minutes: int | None


def start_problems(form: StartForm) -> FieldProblems:
    """A workaround says which kind, what exactly will be tried, and what the client was told to expect."""
    problems: FieldProblems = {}
    if form.kind is None:
        problems["kind"] = "Choose a workaround."
    if not form.description:
        problems["description"] = "Say what exactly will be tried."
    if not form.client_expectation:
        problems["client_expectation"] = "Say what the client was told to expect."
    return problems


def error_changed_problems(error: str) -> FieldProblems:
    """A retry whose error changed records the new error."""
    return {} if error else {"error": "Paste the error as it shows now."}


@dataclass(frozen=True)
class Checkin:
    """A retry check-in that is due now: which attempt, and whether the bot was late posting it."""

    workaround: Workaround
    number: int
    late: bool


def start_workaround(
    *,
    session: Session,
    incident: Incident,
    kind: WorkaroundKind,
    description: str,
    client_expectation: str,
    owner_id: str,
    time_box: timedelta,
    interval: timedelta | None,
    now: datetime,
) -> Workaround:
    require_open(incident, "given a workaround")
    minutes = int(interval.total_seconds() // 60) if kind == WorkaroundKind.RETRY_CYCLE and interval else None
    workaround = Workaround(
        incident_id=incident.id,
        kind=kind,
        state=WorkaroundState.ACTIVE,
        description=description,
        client_expectation=client_expectation,
        owner_id=owner_id,
        started_at=now,
        ends_at=now + time_box,
        interval_minutes=minutes,
    )
    session.add(workaround)
    session.flush()
    cadence = f", check-ins every {minutes} min" if minutes else ""
    record_event(
        session=session,
        incident=incident,
        at=now,
        actor_id=owner_id,
        kind="workaround_started",
        summary=f"{KIND_LABELS[kind]} started for {int(time_box.total_seconds() // 60)} min{cadence}: {description}",
        details={"workaround_id": workaround.id, "kind": kind.value, "expectation": client_expectation},
    )
    _schedule_timebox(session, incident, workaround, now)
    if minutes:
        schedule_checkin(
            session=session,
            incident=incident,
            workaround=workaround,
            number=1,
            due=now + timedelta(minutes=minutes),
            now=now,
        )
    return workaround


def _schedule_timebox(session: Session, incident: Incident, workaround: Workaround, now: datetime) -> None:
    schedule_timer(
        session=session,
        kind=TIMEBOX_END,
        due_at=workaround.ends_at,
        dedupe_key=f"workaround:{workaround.id}:timebox:{workaround.ends_at.isoformat()}",
        now=now,
        incident_id=incident.id,
        workaround_id=workaround.id,
    )


def schedule_checkin(
    *, session: Session, incident: Incident, workaround: Workaround, number: int, due: datetime, now: datetime
) -> None:
    schedule_timer(
        session=session,
        kind=RETRY_CHECKIN,
        due_at=due,
        dedupe_key=f"workaround:{workaround.id}:checkin:{number}",
        now=now,
        incident_id=incident.id,
        workaround_id=workaround.id,
        sequence=number,
    )


def active_workaround(
    session: Session, workaround_id: int | None, incident: Incident | None = None
) -> Workaround | None:
    """The workaround if it is still running (and, given an incident, belongs to it)."""
    workaround = session.get(Workaround, workaround_id) if workaround_id is not None else None
    if workaround is None or workaround.state != WorkaroundState.ACTIVE:
        return None
    return workaround if incident is None or workaround.incident_id == incident.id else None


def checkin_due(*, session: Session, incident: Incident, timer: Timer, now: datetime) -> Checkin | None:
    """The check-in to post for this timer, and the next one scheduled; None when the cycle has stopped.

    Only one check-in row is ever pending per cycle, so a bot that was down for three intervals posts one
    check-in, marked late, and the cycle carries on from now instead of catching up.
    """
    workaround = active_workaround(session, timer.workaround_id)
    if workaround is None or not incident.is_open or workaround.interval_minutes is None:
        return None
    interval = timedelta(minutes=workaround.interval_minutes)
    late = now - timer.due_at > LATE_AFTER
    schedule_checkin(
        session=session,
        incident=incident,
        workaround=workaround,
        number=timer.sequence + 1,
        due=now + interval,
        now=now,
    )
    schedule_timer(
        session=session,
        kind=CHECKIN_UNANSWERED,
        due_at=now + interval / 2,
        dedupe_key=f"workaround:{workaround.id}:unanswered:{timer.sequence}",
        now=now,
        incident_id=incident.id,
        workaround_id=workaround.id,
        sequence=timer.sequence,
    )
    return Checkin(workaround, timer.sequence, late)


def answer_checkin(
    *,
    session: Session,
    incident: Incident,
    workaround_id: int,
    number: int,
    outcome: AttemptOutcome,
    actor_id: str,
    error_text: str | None,
    now: datetime,
) -> tuple[Attempt, bool]:
    """Log the attempt (once per check-in); returns it and whether this call recorded it.

    A check-in already answered returns that answer, even once its workaround has ended.
    """
    answered = answer_of(session=session, incident=incident, workaround_id=workaround_id, number=number)
    if answered is not None:
        return answered, False
    workaround = active_workaround(session, workaround_id, incident)
    if workaround is None:
        raise WorkaroundGone(workaround_id)
    error = (error_text or "").strip() or None
    known = workaround.last_error
    changed = outcome == AttemptOutcome.ERROR_CHANGED or (error is not None and known is not None and error != known)
    attempt = Attempt(
        workaround_id=workaround.id,
        number=number,
        at=now,
        actor_id=actor_id,
        outcome=outcome,
        error_text=error,
        error_changed=changed,
    )
    same = (Attempt.workaround_id == workaround.id) & (Attempt.number == number)
    attempt, created = insert_once(session, attempt, match=same)
    if not created:
        return attempt, False
    if error:
        workaround.last_error = error
    record_event(
        session=session,
        incident=incident,
        at=now,
        actor_id=actor_id,
        kind="error_changed" if changed else "attempt",
        summary=f"{KIND_LABELS[workaround.kind]} attempt #{number}: {OUTCOME_LABELS[outcome]}"
        + (f" — new error: {error}" if changed and error else ""),
        details={"workaround_id": workaround.id, "number": number, "outcome": outcome.value, "error": error},
    )
    if outcome == AttemptOutcome.WORKED:
        finish(
            session=session,
            incident=incident,
            workaround=workaround,
            state=WorkaroundState.WORKED,
            reason=f"attempt #{number} worked",
            actor_id=actor_id,
            now=now,
        )
    return attempt, True


def answer_of(*, session: Session, incident: Incident, workaround_id: int, number: int) -> Attempt | None:
    """How check-in `number` of the incident's workaround was answered, if it was."""
    return session.scalar(
        select(Attempt)
        .join(Workaround, Workaround.id == Attempt.workaround_id)
        .where(Attempt.workaround_id == workaround_id, Attempt.number == number, Workaround.incident_id == incident.id)
    )


def unanswered(*, session: Session, timer: Timer) -> Workaround | None:
    """The workaround whose check-in went unanswered (to ping its owner once), or None."""
    workaround = active_workaround(session, timer.workaround_id)
    if workaround is None:
        return None
    answered = session.scalar(
        select(Attempt.id).where(Attempt.workaround_id == workaround.id, Attempt.number == timer.sequence)
    )
    return None if answered is not None else workaround


def finish(
    *,
    session: Session,
    incident: Incident,
    workaround: Workaround,
    state: WorkaroundState,
    reason: str,
    actor_id: str,
    now: datetime,
) -> None:
    """End a workaround: it worked, or it was stopped; its check-ins and time box are cancelled."""
    workaround.state, workaround.stopped_at, workaround.stop_reason = state, now, reason
    cancel_timers(
        session=session,
        incident_id=incident.id,
        kinds=WORKAROUND_TIMERS,
        now=now,
        outcome=f"workaround {state.value}",
        workaround_id=workaround.id,
    )
    record_event(
        session=session,
        incident=incident,
        at=now,
        actor_id=actor_id,
        kind="workaround_ended",
        summary=f"{KIND_LABELS[workaround.kind]} {state.value}: {reason}",
        details={"workaround_id": workaround.id, "state": state.value, "reason": reason},
    )


def extend(
    *, session: Session, incident: Incident, workaround_id: int, by: timedelta, actor_id: str, now: datetime
) -> Workaround:
    if by <= timedelta(0):
        raise DomainError("A time box can only be extended by a positive amount of time.")
    workaround = active_workaround(session, workaround_id, incident)
    if workaround is None:
        raise WorkaroundGone(workaround_id)
    workaround.ends_at = max(workaround.ends_at, now) + by
    _schedule_timebox(session, incident, workaround, now)
    record_event(
        session=session,
        incident=incident,
        at=now,
        actor_id=actor_id,
        kind="workaround_extended",
        summary=f"{KIND_LABELS[workaround.kind]} time box extended by {int(by.total_seconds() // 60)} min",
        details={"workaround_id": workaround.id, "ends_at": workaround.ends_at.isoformat()},
    )
    return workaround


def timebox_ended(*, session: Session, timer: Timer) -> Workaround | None:
    """The workaround whose time box this timer ends, if it is still running and was not extended since."""
    workaround = active_workaround(session, timer.workaround_id)
    if workaround is None or workaround.ends_at != timer.due_at:
        return None
    return workaround


def record_progress(
    *,
    session: Session,
    incident: Incident,
    workaround_id: int,
    actor_id: str,
    now: datetime,
    batches_done: int | None = None,
    batches_total: int | None = None,
    failing_element: str | None = None,
    note: str | None = None,
) -> Workaround:
    """Partial progress: batches done of total and the failing element, or the alternate path's status."""
    workaround = active_workaround(session, workaround_id, incident)
    if workaround is None:
        raise WorkaroundGone(workaround_id)
    if batches_total is not None and batches_done is not None and not 0 <= batches_done <= batches_total:
        raise DomainError(f"Batches done ({batches_done}) must be between 0 and the total ({batches_total}).")
    workaround.batches_done, workaround.batches_total = batches_done, batches_total
    workaround.failing_element, workaround.progress_note = failing_element or None, note or None
    parts = [
        f"{batches_done} of {batches_total} batches" if batches_total else None,
        f"failing: {failing_element}" if failing_element else None,
        note,
    ]
    record_event(
        session=session,
        incident=incident,
        at=now,
        actor_id=actor_id,
        kind="workaround_progress",
        summary=f"{KIND_LABELS[workaround.kind]} progress: " + "; ".join(p for p in parts if p),
        details={
            "workaround_id": workaround.id,
            "batches_done": batches_done,
            "batches_total": batches_total,
            "failing_element": failing_element,
            "note": note,
        },
    )
    return workaround


def active_workarounds(
    *, session: Session, incident_id: int | None = None, workspace: str | None = None
) -> list[Workaround]:
    """Active workarounds, soonest time box first: of one incident, or of every incident (in `workspace`)."""
    query = select(Workaround).where(Workaround.state == WorkaroundState.ACTIVE).order_by(Workaround.ends_at)
    if incident_id is not None:
        query = query.where(Workaround.incident_id == incident_id)
    if workspace is not None:
        query = query.join(Incident, Incident.id == Workaround.incident_id).where(in_workspace(workspace))
    return list(session.scalars(query))


def attempts_of(*, session: Session, workaround_id: int) -> list[Attempt]:
    return list(session.scalars(select(Attempt).where(Attempt.workaround_id == workaround_id).order_by(Attempt.number)))
