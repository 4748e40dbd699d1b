"""What the benchmark scripts share: progress lines, percentiles, a scratch PostgreSQL database, clean stops."""

from __future__ import annotations

import signal
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from types import FrameType

import psycopg

from bot.migrate import upgrade


def say(message: str) -> None:
    print(message, flush=True)


def percentile(values: Sequence[float], p: float) -> float:
    """The nearest-rank percentile `p` (0 to 100) of `values`; NaN when there are none."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] if ordered else float("nan")


def plain(url: str) -> str:
    """A SQLAlchemy `postgresql+psycopg://` URL as psycopg takes it."""
    return url.replace("postgresql+psycopg://", "postgresql://")


def _interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def stop_cleanly_on_signals() -> None:
    """Ctrl-C and SIGTERM raise KeyboardInterrupt (also when started with SIGINT ignored, as `cmd &` does), so
    `scratch_database` still drops its database."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)


@contextmanager
def scratch_database(server_url: str, prefix: str) -> Iterator[str]:
    """A new database on the server (a `postgresql://` URL), as a SQLAlchemy URL; dropped whatever happens."""
    server_url = plain(server_url)
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    say(f"created database {name}")
    base = server_url.rpartition("/")[0].replace("postgresql://", "postgresql+psycopg://")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        say(f"dropped database {name}")


@contextmanager
def migrated_scratch_database(server_url: str, prefix: str) -> Iterator[str]:
    """`scratch_database` with the bot's schema applied."""
    with scratch_database(server_url, prefix) as url:
        say("migrating ...")
        upgrade(url)
        yield url


def run_benchmark(bench: Callable[[], bool]) -> int:
    """The exit status of a benchmark: 0 when it met its targets, 1 when not, 130 when interrupted (Ctrl-C or
    SIGTERM; its scratch database is dropped all the same)."""
    stop_cleanly_on_signals()
    try:
        ok = bench()
    except KeyboardInterrupt:
        say("interrupted")
        return 130
    return 0 if ok else 1
