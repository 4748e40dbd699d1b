"""The scheduler's tick on real PostgreSQL: small alternating batches, a time budget, and a busy tick followed at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from apscheduler.events import EVENT_JOB_EXECUTED, JobExecutionEvent
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import ManualClock
from bot.config import load_settings
from bot.db import unit_of_work
from bot.domain.timers import schedule_timer
from bot.models import Timer
from bot.scheduler import TICK_JOB, TIMER_BATCH, TickReport, _run_again_if_busy, tick
from bot.services.container import Services
from bot.services.wiring import build_services
from tests.conftest import T0

UNHANDLED_KIND = "no_such_kind"  # finished as "no handler": a timer that needs neither Slack nor an incident


def _services(database_url: str, engine: Engine, clock: ManualClock, interval: float) -> Services:
    settings = load_settings(
        slack_bot_token="xoxb-test",
        slack_signing_secret="secret",
        slack_api_url="http://127.0.0.1:9/api/",  # never called: nothing here posts
        database_url=database_url,
        scheduler_interval_seconds=interval,
    )
    return build_services(settings, clock=clock, engine=engine)


def _schedule_due(factory: sessionmaker[Session], count: int) -> None:
    with unit_of_work(factory) as session:
        for n in range(count):
            schedule_timer(session=session, kind=UNHANDLED_KIND, due_at=T0, dedupe_key=f"t{n}", now=T0)


def _pending(factory: sessionmaker[Session]) -> int:
    with unit_of_work(factory) as session:
        return session.scalar(select(func.count()).select_from(Timer).where(Timer.done_at.is_(None))) or 0


def test_a_tick_with_time_to_spare_runs_every_batch_until_nothing_is_due(
    database_url: str, clean_db: Engine, session_factory: sessionmaker[Session], clock: ManualClock
) -> None:
    _schedule_due(session_factory, 3 * TIMER_BATCH + 4)
    report = tick(_services(database_url, clean_db, clock, interval=60))
    assert (report.timers, report.more, _pending(session_factory)) == (3 * TIMER_BATCH + 4, False, 0)


def test_a_tick_out_of_time_stops_after_a_batch_and_says_more(
    database_url: str, clean_db: Engine, session_factory: sessionmaker[Session], clock: ManualClock
) -> None:
    _schedule_due(session_factory, 2 * TIMER_BATCH + 1)
    services = _services(database_url, clean_db, clock, interval=0.000_001)  # the budget is spent at once
    reports = [tick(services) for _ in range(3)]
    assert [(r.timers, r.more) for r in reports] == [(TIMER_BATCH, True), (TIMER_BATCH, True), (1, False)]
    assert _pending(session_factory) == 0


def _job_event(report: TickReport) -> JobExecutionEvent:
    return JobExecutionEvent(EVENT_JOB_EXECUTED, TICK_JOB, "default", datetime.now(UTC), retval=report)


def test_a_tick_that_left_work_behind_is_followed_at_once_and_an_idle_one_is_not() -> None:
    scheduler = BackgroundScheduler(timezone=UTC)
    scheduler.add_job(lambda: None, "interval", hours=1, id=TICK_JOB)
    scheduler.start(paused=True)
    try:
        in_an_hour = scheduler.get_job(TICK_JOB).next_run_time
        _run_again_if_busy(scheduler, _job_event(TickReport(more=False)))
        assert scheduler.get_job(TICK_JOB).next_run_time == in_an_hour
        _run_again_if_busy(scheduler, _job_event(TickReport(more=True)))
        assert scheduler.get_job(TICK_JOB).next_run_time <= datetime.now(UTC) + timedelta(seconds=1)
    finally:
        scheduler.shutdown(wait=False)
