"""What the benchmark scripts share: progress lines, percentiles, a scratch PostgreSQL database, clean stops."""

from __future__ import annotations

import signal
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import FrameType

import psycopg


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
