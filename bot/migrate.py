"""Apply and revert schema migrations (Alembic) from code and from the CLI."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

LIBRARY_TABLES = {"slack_installations", "slack_bots", "slack_oauth_states"}


def migrations_dir() -> Path:
    """The top-level `migrations` package: the repository's folder, or the copy an installed wheel carries."""
    return Path(str(resources.files("migrations")))


def include_object(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    """Keep library-owned tables (slack_sdk's OAuth stores) and PostgreSQL-only trigram indexes out of autogenerate."""
    if type_ == "table" and name in LIBRARY_TABLES:
        return False
    return not (type_ == "index" and name is not None and name.endswith("_trgm"))


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
