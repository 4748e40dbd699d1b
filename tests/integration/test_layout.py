"""The brief's top level: `blocks/`, `migrations/` and `alembic.ini` at the root, and an installed wheel carrying them."""

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import inspect

from bot.db import make_engine
from bot.migrate import head_revision

ROOT = Path(__file__).resolve().parents[2]
ALEMBIC = Path(sys.executable).with_name("alembic")


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env={**os.environ, **env}, capture_output=True, text=True, timeout=180)


def _revision(url: str) -> str | None:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            tables = set(inspect(connection).get_table_names())
            return connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() if tables else None
    finally:
        engine.dispose()


def test_the_top_level_is_the_briefs() -> None:
    for path in ("bot", "blocks", "migrations/versions", "alembic.ini", "Dockerfile", "pyproject.toml", "tests"):
        assert (ROOT / path).exists(), path
    assert not (ROOT / "bot" / "blocks").exists() and not (ROOT / "bot" / "migrations").exists()


def test_plain_alembic_upgrades_from_the_repository_root_reading_database_url(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'plain-alembic.db'}"
    result = _run([str(ALEMBIC), "upgrade", "head"], ROOT, {"DATABASE_URL": url})
    assert result.returncode == 0, result.stderr
    assert "Running upgrade" in result.stderr  # alembic.ini's logging: the person sees what ran
    assert _revision(url) == head_revision()
    current = _run([str(ALEMBIC), "current"], ROOT, {"DATABASE_URL": url})
    assert f"{head_revision()} (head)" in current.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    built = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(ROOT)], out, {})
    assert built.returncode == 0, built.stderr
    return next(out.glob("triage_bot-*.whl"))


def test_the_wheel_carries_blocks_and_the_migrations(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"blocks/__init__.py", "blocks/incident.py", "migrations/env.py", "migrations/script.py.mako"} <= names
    revisions = {name for name in names if name.startswith("migrations/versions/") and name.endswith(".py")}
    assert len(revisions) == len(list((ROOT / "migrations" / "versions").glob("*.py")))
    assert not any(name.startswith("tests/") for name in names)


def test_db_upgrade_works_from_the_installed_wheel_without_the_source_tree(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    url = f"sqlite:///{tmp_path / 'from-wheel.db'}"
    script = (
        "import sys, bot.migrate, migrations, blocks; from bot.cli import main;"
        f"assert migrations.__file__.startswith({str(site)!r}), migrations.__file__;"
        "sys.argv = ['triage-bot', 'db', 'upgrade']; main()"
    )
    result = _run([sys.executable, "-c", script], tmp_path, {"PYTHONPATH": str(site), "DATABASE_URL": url})
    assert result.returncode == 0, result.stderr + result.stdout
    assert _revision(url) == head_revision()
