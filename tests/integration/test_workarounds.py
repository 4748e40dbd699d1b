"""Time-boxed workarounds on real PostgreSQL: retry check-ins driven by due timers, attempts, time box, progress."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.db import unit_of_work
from bot.domain.errors import DomainError
from bot.domain.lifecycle import IncidentClosed, change_status
from bot.domain.timers import claim_due_timer, finish_timer, schedule_timer
from bot.domain.workarounds import (
    CHECKIN_UNANSWERED,
    RETRY_CHECKIN,
    TIMEBOX_END,
    Checkin,
    WorkaroundGone,
    active_workarounds,
    answer_checkin,
    attempts_of,
    checkin_due,
    extend,
    finish,
    record_progress,
    start_workaround,
    timebox_ended,
    unanswered,
)
from bot.models import (
    Attempt,
    AttemptOutcome,
    Incident,
    IncidentStatus,
    Timer,
    Workaround,
    WorkaroundKind,
    WorkaroundState,
)
from tests.builders import events_of, open_test_incident
from tests.conftest import T0

Factory = sessionmaker[Session]
OWNER = "UOWNER"
DESCRIPTION = "Retry the exhibit upload from Chrome"
EXPECTATION = "We retry every 15 minutes and update you at 10:00"
INTERVAL = timedelta(minutes=15)
HALF = timedelta(minutes=7, seconds=30)
WORKAROUND_EVENTS = ("workaround_started", "attempt", "error_changed", "workaround_ended", "workaround_extended")


def _start(
    factory: Factory,
    incident_id: int,
    *,
    kind: WorkaroundKind = WorkaroundKind.RETRY_CYCLE,
    time_box: timedelta = timedelta(minutes=60),
    interval: timedelta | None = INTERVAL,
    now: datetime = T0,
    description: str = DESCRIPTION,
) -> int:
    with unit_of_work(factory) as session:
        workaround = start_workaround(
            session=session,
            incident=session.get_one(Incident, incident_id),
            kind=kind,
            description=description,
            client_expectation=EXPECTATION,
            owner_id=OWNER,
            time_box=time_box,
            interval=interval,
            now=now,
        )
        return workaround.id


def _answer(
    factory: Factory,
    incident_id: int,
    workaround_id: int,
    number: int,
    outcome: AttemptOutcome = AttemptOutcome.STILL_FAILING,
    *,
    error: str | None = None,
    now: datetime,
    actor_id: str = OWNER,
) -> tuple[int, bool]:
    with unit_of_work(factory) as session:
        attempt, created = answer_checkin(
            session=session,
            incident=session.get_one(Incident, incident_id),
            workaround_id=workaround_id,
            number=number,
            outcome=outcome,
            actor_id=actor_id,
            error_text=error,
            now=now,
        )
        return attempt.id, created


def _stop(factory: Factory, incident_id: int, workaround_id: int, now: datetime) -> None:
    with unit_of_work(factory) as session:
        finish(
            session=session,
            incident=session.get_one(Incident, incident_id),
            workaround=session.get_one(Workaround, workaround_id),
            state=WorkaroundState.STOPPED,
            reason="stopped to switch",
            actor_id=OWNER,
            now=now,
        )


def _resolve(factory: Factory, incident_id: int, now: datetime) -> None:
    with unit_of_work(factory) as session:
        change_status(
            session=session,
            incident=session.get_one(Incident, incident_id),
            to=IncidentStatus.RESOLVED,
            actor_id=OWNER,
            now=now,
        )


def _tick(factory: Factory, now: datetime) -> list[tuple[str, int, object]]:
    """The scheduler at `now`: claim every due timer (one transaction each), ask the domain, finish it.

    One entry per claimed timer: (kind, sequence, what the domain answered) — for a check-in
    (workaround id, number, late), for an unanswered ping or a time box the workaround id; None for "nothing to post".
    """
    handled: list[tuple[str, int, object]] = []
    for _ in range(50):  # bounded: a handler that keeps scheduling due work would otherwise loop forever
        with unit_of_work(factory) as session:
            timer = claim_due_timer(session=session, now=now, worker="test")
            if timer is None:
                return handled
            incident = session.get_one(Incident, timer.incident_id)
            result: object
            if timer.kind == RETRY_CHECKIN:
                checkin = checkin_due(session=session, incident=incident, timer=timer, now=now)
                result = None if checkin is None else (checkin.workaround.id, checkin.number, checkin.late)
            elif timer.kind == CHECKIN_UNANSWERED:
                workaround = unanswered(session=session, timer=timer)
                result = None if workaround is None else workaround.id
            elif timer.kind == TIMEBOX_END:
                workaround = timebox_ended(session=session, timer=timer)
                result = None if workaround is None else workaround.id
            else:
                raise AssertionError(f"unexpected timer {timer.kind}")
            handled.append((timer.kind, timer.sequence, result))
            finish_timer(timer, outcome="handled" if result is not None else "not needed", now=now)
    raise AssertionError(f"still claiming due timers after 50 claims: {handled[-5:]}")


def _timers(session: Session, workaround_id: int) -> list[tuple[str, int, datetime, datetime | None]]:
    """(kind, sequence, due_at, done_at) of the workaround's timers, earliest due first."""
    rows = session.scalars(
        select(Timer).where(Timer.workaround_id == workaround_id).order_by(Timer.due_at, Timer.id)
    ).all()
    return [(t.kind, t.sequence, t.due_at, t.done_at) for t in rows]


def _pending(session: Session, workaround_id: int) -> list[tuple[str, int, datetime]]:
    return [(kind, seq, due) for kind, seq, due, done in _timers(session, workaround_id) if done is None]


def _timer(session: Session, key: str) -> Timer:
    return session.scalars(select(Timer).where(Timer.dedupe_key == key)).one()


def _timer_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Timer)) or 0


# --- start_workaround -------------------------------------------------------------------------------------


def test_a_retry_cycle_is_stored_with_its_time_box_and_first_checkin_scheduled(session_factory: Factory) -> None:
    incident_id = open_test_incident(session_factory, "view:W")
    wid = _start(session_factory, incident_id, time_box=timedelta(minutes=60), interval=INTERVAL)
    with unit_of_work(session_factory) as session:
        w = session.get_one(Workaround, wid)
        assert (
            w.incident_id,
            w.kind,
            w.state,
            w.description,
            w.client_expectation,
            w.owner_id,
            w.started_at,
            w.ends_at,
            w.interval_minutes,
        ) == (
            incident_id,
            WorkaroundKind.RETRY_CYCLE,
            WorkaroundState.ACTIVE,
            DESCRIPTION,
            EXPECTATION,
            OWNER,
            T0,
            T0 + timedelta(minutes=60),
            15,
        )
        assert (w.last_error, w.stopped_at, w.stop_reason, w.batches_done, w.batches_total) == (None,) * 5
        timers = session.scalars(select(Timer).where(Timer.workaround_id == wid).order_by(Timer.id)).all()
        assert [
            (t.kind, t.sequence, t.due_at, t.dedupe_key, t.incident_id, t.created_at, t.done_at) for t in timers
        ] == [
            (
                TIMEBOX_END,
                1,
                T0 + timedelta(minutes=60),
                f"workaround:{wid}:timebox:2026-11-30T10:00:00+00:00",
                incident_id,
                T0,
                None,
            ),
            (RETRY_CHECKIN, 1, T0 + INTERVAL, f"workaround:{wid}:checkin:1", incident_id, T0, None),
        ]
        [started] = events_of(session, incident_id, "workaround_started")
        assert (started.at, started.actor_id, started.summary, started.details) == (
            T0,
            OWNER,
            f"Retry cycle started for 60 min, check-ins every 15 min: {DESCRIPTION}",
            {"workaround_id": wid, "kind": "retry_cycle", "expectation": EXPECTATION},
        )


@pytest.mark.parametrize(
    ("kind", "label"),
    [
        (WorkaroundKind.BATCHING, "Batching"),
        (WorkaroundKind.FORMAT_CHANGE, "Format change"),
        (WorkaroundKind.MANUAL_OVERRIDE, "Manual override"),
    ],
)
def test_other_workarounds_get_only_a_time_box_and_ignore_the_interval(
    session_factory: Factory, kind: WorkaroundKind, label: str
) -> None:
    incident_id = open_test_incident(session_factory, "view:W")
    wid = _start(session_factory, incident_id, kind=kind, time_box=timedelta(minutes=90), interval=INTERVAL)
    with unit_of_work(session_factory) as session:
        w = session.get_one(Workaround, wid)
        assert (w.kind, w.ends_at, w.interval_minutes) == (kind, T0 + timedelta(minutes=90), None)
        assert _pending(session, wid) == [(TIMEBOX_END, 1, T0 + timedelta(minutes=90))]
        [started] = events_of(session, incident_id, "workaround_started")
        assert started.summary == f"{label} started for 90 min: {DESCRIPTION}"
        assert started.details == {"workaround_id": wid, "kind": kind.value, "expectation": EXPECTATION}


def test_a_resolved_incident_gets_no_workaround_and_nothing_is_stored(session_factory: Factory) -> None:
    incident_id = open_test_incident(session_factory, "view:W")
    _resolve(session_factory, incident_id, T0)
    expected = f"INC-{incident_id} is resolved, so it can't be given a workaround any more."
    with pytest.raises(IncidentClosed, match=re.escape(expected)):
        _start(session_factory, incident_id)
    with unit_of_work(session_factory) as session:
        assert session.scalar(select(func.count()).select_from(Workaround)) == 0
        assert _timer_count(session) == 0
        assert events_of(session, incident_id, "workaround_started") == []


# --- checkin_due ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lateness", "late"),
    [
        (timedelta(0), False),
        (timedelta(seconds=60), False),
        (timedelta(seconds=61), True),
        (timedelta(minutes=35), True),
    ],
)
def test_a_due_checkin_is_posted_and_schedules_the_next_and_its_unanswered_ping(
    session_factory: Factory, lateness: timedelta, late: bool
) -> None:
    incident_id = open_test_incident(session_factory, "view:W")
    wid = _start(session_factory, incident_id, time_box=timedelta(hours=2))
    now = T0 + INTERVAL + lateness
    with unit_of_work(session_factory) as session:
        timer = claim_due_timer(session=session, now=now, worker="test")
        assert timer is not None and (timer.kind, timer.sequence) == (RETRY_CHECKIN, 1)
        checkin = checkin_due(session=session, incident=session.get_one(Incident, incident_id), timer=timer, now=now)
        assert checkin == Checkin(session.get_one(Workaround, wid), 1, late)
        finish_timer(timer, outcome="posted", now=now)
    with unit_of_work(session_factory) as session:
        assert _pending(session, wid) == [
            (CHECKIN_UNANSWERED, 1, now + HALF),
            (RETRY_CHECKIN, 2, now + INTERVAL),
            (TIMEBOX_END, 1, T0 + timedelta(hours=2)),
        ]
        assert _timer(session, f"workaround:{wid}:checkin:2").due_at == now + INTERVAL
        assert _timer(session, f"workaround:{wid}:unanswered:1").due_at == now + HALF


def test_on_time_checkins_follow_the_interval_with_one_unanswered_ping_each(session_factory: Factory) -> None:
    incident_id = open_test_incident(session_factory, "view:W")
    wid = _start(session_factory, incident_id, time_box=timedelta(minutes=45))
    assert _tick(session_factory, T0 + timedelta(minutes=14, seconds=59)) == []
    assert _tick(session_factory, T0 + timedelta(minutes=15)) == [(RETRY_CHECKIN, 1, (wid, 1, False))]
    assert _tick(session_factory, T0 + timedelta(minutes=22, seconds=30)) == [(CHECKIN_UNANSWERED, 1, wid)]
    assert _tick(session_factory, T0 + timedelta(minutes=30)) == [(RETRY_CHECKIN, 2, (wid, 2, False))]
    _answer(session_factory, incident_id, wid, 2, now=T0 + timedelta(minutes=35))  # answered before the ping is due
    assert _tick(session_factory, T0 + timedelta(minutes=45)) == [
        (CHECKIN_UNANSWERED, 2, None),
        (TIMEBOX_END, 1, wid),  # due with check-in #3; ties go to the older timer
        (RETRY_CHECKIN, 3, (wid, 3, False)),
    ]
    with unit_of_work(session_factory) as session:
        assert _pending(session, wid) == [
            (CHECKIN_UNANSWERED, 3, T0 + timedelta(minutes=52, seconds=30)),
            (RETRY_CHECKIN, 4, T0 + timedelta(minutes=60)),
        ]


@pytest.mark.parametrize("outage", [timedelta(minutes=35), timedelta(minutes=50), timedelta(hours=3)])
def test_checkins_missed_while_the_bot_was_down_are_posted_once_late_and_not_replayed(
    session_factory: Factory, outage: timedelta
) -> None:
    incident_id = open_test_incident(session_factory, "view:W")
    wid = _start(session_factory, incident_id, time_box=timedelta(hours=6))
    back = T0 + INTERVAL + outage  # check-in #1 was due at T0+15; the bot comes back `outage` later

    assert _tick(session_factory, back) == [(RETRY_CHECKIN, 1, (wid, 1, True))]
    assert _tick(session_factory, back) == []  # nothing else is due: the missed intervals are coalesced
    with unit_of_work(session_factory) as session:
        assert _pending(session, wid) == [
            (CHECKIN_UNANSWERED, 1, back + HALF),
            (RETRY_CHECKIN, 2, back + INTERVAL),
            (TIMEBOX_END, 1, T0 + timedelta(hours=6)),
        ]

    assert _tick(session_factory, back + INTERVAL) == [
        (CHECKIN_UNANSWERED, 1, wid),
        (RETRY_CHECKIN, 2, (wid, 2, False)),
    ]
    with unit_of_work(session_factory) as session:
        checkins = [(seq, due, done) for kind, seq, due, done in _timers(session, wid) if kind == RETRY_CHECKIN]
        assert checkins == [
            (1, T0 + INTERVAL, back),
            (2, back + INTERVAL, back + INTERVAL),
            (3, back + 2 * INTERVAL, None),
        ]


@pytest.mark.parametrize("change", ["stopped", "worked", "resolved"])
def test_a_checkin_posts_nothing_once_the_cycle_stopped_worked_or_the_incident_resolved(
    session_factory: Factory, change: str
) -> None:
    incident_id = open_test_incident(session_factory, "view:W")
    wid = _start(session_factory, incident_id, time_box=timedelta(hours=2))
    assert _tick(session_factory, T0 + INTERVAL) == [(RETRY_CHECKIN, 1, (wid, 1, False))]
    changed_at = T0 + timedelta(minutes=20)
    if change == "stopped":
        _stop(session_factory, incident_id, wid, changed_at)
    elif change == "worked":
        _answer(session_factory, incident_id, wid, 1, AttemptOutcome.WORKED, now=changed_at)
    else:
        _resolve(session_factory, incident_id, changed_at)

    now = T0 + 2 * INTERVAL  # check-in #2 comes round (a claim that raced the change, when it was cancelled)
    with unit_of_work(session_factory) as session:
        before = _timer_count(session)
        timer = _timer(session, f"workaround:{wid}:checkin:2")
        incident = session.get_one(Incident, incident_id)
        assert checkin_due(session=session, incident=incident, timer=timer, now=now) is None
        session.flush()
        assert _timer_count(session) == before  # no check-in #3, no unanswered ping for #2
        assert session.scalars(select(Timer).where(Timer.dedupe_key.like(f"workaround:{wid}:%:3"))).all() == []


# --- answer_checkin ---------------------------------------------------------------------------------------


def test_an_attempt_is_recorded_once_per_checkin(session_factory: Factory) -> None:
    incident_id = open_test_incident(session_factory, "view:W")
    wid = _start(session_factory, incident_id)
    at = T0 + timedelta(minutes=16)
    first_id, created = _answer(session_factory, incident_id, wid, 1, error="Network error", now=at, actor_id="UA")
    assert created is True
    again_id, created_again = _answer(
        session_factory,
        incident_id,
        wid,
        1,
        AttemptOutcome.WORKED,
        error="Timeout",
        now=at + timedelta(minutes=1),
        actor_id="UB",
    )
    assert (again_id, created_again) == (first_id, False)
    with unit_of_work(session_factory) as session:
        [attempt] = attempts_of(session=session, workaround_id=wid)
        assert (
            attempt.id,
            attempt.number,
            attempt.at,
            attempt.actor_id,
            attempt.outcome,
            attempt.error_text,
        ) == (first_id, 1, at, "UA", AttemptOutcome.STILL_FAILING, "Network error")
        w = session.get_one(Workaround, wid)
        assert (w.state, w.last_error) == (WorkaroundState.ACTIVE, "Network error")  # the repeat changed nothing
        assert [e.kind for e in events_of(session, incident_id, *WORKAROUND_EVENTS)] == [
            "workaround_started",
            "attempt",
        ]


def test_concurrent_answers_to_one_checkin_record_one_attempt(session_factory: Factory) -> None:
    incident_id = open_test_incident(session_factory, "view:W")
    wid = _start(session_factory, incident_id)

    def answer(i: int) -> bool:
        return _answer(session_factory, incident_id, wid, 1, error=f"error {i}", now=T0 + INTERVAL, actor_id=f"U{i}")[1]

    with ThreadPoolExecutor(max_workers=6) as pool:
        created = list(pool.map(answer, range(12)))
    assert created.count(True) == 1
    with unit_of_work(session_factory) as session:
        [attempt] = session.scalars(select(Attempt)).all()
        assert session.get_one(Workaround, wid).last_error == attempt.error_text
        assert len(events_of(session, incident_id, "attempt", "error_changed")) == 1


def test_each_attempt_notes_whether_the_error_changed(session_factory: Factory) -> None:
    incident_id = open_test_incident(session_factory, "view:W")
    wid = _start(session_factory, incident_id, time_box=timedelta(hours=3))
    F, C = AttemptOutcome.STILL_FAILING, AttemptOutcome.ERROR_CHANGED
    answers = [
        (1, F, "Network error"),  # the first error reported: nothing to compare with, so not a change
        (2, F, "  Network error  "),  # the same error (surrounding blanks ignored)
        (3, F, None),  # no error text: not a change, and the last error is kept
        (4, F, "Timeout after 30 s"),  # different from the last one
        (5, C, "Timeout after 30 s"),  # "error changed" always counts, even with the same text
        (6, C, "   "),  # ... and with no text at all
        (7, F, "Timeout after 30 s"),  # blank text did not replace the last error
    ]
    for number, outcome, error in answers:
        _answer(session_factory, incident_id, wid, number, outcome, error=error, now=T0 + number * INTERVAL)
    with unit_of_work(session_factory) as session:
        attempts = attempts_of(session=session, workaround_id=wid)
        assert [(a.number, a.error_text, a.error_changed) for a in attempts] == [
            (1, "Network error", False),
            (2, "Network error", False),
            (3, None, False),
            (4, "Timeout after 30 s", True),
            (5, "Timeout after 30 s", True),
            (6, None, True),
            (7, "Timeout after 30 s", False),
        ]
        assert session.get_one(Workaround, wid).last_error == "Timeout after 30 s"
        events = events_of(session, incident_id, "attempt", "error_changed")
        assert [(e.kind, e.summary) for e in events] == [
            ("attempt", "Retry cycle attempt #1: still failing"),
            ("attempt", "Retry cycle attempt #2: still failing"),
            ("attempt", "Retry cycle attempt #3: still failing"),
            ("error_changed", "Retry cycle attempt #4: still failing — new error: Timeout after 30 s"),
            ("error_changed", "Retry cycle attempt #5: error changed — new error: Timeout after 30 s"),
            ("error_changed", "Retry cycle attempt #6: error changed"),
            ("attempt", "Retry cycle attempt #7: still failing"),
        ]
        assert [e.at for e in events] == [T0 + n * INTERVAL for n in range(1, 8)]
        assert events[3].details == {
            "workaround_id": wid,
            "number": 4,
            "outcome": "still_failing",
            "error": "Timeout after 30 s",
        }


def test_an_attempt_that_worked_ends_the_workaround_and_cancels_only_its_timers(session_factory: Factory) -> None:
    incident_id = open_test_incident(session_factory, "view:W")
    wid = _start(session_factory, incident_id, time_box=timedelta(hours=2))
    other = _start(session_factory, incident_id, kind=WorkaroundKind.BATCHING, time_box=timedelta(hours=1))
    with unit_of_work(session_factory) as session:
        schedule_timer(
            session=session,
            kind="ack_escalation",
            due_at=T0 + timedelta(hours=3),
            dedupe_key="ack",
            now=T0,
            incident_id=incident_id,
        )
    assert _tick(session_factory, T0 + INTERVAL) == [(RETRY_CHECKIN, 1, (wid, 1, False))]
    worked_at = T0 + timedelta(minutes=20)

    _, created = _answer(session_factory, incident_id, wid, 1, AttemptOutcome.WORKED, now=worked_at)

    assert created is True
    with unit_of_work(session_factory) as session:
        w = session.get_one(Workaround, wid)
        assert (w.state, w.stopped_at, w.stop_reason) == (WorkaroundState.WORKED, worked_at, "attempt #1 worked")
        assert _pending(session, wid) == []
        cancelled = session.scalars(
            select(Timer).where(Timer.workaround_id == wid, Timer.outcome == "workaround worked").order_by(Timer.id)
        ).all()
        assert [(t.kind, t.sequence, t.done_at) for t in cancelled] == [
            (TIMEBOX_END, 1, worked_at),
            (RETRY_CHECKIN, 2, worked_at),
            (CHECKIN_UNANSWERED, 1, worked_at),
        ]
        assert _pending(session, other) == [(TIMEBOX_END, 1, T0 + timedelta(hours=1))]
        assert _timer(session, "ack").done_at is None
        assert [w.id for w in active_workarounds(session=session, incident_id=incident_id)] == [other]
        trail = events_of(session, incident_id, *WORKAROUND_EVENTS)
        assert [(e.kind, e.summary) for e in trail[2:]] == [
            ("attempt", "Retry cycle attempt #1: worked"),
            ("workaround_ended", "Retry cycle worked: attempt #1 worked"),
        ]
        assert trail[3].details == {"workaround_id": wid, "state": "worked", "reason": "attempt #1 worked"}
    assert _tick(session_factory, T0 + timedelta(minutes=59)) == []  # nothing left to post for it


@pytest.mark.parametrize("ended", ["stopped", "worked", "unknown"])
def test_a_workaround_that_has_ended_takes_no_more_answers_extensions_or_progress(
    session_factory: Factory, ended: str
) -> None:
    incident_id = open_test_incident(session_factory, "view:W")
    wid = _start(session_factory, incident_id)
    if ended == "stopped":
        _stop(session_factory, incident_id, wid, T0 + timedelta(minutes=10))
    elif ended == "worked":
        _answer(session_factory, incident_id, wid, 1, AttemptOutcome.WORKED, now=T0 + timedelta(minutes=16))
    else:
        wid += 100
    message = re.escape("That workaround has ended; nothing more to record on it.")
    later = T0 + timedelta(minutes=31)
    with pytest.raises(WorkaroundGone, match=message):
        _answer(session_factory, incident_id, wid, 2, now=later)
    with pytest.raises(WorkaroundGone, match=message), unit_of_work(session_factory) as session:
        incident = session.get_one(Incident, incident_id)
        extend(session=session, incident=incident, workaround_id=wid, by=INTERVAL, actor_id=OWNER, now=later)
    with pytest.raises(WorkaroundGone, match=message), unit_of_work(session_factory) as session:
        incident = session.get_one(Incident, incident_id)
        record_progress(session=session, incident=incident, workaround_id=wid, actor_id=OWNER, now=later, note="x")
    with unit_of_work(session_factory) as session:
        assert session.scalars(select(Attempt.number).where(Attempt.number == 2)).all() == []


# --- unanswered -------------------------------------------------------------------------------------------


def test_an_unanswered_checkin_pings_the_owner_until_it_is_answered_or_the_cycle_stops(
    session_factory: Factory,
) -> None:
    incident_id = open_test_incident(session_factory, "view:W")
    wid = _start(session_factory, incident_id, time_box=timedelta(hours=2))
    assert _tick(session_factory, T0 + INTERVAL) == [(RETRY_CHECKIN, 1, (wid, 1, False))]

    def ask(number: int) -> int | None:
        with unit_of_work(session_factory) as session:
            workaround = unanswered(session=session, timer=_timer(session, f"workaround:{wid}:unanswered:{number}"))
            return None if workaround is None else workaround.id

    assert ask(1) == wid
    _answer(session_factory, incident_id, wid, 1, now=T0 + timedelta(minutes=20))
    assert ask(1) is None
    assert _tick(session_factory, T0 + 2 * INTERVAL) == [
        (CHECKIN_UNANSWERED, 1, None),
        (RETRY_CHECKIN, 2, (wid, 2, False)),
    ]
    assert ask(2) == wid
    _stop(session_factory, incident_id, wid, T0 + timedelta(minutes=33))
    assert ask(2) is None
    assert _tick(session_factory, T0 + timedelta(hours=3)) == []  # its ping, check-in #3 and time box were cancelled


# --- time box ---------------------------------------------------------------------------------------------


def _extend(factory: Factory, incident_id: int, wid: int, by: timedelta, now: datetime) -> datetime:
    with unit_of_work(factory) as session:
        incident = session.get_one(Incident, incident_id)
        return extend(session=session, incident=incident, workaround_id=wid, by=by, actor_id="ULEAD", now=now).ends_at


def test_extending_moves_the_time_box_and_only_the_current_end_is_announced(session_factory: Factory) -> None:
    incident_id = open_test_incident(session_factory, "view:W")
    wid = _start(session_factory, incident_id, kind=WorkaroundKind.BATCHING, time_box=timedelta(minutes=60))

    # Extended before the end: from the current end.
    assert _extend(session_factory, incident_id, wid, timedelta(minutes=30), T0 + timedelta(minutes=50)) == (
        T0 + timedelta(minutes=90)
    )
    with unit_of_work(session_factory) as session:
        assert session.get_one(Workaround, wid).ends_at == T0 + timedelta(minutes=90)
        assert _pending(session, wid) == [
            (TIMEBOX_END, 1, T0 + timedelta(minutes=60)),
            (TIMEBOX_END, 1, T0 + timedelta(minutes=90)),
        ]
        assert _timer(session, f"workaround:{wid}:timebox:2026-11-30T10:30:00+00:00").created_at == T0 + timedelta(
            minutes=50
        )
        [extended] = events_of(session, incident_id, "workaround_extended")
        assert (extended.at, extended.actor_id, extended.summary, extended.details) == (
            T0 + timedelta(minutes=50),
            "ULEAD",
            "Batching time box extended by 30 min",
            {"workaround_id": wid, "ends_at": "2026-11-30T10:30:00+00:00"},
        )
    assert _tick(session_factory, T0 + timedelta(minutes=60)) == [(TIMEBOX_END, 1, None)]  # the old end: superseded
    assert _tick(session_factory, T0 + timedelta(minutes=90)) == [(TIMEBOX_END, 1, wid)]

    # Extended after the end was announced (answered late): from now, not from the past end.
    late = T0 + timedelta(minutes=100)
    assert _extend(session_factory, incident_id, wid, timedelta(minutes=30), late) == T0 + timedelta(minutes=130)
    assert _tick(session_factory, T0 + timedelta(minutes=129)) == []
    assert _tick(session_factory, T0 + timedelta(minutes=130)) == [(TIMEBOX_END, 1, wid)]
    with unit_of_work(session_factory) as session:
        assert [e.details["ends_at"] for e in events_of(session, incident_id, "workaround_extended")] == [
            "2026-11-30T10:30:00+00:00",
            "2026-11-30T11:10:00+00:00",
        ]


def test_the_end_of_a_stopped_workarounds_time_box_is_not_announced(session_factory: Factory) -> None:
    incident_id = open_test_incident(session_factory, "view:W")
    wid = _start(session_factory, incident_id, kind=WorkaroundKind.MANUAL_OVERRIDE, time_box=timedelta(minutes=30))
    _stop(session_factory, incident_id, wid, T0 + timedelta(minutes=10))
    with unit_of_work(session_factory) as session:
        timer = _timer(session, f"workaround:{wid}:timebox:2026-11-30T09:30:00+00:00")
        assert (timer.done_at, timer.outcome) == (T0 + timedelta(minutes=10), "workaround stopped")
        assert timebox_ended(session=session, timer=timer) is None


# --- progress and listing ---------------------------------------------------------------------------------


def _progress(
    factory: Factory,
    incident_id: int,
    wid: int,
    now: datetime,
    *,
    batches_done: int | None = None,
    batches_total: int | None = None,
    failing_element: str | None = None,
    note: str | None = None,
) -> None:
    with unit_of_work(factory) as session:
        record_progress(
            session=session,
            incident=session.get_one(Incident, incident_id),
            workaround_id=wid,
            actor_id=OWNER,
            now=now,
            batches_done=batches_done,
            batches_total=batches_total,
            failing_element=failing_element,
            note=note,
        )


def test_batch_progress_and_the_failing_element_are_recorded(session_factory: Factory) -> None:
    incident_id = open_test_incident(session_factory, "view:W")
    wid = _start(session_factory, incident_id, kind=WorkaroundKind.BATCHING, time_box=timedelta(hours=1))
    at = T0 + timedelta(minutes=20)
    _progress(
        session_factory,
        incident_id,
        wid,
        at,
        batches_done=3,
        batches_total=8,
        failing_element="exhibit-14.pdf",
        note="Batches of 25 MB",
    )
    with unit_of_work(session_factory) as session:
        w = session.get_one(Workaround, wid)
        assert (w.batches_done, w.batches_total, w.failing_element, w.progress_note) == (
            3,
            8,
            "exhibit-14.pdf",
            "Batches of 25 MB",
        )
        [event] = events_of(session, incident_id, "workaround_progress")
        assert (event.at, event.actor_id, event.summary) == (
            at,
            OWNER,
            "Batching progress: 3 of 8 batches; failing: exhibit-14.pdf; Batches of 25 MB",
        )
        assert event.details == {
            "workaround_id": wid,
            "batches_done": 3,
            "batches_total": 8,
            "failing_element": "exhibit-14.pdf",
            "note": "Batches of 25 MB",
        }
    _progress(session_factory, incident_id, wid, at + INTERVAL, batches_done=8, batches_total=8)  # all done is fine
    with unit_of_work(session_factory) as session:
        w = session.get_one(Workaround, wid)
        assert (w.batches_done, w.batches_total, w.failing_element, w.progress_note) == (8, 8, None, None)


@pytest.mark.parametrize(("done", "total"), [(9, 8), (-1, 8)])
def test_batches_done_outside_zero_to_total_is_refused_and_nothing_changes(
    session_factory: Factory, done: int, total: int
) -> None:
    incident_id = open_test_incident(session_factory, "view:W")
    wid = _start(session_factory, incident_id, kind=WorkaroundKind.BATCHING, time_box=timedelta(hours=1))
    _progress(session_factory, incident_id, wid, T0 + INTERVAL, batches_done=3, batches_total=8)
    expected = f"Batches done ({done}) must be between 0 and the total ({total})."
    with pytest.raises(DomainError, match=re.escape(expected)):
        _progress(session_factory, incident_id, wid, T0 + 2 * INTERVAL, batches_done=done, batches_total=total)
    with unit_of_work(session_factory) as session:
        w = session.get_one(Workaround, wid)
        assert (w.batches_done, w.batches_total) == (3, 8)
        assert len(events_of(session, incident_id, "workaround_progress")) == 1


def test_active_workarounds_are_listed_soonest_end_first(session_factory: Factory) -> None:
    first = open_test_incident(session_factory, "view:1")
    second = open_test_incident(session_factory, "view:2", title="Search returns nothing")
    late = _start(session_factory, first, time_box=timedelta(minutes=90))
    soon = _start(session_factory, second, kind=WorkaroundKind.BATCHING, time_box=timedelta(minutes=30))
    middle = _start(session_factory, first, kind=WorkaroundKind.FORMAT_CHANGE, time_box=timedelta(minutes=60))
    stopped = _start(session_factory, first, kind=WorkaroundKind.MANUAL_OVERRIDE, time_box=timedelta(minutes=10))
    _stop(session_factory, first, stopped, T0 + timedelta(minutes=5))
    _extend(session_factory, second, soon, timedelta(minutes=45), T0 + timedelta(minutes=5))  # now ends at T0+75
    with unit_of_work(session_factory) as session:
        assert [w.id for w in active_workarounds(session=session)] == [middle, soon, late]
        assert [w.id for w in active_workarounds(session=session, incident_id=first)] == [middle, late]
        assert [w.id for w in active_workarounds(session=session, incident_id=second)] == [soon]
