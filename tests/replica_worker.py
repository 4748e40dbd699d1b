"""One scheduler replica, run as its own OS process by the replica tests.

    python -m tests.replica_worker --database-url URL --slack-api-url URL --token TOKEN --ready-file PATH
        [--interval 0.2] [--max-seconds 50]

It builds its own Services (engine, pool, Slack client) from the settings given, writes `--ready-file` once
the database answers, then calls `tick(services)` every `--interval` seconds, as `start_scheduler` does in
production, until SIGTERM (it finishes the tick in hand and exits 0), until `--max-seconds` have passed, or
until the process that started it is gone, so a crashed test never leaves a replica running.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path
from types import FrameType

from bot.clock import SystemClock
from bot.config import load_settings
from bot.db import database_state
from bot.scheduler import tick
from bot.services.container import Services
from bot.services.wiring import build_services


class StopFlag:
    """Set by SIGTERM: the loop ends after the tick in hand."""

    def __init__(self) -> None:
        self.stopped = False

    def stop(self, _signum: int, _frame: FrameType | None) -> None:
        self.stopped = True


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--slack-api-url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--ready-file", type=Path, required=True)
    parser.add_argument("--interval", type=float, default=0.2)
    parser.add_argument("--max-seconds", type=float, default=50.0)
    return parser.parse_args(argv)


def build(args: argparse.Namespace) -> Services:
    settings = load_settings(
        database_url=args.database_url,
        slack_api_url=args.slack_api_url,
        slack_bot_token=args.token,
        scheduler_interval_seconds=args.interval,
        # The emulator of these tests enforces no rate limits (they test claiming, not Slack's pace).
        slack_posts_per_second=50,
        slack_post_burst=100,
        slack_tier_scale=20,
    )
    return build_services(settings, clock=SystemClock())


def run(services: Services, *, interval: float, max_seconds: float, flag: StopFlag) -> None:
    parent = os.getppid()
    deadline = time.monotonic() + max_seconds
    while not flag.stopped and time.monotonic() < deadline and os.getppid() == parent:
        started = time.monotonic()
        tick(services)
        time.sleep(max(0.0, interval - (time.monotonic() - started)))


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    flag = StopFlag()
    signal.signal(signal.SIGTERM, flag.stop)
    services = build(args)
    if database_state(services.engine) != "ok":
        print(f"replica {os.getpid()}: database unreachable", file=sys.stderr)
        return 1
    args.ready_file.write_text(str(os.getpid()))
    try:
        run(services, interval=args.interval, max_seconds=args.max_seconds, flag=flag)
    finally:
        services.engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
