"""Shared fixtures: a real PostgreSQL database for the whole run, cleaned between tests."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import ManualClock
from bot.db import make_engine, make_session_factory
from bot.migrate import LIBRARY_TABLES, upgrade
from bot.models import Base

LOCAL_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def _server_reachable(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=2):
            return True
    except psycopg.OperationalError:
        return False


@pytest.fixture(scope="session")
def postgres_server_url(request: pytest.FixtureRequest) -> str:
    """An admin URL: TEST_DATABASE_URL, else the local server, else a throwaway cluster."""
    configured = os.environ.get("TEST_DATABASE_URL")
    if configured:
        return configured.replace("postgresql+psycopg://", "postgresql://")
    if _server_reachable(LOCAL_SERVER):
        return LOCAL_SERVER
    try:
        proc = request.getfixturevalue("postgresql_proc")
    except Exception as exc:
        pytest.exit(
            f"No PostgreSQL at 127.0.0.1:5432 and a throwaway cluster could not start ({type(exc).__name__}; "
            "initdb refuses to run as root). Set TEST_DATABASE_URL or start PostgreSQL.",
            returncode=2,
        )
    return f"postgresql://{proc.user}@{proc.host}:{proc.port}/postgres"


@pytest.fixture(scope="session")
def database_url(postgres_server_url: str) -> Iterator[str]:
    """A fresh database for this test run, migrated to the latest revision, dropped at the end."""
    name = f"triage_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres_server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = postgres_server_url.rpartition("/")
    url = f"{base.replace('postgresql://', 'postgresql+psycopg://')}/{name}"
    upgrade(url)
    yield url
    with psycopg.connect(postgres_server_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def clean_db(engine: Engine) -> Iterator[Engine]:
    """The migrated database, emptied after the test."""
    yield engine
    names = [t.name for t in reversed(Base.metadata.sorted_tables)] + sorted(LIBRARY_TABLES)
    tables = ", ".join(f'"{name}"' for name in names)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture
def session_factory(clean_db: Engine) -> sessionmaker[Session]:
    return make_session_factory(clean_db)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """How many messages and views the strict Slack emulator checked in this run (every emulator in this process)."""
    from bot.sandbox.emulator.state import PAYLOADS

    if PAYLOADS.validated:
        terminalreporter.write_line(
            f"Slack emulator: {PAYLOADS.validated} Block Kit payloads checked, {PAYLOADS.refused} refused"
        )
