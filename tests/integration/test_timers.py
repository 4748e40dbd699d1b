"""Timers as due rows on real PostgreSQL: idempotent scheduling, one claimant per row, cancelling, next due."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.db import unit_of_work
from bot.domain.timers import cancel_timers, claim_due_timer, finish_timer, next_due, schedule_timer
from bot.models import Timer
from tests.builders import open_test_incident
from tests.conftest import T0

BARRIER_TIMEOUT = 10  # seconds; only reached when a claim blocks instead of skipping a locked row


def _schedule(
    factory: sessionmaker[Session],
    key: str,
    due_at: datetime,
    *,
    kind: str = "ack_escalation",
    incident_id: int | None = None,
) -> int:
    with unit_of_work(factory) as session:
        timer = schedule_timer(
            session=session, kind=kind, due_at=due_at, dedupe_key=key, now=T0, incident_id=incident_id
        )
        session.flush()
        return timer.id


def _claim(factory: sessionmaker[Session], now: datetime, worker: str = "w1") -> int | None:
    with unit_of_work(factory) as session:
        timer = claim_due_timer(session=session, now=now, worker=worker)
        return timer.id if timer else None


def _finish(factory: sessionmaker[Session], timer_id: int, now: datetime, outcome: str = "done") -> None:
    with unit_of_work(factory) as session:
        finish_timer(session.get_one(Timer, timer_id), outcome=outcome, now=now)


def test_a_timer_is_stored_with_everything_it_was_given(session_factory: sessionmaker[Session]) -> None:
    incident_id = open_test_incident(session_factory, "view:1")
    with unit_of_work(session_factory) as session:
        schedule_timer(
            session=session,
            kind="check_in",
            due_at=T0 + timedelta(minutes=30),
            dedupe_key="INC-1:check:2",
            now=T0,
            incident_id=incident_id,
            workaround_id=5,
            sequence=2,
            payload={"note": "ask again"},
        )
    with unit_of_work(session_factory) as session:
        timer = session.scalars(select(Timer)).one()
        assert (
            timer.kind,
            timer.due_at,
            timer.dedupe_key,
            timer.incident_id,
            timer.workaround_id,
            timer.sequence,
            timer.payload,
            timer.created_at,
        ) == ("check_in", T0 + timedelta(minutes=30), "INC-1:check:2", incident_id, 5, 2, {"note": "ask again"}, T0)
        assert (timer.claimed_by, timer.claimed_at, timer.done_at, timer.outcome) == (None, None, None, None)


def test_scheduling_the_same_dedupe_key_again_returns_the_first_timer(session_factory: sessionmaker[Session]) -> None:
    with unit_of_work(session_factory) as session:
        first = schedule_timer(session=session, kind="k", due_at=T0, dedupe_key="same", now=T0)
        second = schedule_timer(
            session=session, kind="other", due_at=T0 + timedelta(hours=1), dedupe_key="same", now=T0
        )
        assert second is first
    later = _schedule(session_factory, "same", T0 + timedelta(days=1), kind="later")
    with unit_of_work(session_factory) as session:
        timer = session.scalars(select(Timer)).one()
        assert (timer.id, timer.kind, timer.due_at) == (later, "k", T0)


def test_concurrent_scheduling_of_one_dedupe_key_stores_one_row(session_factory: sessionmaker[Session]) -> None:
    with ThreadPoolExecutor(max_workers=6) as pool:
        ids = list(pool.map(lambda _: _schedule(session_factory, "INC-1:ack:1", T0), range(12)))
    assert len(set(ids)) == 1
    with unit_of_work(session_factory) as session:
        assert session.scalar(select(func.count()).select_from(Timer)) == 1


def test_the_earliest_due_timer_is_claimed_first_and_ties_go_to_the_oldest(
    session_factory: sessionmaker[Session],
) -> None:
    late = _schedule(session_factory, "late", T0 - timedelta(minutes=1))
    tie_a = _schedule(session_factory, "tie-a", T0 - timedelta(minutes=5))
    tie_b = _schedule(session_factory, "tie-b", T0 - timedelta(minutes=5))
    earliest = _schedule(session_factory, "earliest", T0 - timedelta(minutes=10))

    claimed = []
    for _ in range(4):
        with unit_of_work(session_factory) as session:
            timer = claim_due_timer(session=session, now=T0, worker="w1")
            assert timer is not None
            claimed.append(timer.id)
            finish_timer(timer, outcome="done", now=T0)
    assert claimed == [earliest, tie_a, tie_b, late]
    assert _claim(session_factory, T0) is None


def test_a_claim_records_the_worker_and_when(session_factory: sessionmaker[Session]) -> None:
    timer_id = _schedule(session_factory, "k", T0)
    assert _claim(session_factory, T0 + timedelta(seconds=3), worker="scheduler-1") == timer_id
    with unit_of_work(session_factory) as session:
        timer = session.get_one(Timer, timer_id)
        assert (timer.claimed_by, timer.claimed_at, timer.done_at) == ("scheduler-1", T0 + timedelta(seconds=3), None)


def test_future_timers_are_not_claimed_until_due_and_due_exactly_now_is_due(
    session_factory: sessionmaker[Session],
) -> None:
    due_at = T0 + timedelta(minutes=5)
    timer_id = _schedule(session_factory, "soon", due_at)
    assert _claim(session_factory, due_at - timedelta(microseconds=1)) is None
    assert _claim(session_factory, due_at) == timer_id


def test_finished_timers_are_never_claimed_again(session_factory: sessionmaker[Session]) -> None:
    timer_id = _schedule(session_factory, "k", T0)
    _finish(session_factory, timer_id, T0, outcome="x" * 250)
    assert _claim(session_factory, T0 + timedelta(days=1)) is None
    with unit_of_work(session_factory) as session:
        timer = session.get_one(Timer, timer_id)
        assert (timer.done_at, timer.outcome) == (T0, "x" * 200)


def test_a_claim_rolled_back_with_its_transaction_leaves_the_timer_due(session_factory: sessionmaker[Session]) -> None:
    timer_id = _schedule(session_factory, "k", T0)
    with pytest.raises(RuntimeError), unit_of_work(session_factory) as session:
        timer = claim_due_timer(session=session, now=T0, worker="crashing")
        assert timer is not None
        finish_timer(timer, outcome="done", now=T0)
        raise RuntimeError("handler failed")
    assert _claim(session_factory, T0, worker="w2") == timer_id


def _hold_claims(factory: sessionmaker[Session], workers: int, per_worker: int) -> list[list[int | None]]:
    """Each worker claims (and handles) `per_worker` timers in one transaction, holding the locks until all have claimed."""
    barrier = threading.Barrier(workers, timeout=BARRIER_TIMEOUT)

    def work(name: str) -> list[int | None]:
        with unit_of_work(factory) as session:
            claimed = []
            for _ in range(per_worker):
                timer = claim_due_timer(session=session, now=T0, worker=name)
                claimed.append(timer.id if timer else None)
                if timer is not None:  # handled: the next claim in this transaction must not return it again
                    finish_timer(timer, outcome="done", now=T0)
            barrier.wait()  # every worker is inside its transaction, holding its row locks
            return claimed

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(work, [f"w{i}" for i in range(workers)]))


def test_two_workers_claiming_at_once_never_get_the_same_timer(session_factory: sessionmaker[Session]) -> None:
    ids = [_schedule(session_factory, f"k{i}", T0 - timedelta(minutes=i)) for i in range(3)]

    first, second = _hold_claims(session_factory, workers=2, per_worker=1)

    assert first[0] is not None and second[0] is not None
    assert first[0] != second[0]
    assert {first[0], second[0]} == {ids[2], ids[1]}  # the two earliest due
    with unit_of_work(session_factory) as session:
        claimers = dict(session.execute(select(Timer.id, Timer.claimed_by).where(Timer.claimed_by.is_not(None))).all())
        assert claimers == {first[0]: "w0", second[0]: "w1"}


def test_a_locked_timer_is_skipped_not_waited_for(session_factory: sessionmaker[Session]) -> None:
    only = _schedule(session_factory, "only", T0)

    results = _hold_claims(session_factory, workers=2, per_worker=1)

    assert sorted(results, key=lambda r: r[0] is None) == [[only], [None]]


def test_many_workers_share_the_due_timers_without_overlap(session_factory: sessionmaker[Session]) -> None:
    ids = {_schedule(session_factory, f"k{i}", T0 - timedelta(seconds=i)) for i in range(10)}

    results = _hold_claims(session_factory, workers=4, per_worker=3)

    claimed = [timer_id for result in results for timer_id in result if timer_id is not None]
    assert len(claimed) == len(set(claimed)) == 10
    assert set(claimed) == ids
    assert sum(result.count(None) for result in results) == 2


def test_cancel_finishes_only_pending_timers_of_the_given_kinds_for_that_incident(
    session_factory: sessionmaker[Session],
) -> None:
    incident_id = open_test_incident(session_factory, "view:1")
    other_id = open_test_incident(session_factory, "view:2")
    ack1 = _schedule(session_factory, "ack1", T0, kind="ack_escalation", incident_id=incident_id)
    ack2 = _schedule(session_factory, "ack2", T0 + timedelta(minutes=5), kind="ack_escalation", incident_id=incident_id)
    update = _schedule(session_factory, "upd", T0, kind="client_update_due", incident_id=incident_id)
    check = _schedule(session_factory, "chk", T0, kind="check_in", incident_id=incident_id)
    other = _schedule(session_factory, "other", T0, kind="ack_escalation", incident_id=other_id)
    finished = _schedule(session_factory, "fin", T0, kind="ack_escalation", incident_id=incident_id)
    _finish(session_factory, finished, T0, outcome="level 1")
    cancelled_at = T0 + timedelta(minutes=2)

    with unit_of_work(session_factory) as session:
        count = cancel_timers(
            session=session,
            incident_id=incident_id,
            kinds=["ack_escalation", "client_update_due"],
            now=cancelled_at,
            outcome="acknowledged",
        )
        assert count == 3

    with unit_of_work(session_factory) as session:
        state = {t.id: (t.done_at, t.outcome) for t in session.scalars(select(Timer))}
    assert state == {
        ack1: (cancelled_at, "acknowledged"),
        ack2: (cancelled_at, "acknowledged"),
        update: (cancelled_at, "acknowledged"),
        check: (None, None),
        other: (None, None),
        finished: (T0, "level 1"),
    }
    with unit_of_work(session_factory) as session:
        again = cancel_timers(
            session=session, incident_id=incident_id, kinds=["ack_escalation"], now=T0, outcome="acknowledged"
        )
        assert again == 0


def test_cancel_with_a_generator_of_kinds(session_factory: sessionmaker[Session]) -> None:
    incident_id = open_test_incident(session_factory, "view:1")
    _schedule(session_factory, "ack1", T0, kind="ack_escalation", incident_id=incident_id)
    with unit_of_work(session_factory) as session:
        kinds = (k for k in ["ack_escalation"])
        assert cancel_timers(session=session, incident_id=incident_id, kinds=kinds, now=T0, outcome="x") == 1


def test_next_due_is_the_earliest_pending_timer_of_the_incident(session_factory: sessionmaker[Session]) -> None:
    incident_id = open_test_incident(session_factory, "view:1")
    other_id = open_test_incident(session_factory, "view:2")
    with unit_of_work(session_factory) as session:
        assert next_due(session=session, incident_id=incident_id) is None
    _schedule(session_factory, "other", T0 - timedelta(hours=1), kind="ack_escalation", incident_id=other_id)
    finished = _schedule(
        session_factory, "fin", T0 - timedelta(minutes=30), kind="ack_escalation", incident_id=incident_id
    )
    _finish(session_factory, finished, T0)
    update = _schedule(
        session_factory, "upd", T0 + timedelta(minutes=30), kind="client_update_due", incident_id=incident_id
    )
    ack = _schedule(session_factory, "ack", T0 + timedelta(minutes=5), kind="ack_escalation", incident_id=incident_id)

    with unit_of_work(session_factory) as session:
        found = next_due(session=session, incident_id=incident_id)
        assert found is not None and (found.id, found.due_at) == (ack, T0 + timedelta(minutes=5))
        only_updates = next_due(session=session, incident_id=incident_id, kinds=["client_update_due"])
        assert only_updates is not None and only_updates.id == update
        assert next_due(session=session, incident_id=incident_id, kinds=["check_in"]) is None
        assert next_due(session=session, incident_id=incident_id, kinds=[]) is None


def test_a_worker_claiming_again_before_finishing_gets_its_own_timer_back(
    session_factory: sessionmaker[Session],
) -> None:
    """SKIP LOCKED skips other transactions' locks, not this one's: a claim lasts until finished or rolled back."""
    first = _schedule(session_factory, "k1", T0 - timedelta(minutes=1))
    second = _schedule(session_factory, "k2", T0)
    with unit_of_work(session_factory) as session:
        timer = claim_due_timer(session=session, now=T0, worker="w1")
        assert timer is not None and timer.id == first
        again = claim_due_timer(session=session, now=T0, worker="w1")
        assert again is timer
        finish_timer(timer, outcome="done", now=T0)
        after = claim_due_timer(session=session, now=T0, worker="w1")
        assert after is not None and after.id == second
