import uuid
from pathlib import Path

import psycopg
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect

from bot.db import make_engine
from bot.migrate import current_revision, downgrade, head_revision, include_object, upgrade
from bot.models import Base

EXPECTED_TABLES = set(Base.metadata.tables)


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def _cycle(url: str) -> None:
    upgrade(url)
    assert _tables(url) == EXPECTED_TABLES
    downgrade(url, "base")
    assert _tables(url) == set()
    upgrade(url)
    assert _tables(url) == EXPECTED_TABLES
    engine = make_engine(url)
    assert current_revision(engine) == head_revision()
    engine.dispose()


def test_migrations_go_up_down_and_up_on_postgresql(postgres_server_url: str) -> None:
    name = f"triage_mig_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres_server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        base = postgres_server_url.rpartition("/")[0].replace("postgresql://", "postgresql+psycopg://")
        _cycle(f"{base}/{name}")
    finally:
        with psycopg.connect(postgres_server_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def test_migrations_go_up_down_and_up_on_sqlite(tmp_path: Path) -> None:
    _cycle(f"sqlite:///{tmp_path / 'bot.db'}")


def test_the_models_and_the_migrations_agree(engine: Engine) -> None:
    """Autogenerate finds nothing to do on a fully migrated PostgreSQL database."""
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"include_object": include_object, "compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
