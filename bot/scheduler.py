"""APScheduler is only the clock: its one job asks the domain what is due (the database knows)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from apscheduler.events import EVENT_JOB_EXECUTED, JobExecutionEvent
from apscheduler.schedulers.background import BackgroundScheduler

from bot.integrations.outbox import DeliveryReport
from bot.services.container import Services
from bot.services.oncall import refresh_oncall_sources
from bot.services.timers import run_due_timers

logger = logging.getLogger(__name__)

TIMER_BATCH = 10  # timers run between two delivery passes; each queues a message or two
MESSAGE_BATCH = 25  # outbox rows delivered between two timer passes
TICK_SHARE = 0.8  # of the interval a busy tick may take before it hands over to the next (run at once)
TICK_JOB = "tick"


@dataclass
class TickReport:
    timers: int = 0
    delivered: DeliveryReport = field(default_factory=DeliveryReport)
    more: bool = False  # the tick stopped at its time budget with work left: the next one should start now

    def add(self, timers: int, report: DeliveryReport) -> None:
        self.timers += timers
        for name in ("sent", "retrying", "failed", "deferred", "claimed", "limited"):
            setattr(self.delivered, name, getattr(self.delivered, name) + getattr(report, name))


def tick(services: Services) -> TickReport:
    """Everything due, in alternating small batches: timers (which queue messages), then the outbox delivers them.

    Alternating means a check-in goes out within the tick it fell due in, even behind a backlog; the outbox pass
    goes on from where the previous one stopped, so rows that must wait (for their root) never hold others up.
    A busy tick stops after its share of the interval, saying `more`, and the next tick starts at once.
    """
    result = TickReport()
    deadline = time.monotonic() + TICK_SHARE * services.settings.scheduler_interval_seconds
    cursor = (0, 0)
    try:
        refresh_oncall_sources(services)
        while True:
            handled = run_due_timers(services, limit=TIMER_BATCH)
            report = services.outbox.deliver_due(limit=MESSAGE_BATCH, after=cursor)
            result.add(handled, report)
            cursor = report.last
            result.more = handled == TIMER_BATCH or report.claimed == MESSAGE_BATCH
            if not result.more or time.monotonic() >= deadline:
                break
    except Exception:
        logger.exception("Scheduler tick failed; the next tick tries again")
        return result
    sent = result.delivered
    if sent.busy:
        logger.info("Outbox: %s sent, %s retrying, %s failed", sent.sent, sent.retrying, sent.failed)
    return result


def start_scheduler(services: Services) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(timezone=UTC)
    scheduler.add_job(
        tick,
        "interval",
        seconds=services.settings.scheduler_interval_seconds,
        args=[services],
        id=TICK_JOB,
        max_instances=1,
        coalesce=True,
    )
    scheduler.add_listener(lambda event: _run_again_if_busy(scheduler, event), EVENT_JOB_EXECUTED)
    scheduler.start()
    return scheduler


def _run_again_if_busy(scheduler: BackgroundScheduler, event: JobExecutionEvent) -> None:
    """A tick that left work behind is followed at once, not at the next interval.

    APScheduler sends this event after the finished run no longer counts against `max_instances`, so the next run
    is not skipped.
    """
    if event.job_id == TICK_JOB and isinstance(event.retval, TickReport) and event.retval.more and scheduler.running:
        scheduler.modify_job(TICK_JOB, next_run_time=datetime.now(UTC))
