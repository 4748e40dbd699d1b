import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

from bot.db import make_engine
from bot.migrate import LIBRARY_TABLES, current_revision, downgrade, head_revision, include_object, upgrade
from bot.models import Base

EXPECTED_TABLES = set(Base.metadata.tables) | LIBRARY_TABLES  # ours, and slack_sdk's OAuth stores (0009)


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


def test_replicas_starting_at_once_migrate_one_at_a_time(postgres_server_url: str) -> None:
    """Four processes upgrade a fresh database at the same moment: one applies, the others wait and find it done."""
    name = f"triage_mig_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres_server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = postgres_server_url.rpartition("/")[0].replace("postgresql://", "postgresql+psycopg://")
    url = f"{base}/{name}"
    start = time.time() + 1.0  # all of them past their imports, then racing for the same instant
    script = (
        "import sys, time; from bot.migrate import upgrade; "
        "time.sleep(max(0.0, float(sys.argv[2]) - time.time())); upgrade(sys.argv[1])"
    )
    try:
        processes = [
            subprocess.Popen([sys.executable, "-c", script, url, str(start)], stderr=subprocess.PIPE, text=True)
            for _ in range(4)
        ]
        results = [(p.wait(timeout=60), p.stderr.read() if p.stderr else "") for p in processes]
        assert [code for code, _ in results] == [0, 0, 0, 0], [err[-2000:] for _, err in results]
        assert _tables(url) == EXPECTED_TABLES
        engine = make_engine(url)
        assert current_revision(engine) == head_revision()
        engine.dispose()
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


def test_downgrading_past_per_workspace_rotations_keeps_every_rotation(tmp_path: Path) -> None:
    """Before 0010 team names were unique across the database: same-named teams of two workspaces are renamed."""
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    upgrade(url, "0010")
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            for workspace in (None, "T0ALPHA", "T0BRAVO"):
                connection.execute(
                    text(
                        "INSERT INTO oncall_teams (workspace, name, timezone, handoff_time, rotation_days, starts_on, "
                        "leads, created_at) VALUES (:w, 'platform', 'UTC', '09:00', 7, '2026-11-30', '[]', "
                        "'2026-11-30 09:00:00+00:00')"
                    ),
                    {"w": workspace},
                )
        downgrade(url, "0009")
        with engine.connect() as connection:
            names = sorted(connection.execute(text("SELECT name FROM oncall_teams")).scalars())
        assert names == ["platform", "platform (T0ALPHA)", "platform (T0BRAVO)"]
    finally:
        engine.dispose()
