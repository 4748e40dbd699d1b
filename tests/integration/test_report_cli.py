"""`triage-bot report`: the report in the terminal (text, Markdown, JSON) and its charts written to a directory."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner, Result

from bot.cli import app
from tests.integration.report_scenario import build_scenario

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


Run = Callable[..., Result]


@pytest.fixture
def run(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    """`triage-bot report ARGS` against the test database."""
    monkeypatch.chdir(tmp_path)  # no stray .env

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(app, ["report", *args], env={"DATABASE_URL": database_url, "LOG_LEVEL": "WARNING"})

    return invoke


@pytest.fixture
def incidents(session_factory: sessionmaker[Session]) -> None:
    build_scenario(session_factory, datetime.now(UTC))


@pytest.mark.usefixtures("incidents")
def test_report_prints_text_and_writes_charts_into_a_new_directory(run: Run, tmp_path: Path) -> None:
    charts = tmp_path / "out" / "charts"

    result = run("--days", "30", "--charts", str(charts))

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Key learnings & patterns — the last 30 days\n")
    assert "Incidents: 5 (before: 1, +4)" in result.stdout
    assert "Stability (1)" in result.stdout and "PROD-7" in result.stdout
    written = sorted(p.name for p in charts.iterdir())
    assert written == ["feedback-by-track.png", "incidents-per-week.png", "time-to-resolve.png"]
    assert all((charts / name).read_bytes().startswith(PNG_SIGNATURE) for name in written)
    assert f"Wrote 3 charts to {charts.resolve()}" in result.stderr


@pytest.mark.usefixtures("incidents")
def test_report_as_json_and_markdown(run: Run) -> None:
    as_json = run("--format", "json", "--days", "7")
    as_markdown = run("--format", "md")

    assert as_json.exit_code == 0 and as_markdown.exit_code == 0
    document = json.loads(as_json.stdout)
    assert document["period"]["days"] == 7 and document["incidents"]["count"] == 3  # INC-3, INC-4, INC-5
    assert as_markdown.stdout.startswith("# Key learnings & patterns — the last 30 days")


def test_an_empty_database_gives_an_empty_report_and_no_charts(
    run: Run, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    result = run("--charts", str(tmp_path / "charts"))

    assert result.exit_code == 0
    assert "No incidents opened in the last 30 days" in result.stdout
    assert "No charts" in result.stderr
    assert not (tmp_path / "charts").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--days", "0"], "1 to 365 days"), (["--days", "400"], "1 to 365 days"), (["--format", "pdf"], "text, md, json")],
)
def test_bad_options_stop_with_one_clear_line(run: Run, args: list[str], message: str) -> None:
    result = run(*args)

    assert result.exit_code == 2
    assert message in result.stderr
    assert result.stdout == ""
