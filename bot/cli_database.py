"""Which database a CLI command reads, and whether there is one to read.

`triage-bot sandbox` keeps its demo data in ``sandbox.db`` (it never takes DATABASE_URL: docs/security.md), while the
CLI defaults to ``triage-bot.db``. So that `triage-bot export INC-1` after a sandbox session finds INC-1, a command
that only reads uses ``sandbox.db`` when DATABASE_URL is not set (environment or .env), there is no ``triage-bot.db``
and there is a ``sandbox.db``. Commands that write (`run`, `db upgrade`, `oncall load`) never do: the bot's data never
goes into the sandbox's file.

SQLite creates a missing file on connect; a command that reads checks first (:func:`missing_file`) and says that
nothing has been recorded, instead of leaving an empty database behind.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot.config import SANDBOX_DATABASE_URL, Settings

__all__ = [
    "CliDatabase",
    "database_as_configured",
    "database_for_reading",
    "database_label",
    "missing_file",
    "sqlite_file",
]


@dataclass(frozen=True)
class CliDatabase:
    """The database a command works on, and why."""

    url: str
    configured: bool  # DATABASE_URL was set (environment or .env)
    sandbox_instead: bool = False  # the sandbox's, read because the default file does not exist

    @property
    def label(self) -> str:
        return database_label(self.url)


def sqlite_file(url: str) -> Path | None:
    """The file a SQLite URL names (relative to the working directory, as SQLite opens it); None for an in-memory
    database or another kind of database."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return None
    if parsed.get_backend_name() != "sqlite":
        return None
    name = parsed.database or ""
    if name in ("", ":memory:") or name.startswith("file:") or parsed.query.get("mode") == "memory":
        return None
    return Path(name)


def database_label(url: str) -> str:
    """How a message names the database: ``./triage-bot.db`` for a SQLite file, else the URL without its password."""
    path = sqlite_file(url)
    if path is not None:
        return str(path) if path.is_absolute() else f"./{path.as_posix().removeprefix('./')}"
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def database_for_reading(settings: Settings) -> CliDatabase:
    """DATABASE_URL when set; else the default file, or the sandbox's when only the sandbox has recorded anything."""
    if "database_url" in settings.model_fields_set:
        return CliDatabase(settings.database_url, configured=True)
    default = sqlite_file(settings.database_url)
    sandbox = sqlite_file(SANDBOX_DATABASE_URL)
    if default is not None and not default.exists() and sandbox is not None and sandbox.is_file():
        return CliDatabase(SANDBOX_DATABASE_URL, configured=False, sandbox_instead=True)
    return CliDatabase(settings.database_url, configured=False)


def database_as_configured(settings: Settings) -> CliDatabase:
    """DATABASE_URL or the default, never the sandbox's: what a command that changes the data works on."""
    return CliDatabase(settings.database_url, configured="database_url" in settings.model_fields_set)


def missing_file(database: CliDatabase) -> str | None:
    """One line saying there is nothing to read, when the database is a SQLite file that does not exist yet."""
    path = sqlite_file(database.url)
    if path is None or path.exists():
        return None
    if database.configured:
        where = "Is DATABASE_URL right? `triage-bot db upgrade` creates it; the bot (`triage-bot run`) fills it."
    else:
        where = (
            "DATABASE_URL is not set: set it to the bot's database, start the bot here (`triage-bot run`), "
            "or try it with demo data (`triage-bot sandbox`)."
        )
    return f"No database at {database.label} yet: nothing has been recorded. {where}"
