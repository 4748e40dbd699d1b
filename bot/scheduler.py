"""APScheduler is only the clock: its one job asks the domain what is due (the database knows)."""

from __future__ import annotations

import logging
from datetime import UTC

from apscheduler.schedulers.background import BackgroundScheduler

from bot.services.container import Services
from bot.services.timers import run_due_timers

logger = logging.getLogger(__name__)


def tick(services: Services) -> None:
    """One pass over everything due: timers first (they queue messages), then the outbox delivers."""
    try:
        run_due_timers(services)
        report = services.outbox.deliver_due()
    except Exception:
        logger.exception("Scheduler tick failed; the next tick tries again")
        return
    if report.sent or report.failed or report.retrying:
        logger.info("Outbox: %s sent, %s retrying, %s failed", report.sent, report.retrying, report.failed)


def start_scheduler(services: Services) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(timezone=UTC)
    scheduler.add_job(
        tick,
        "interval",
        seconds=services.settings.scheduler_interval_seconds,
        args=[services],
        id="tick",
        max_instances=1,
        coalesce=True,
    )
    scheduler.start()
    return scheduler
