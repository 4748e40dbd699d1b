"""`/readyz`: ready to take traffic when the database answers, its schema is at the latest migration, and this
process's scheduler is running."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, inspect, text

from bot.migrate import head_revision

VERSION_TABLE = "alembic_version"


class Scheduler(Protocol):
    @property
    def running(self) -> bool: ...


@dataclass(frozen=True)
class Readiness:
    database: str  # ok | unreachable
    migrations: str  # ok | not at head | unknown (database unreachable)
    scheduler: str  # running | stopped | not started
    revision: str | None
    head: str | None

    @property
    def not_ready(self) -> list[str]:
        checks = {"database": self.database == "ok", "migrations": self.migrations == "ok"}
        checks["scheduler"] = self.scheduler == "running"
        return [name for name, ok in checks.items() if not ok]

    @property
    def ready(self) -> bool:
        return not self.not_ready

    def as_json(self) -> dict[str, Any]:
        return {
            "status": "ready" if self.ready else "not ready",
            "database": self.database,
            "migrations": self.migrations,
            "revision": self.revision,
            "head": self.head,
            "scheduler": self.scheduler,
            "not_ready": self.not_ready,
        }


@cache
def _head() -> str | None:
    """The latest migration shipped with this code (it cannot change while the process runs)."""
    return head_revision()


def check_readiness(engine: Engine, scheduler: Scheduler | None) -> Readiness:
    head = _head()
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            revision = _revision(connection)
    except Exception:
        return Readiness("unreachable", "unknown", _scheduler_state(scheduler), None, head)
    migrations = "ok" if revision == head else "not at head"
    return Readiness("ok", migrations, _scheduler_state(scheduler), revision, head)


def _revision(connection: Connection) -> str | None:
    """Alembic's current revision, read directly (alembic's MigrationContext logs at INFO on every probe)."""
    if not inspect(connection).has_table(VERSION_TABLE):  # never migrated
        return None
    rows = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()
    return str(rows[0]) if len(rows) == 1 else None


def _scheduler_state(scheduler: Scheduler | None) -> str:
    if scheduler is None:
        return "not started"
    return "running" if scheduler.running else "stopped"
