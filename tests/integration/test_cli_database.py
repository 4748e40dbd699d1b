"""Which database the CLI reads: DATABASE_URL, ./triage-bot.db, or the sandbox's ./sandbox.db when it is the only one;
a command that reads never creates a database; `triage-bot list`; reading at the sandbox's clock or at --now.

Each test runs the CLI in its own empty directory with SQLite files, as someone trying the bot would.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner, Result

from bot.cli import app
from bot.db import make_engine, make_session_factory, unit_of_work
from bot.domain.incidents import open_incident
from bot.migrate import head_revision, upgrade
from bot.models import Incident, IncidentStatus, Severity
from bot.sandbox.clock_store import store_offset, stored_offset
from tests.factories import a_report

Factory = sessionmaker[Session]
T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
NO_DATABASE = "No database at ./triage-bot.db yet: nothing has been recorded."
SANDBOX_NOTE = (
    "triage-bot: reading the sandbox's database ./sandbox.db (DATABASE_URL is not set and there is no ./triage-bot.db)."
)
READ_COMMANDS = [
    ["export", "INC-1"],
    ["export", "INC-1", "--audit", "--format", "json"],
    ["report"],
    ["list"],
    ["list", "--all"],
    ["oncall", "show"],
    ["db", "current"],
]


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working directory (no .env, no database)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def cli(*args: str, database_url: str | None = None) -> Result:
    """`triage-bot ARGS`, with DATABASE_URL unset unless given."""
    env = {"DATABASE_URL": database_url, "DISPLAY_TIMEZONE": "UTC", "LOG_LEVEL": "WARNING"}
    return CliRunner().invoke(app, list(args), env=env)


@contextmanager
def database_at(path: Path) -> Iterator[Factory]:
    """A migrated SQLite database in `path`, as the sandbox or the bot leaves it."""
    url = f"sqlite:///{path}"
    upgrade(url)
    engine = make_engine(url)
    try:
        yield make_session_factory(engine)
    finally:
        engine.dispose()


def add_incident(factory: Factory, key: str, now: datetime, **changes: Any) -> int:
    """An incident opened at `now`; `status`, `team_id` and `owner_id` set afterwards when given."""
    after = {name: changes.pop(name) for name in ("status", "team_id", "owner_id") if name in changes}
    with unit_of_work(factory) as session:
        incident = open_incident(
            session=session,
            report=a_report(now, **changes),
            reporter_id="U0AGENT",
            channel_id="C0SUPPORT",
            oncall_id="U0ONCALL",
            idempotency_key=key,
            now=now,
        ).incident
        for name, value in after.items():
            setattr(incident, name, value)
        if after.get("status") == IncidentStatus.RESOLVED:
            incident.resolved_at = now + timedelta(minutes=30)
        return incident.id


@pytest.fixture
def sandbox_db(here: Path) -> Factory:
    """./sandbox.db with INC-1, opened a minute ago; no ./triage-bot.db."""
    with database_at(here / "sandbox.db") as factory:
        add_incident(factory, "sandbox:1", datetime.now(UTC) - timedelta(minutes=1))
        return factory


# --- never an empty database -------------------------------------------------------------------------------------


@pytest.mark.parametrize("args", READ_COMMANDS, ids=" ".join)
def test_a_read_command_without_a_database_says_so_and_creates_none(here: Path, args: list[str]) -> None:
    result = cli(*args)

    assert result.exit_code == 2
    assert result.stdout == ""
    assert NO_DATABASE in result.stderr and "`triage-bot sandbox`" in result.stderr
    assert list(here.iterdir()) == [], "no file left behind (SQLite creates one on connect)"


@pytest.mark.parametrize("args", [["db", "downgrade", "base"], ["adopt-incidents", "T01ABCDEF"]], ids=" ".join)
def test_commands_that_change_recorded_data_need_it_to_exist(here: Path, args: list[str]) -> None:
    with database_at(here / "sandbox.db"):
        pass
    result = cli(*args)

    assert result.exit_code == 2 and NO_DATABASE in result.stderr
    assert sorted(p.name for p in here.iterdir() if not p.name.startswith("sandbox.db")) == []


def test_a_configured_database_is_used_even_when_missing(here: Path, sandbox_db: Factory) -> None:
    result = cli("list", database_url="sqlite:///elsewhere.db")

    assert result.exit_code == 2
    assert "No database at ./elsewhere.db yet: nothing has been recorded. Is DATABASE_URL right?" in result.stderr
    assert "sandbox" not in result.stderr
    assert not (here / "elsewhere.db").exists()


# --- the sandbox's database --------------------------------------------------------------------------------------


@pytest.mark.parametrize("args", READ_COMMANDS, ids=" ".join)
def test_after_the_sandbox_every_read_command_finds_its_database(
    here: Path, sandbox_db: Factory, args: list[str]
) -> None:
    result = cli(*args)

    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines()[0] == SANDBOX_NOTE
    assert not (here / "triage-bot.db").exists()


def test_export_and_list_show_the_sandboxs_incident(sandbox_db: Factory) -> None:
    exported = cli("export", "INC-1", "--format", "json")
    listed = cli("list")
    current = cli("db", "current")

    assert exported.exit_code == 0 and json.loads(exported.stdout)["incident"]["key"] == "INC-1"
    assert exported.stderr == SANDBOX_NOTE + "\n", "one line saying which database; no clock moved"
    assert listed.stdout.startswith("Open incidents (1), nearest deadline first:\nINC-1 ")
    assert "Hartley & Moss LLP · Exhibit upload fails at 99%" in listed.stdout
    assert f"applied: {head_revision()}" in current.stderr


def test_an_unknown_incident_points_at_the_clis_list_and_the_database(sandbox_db: Factory) -> None:
    result = cli("export", "INC-9")

    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.splitlines()[-1] == (
        "triage-bot: There is no incident INC-9. `triage-bot list --all` shows the incidents in ./sandbox.db."
    )
    assert "`/triage" not in result.stderr, "no Slack command in a terminal"


def test_commands_that_write_never_use_the_sandboxs_database(here: Path, sandbox_db: Factory) -> None:
    upgraded = cli("db", "upgrade")
    after = cli("export", "INC-1")

    assert upgraded.exit_code == 0 and (here / "triage-bot.db").exists(), "db upgrade creates the bot's database"
    assert after.exit_code == 2 and "sandbox" not in after.stderr, "from then on the CLI reads ./triage-bot.db"
    assert "There is no incident INC-1. `triage-bot list --all` shows the incidents in ./triage-bot.db." in (
        after.stderr
    )


# --- triage-bot list ---------------------------------------------------------------------------------------------


@pytest.fixture
def several(here: Path) -> None:
    """./triage-bot.db: INC-1 deadline in 3 h, INC-2 in 2 h (owned), INC-3 none, INC-4 resolved, INC-5 elsewhere."""
    with database_at(here / "triage-bot.db") as factory:
        add_incident(factory, "k1", T0, deadline_at=T0 + timedelta(hours=3))
        add_incident(factory, "k2", T0, client_name="Northwind Logistics", title="Search\n times out", owner_id="U0OL")
        add_incident(factory, "k3", T0, deadline_at=None, deadline_context=None, severity=Severity.SEV3)
        add_incident(factory, "k4", T0 - timedelta(days=1), status=IncidentStatus.RESOLVED)
        add_incident(factory, "k5", T0, deadline_at=T0 + timedelta(minutes=30), team_id="T0OTHER")


@pytest.mark.usefixtures("several")
def test_list_shows_open_incidents_nearest_deadline_first() -> None:
    result = cli("list", "--now", "2026-11-30T09:00:00Z")

    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert result.stdout.splitlines() == [
        "Open incidents (4), nearest deadline first:",
        "INC-5   SEV1  new            Hartley & Moss LLP · Exhibit upload fails at 99% · "
        "deadline 2026-11-30 09:30 UTC (in 30 min) · no owner yet",
        "INC-2   SEV1  new            Northwind Logistics · Search times out · "
        "deadline 2026-11-30 11:00 UTC (in 2 h) · owner U0OL",
        "INC-1   SEV1  new            Hartley & Moss LLP · Exhibit upload fails at 99% · "
        "deadline 2026-11-30 12:00 UTC (in 3 h) · no owner yet",
        "INC-3   SEV3  new            Hartley & Moss LLP · Exhibit upload fails at 99% · no deadline · no owner yet",
    ]


@pytest.mark.usefixtures("several")
def test_list_all_adds_the_finished_ones_and_team_keeps_one_workspace() -> None:
    everything = cli("list", "--all", "--now", "2026-11-30T12:30")
    one_team = cli("list", "--team", "T0OTHER", "--now", "2026-11-30T09:00Z")
    mistyped = cli("list", "--team", "other")

    lines = everything.stdout.splitlines()
    assert lines[0] == "Open incidents (4), nearest deadline first:"
    assert "deadline 2026-11-30 12:00 UTC (passed 30 min ago)" in lines[3]
    assert lines[-2:] == [
        "Resolved and closed (1), latest first:",
        "INC-4   SEV1  resolved       Hartley & Moss LLP · Exhibit upload fails at 99% · "
        "deadline 2026-11-29 11:00 UTC (met) · no owner yet",
    ]
    assert [line.split()[0] for line in one_team.stdout.splitlines()[1:]] == ["INC-5"]
    assert mistyped.exit_code == 2 and "'other' is not a Slack team id" in mistyped.stderr


def test_list_on_an_empty_database(here: Path) -> None:
    with database_at(here / "triage-bot.db"):
        pass
    result = cli("list", "--all")

    assert result.exit_code == 0
    assert result.stdout == "No open incidents.\n\nNone resolved or closed.\n"


# --- the sandbox's clock -----------------------------------------------------------------------------------------


def test_the_offset_is_kept_and_never_goes_back(here: Path) -> None:
    with database_at(here / "sandbox.db") as factory:
        with unit_of_work(factory) as session:
            assert stored_offset(session) is None, "a database no sandbox ran on has none"
            store_offset(session, timedelta(hours=2), now=T0)
        with unit_of_work(factory) as session:
            store_offset(session, timedelta(hours=1), now=T0)
        with unit_of_work(factory) as session:
            assert stored_offset(session) == timedelta(hours=2)
            store_offset(session, timedelta(hours=2, microseconds=1), now=T0)
        with unit_of_work(factory) as session:
            assert stored_offset(session) == timedelta(hours=2, microseconds=1)


def test_the_cli_reads_a_sandbox_database_at_the_sandboxs_time(here: Path) -> None:
    """The sandbox fast-forwarded 1 h past INC-1's deadline: the CLI agrees it was missed, and its export is
    generated after everything it lists."""
    real_now = datetime.now(UTC)
    with database_at(here / "sandbox.db") as factory:
        add_incident(factory, "k1", real_now, deadline_at=real_now + timedelta(minutes=30))
        with unit_of_work(factory) as session:
            store_offset(session, timedelta(hours=1), now=real_now)
            session.get_one(Incident, 1).acknowledged_at = real_now + timedelta(minutes=50)

    report = cli("report", "--format", "json", "--days", "7")
    export = cli("export", "INC-1", "--format", "json")
    at_real_time = cli(
        "report", "--format", "json", "--days", "7", "--now", (real_now + timedelta(minutes=1)).isoformat()
    )

    assert report.exit_code == 0, report.output
    assert "triage-bot: the sandbox's clock is 1 h ahead of real time: reading as of its " in report.stderr
    document = json.loads(report.stdout)
    assert document["deadlines"]["missed"] == 1 and document["deadlines"]["pending"] == 0
    end = datetime.fromisoformat(document["period"]["end"])
    assert real_now + timedelta(minutes=59) <= end <= datetime.now(UTC) + timedelta(hours=1, minutes=1)
    summary = json.loads(export.stdout)
    assert datetime.fromisoformat(summary["generated_at"]) >= datetime.fromisoformat(
        summary["milestones"]["acknowledged_at"]
    ), "Generated is never before what it reports"
    assert json.loads(at_real_time.stdout)["deadlines"]["pending"] == 1, "--now wins over the sandbox's clock"
    assert "sandbox's clock" not in at_real_time.stderr


def test_a_bad_now_is_one_clear_line(here: Path) -> None:
    with database_at(here / "triage-bot.db"):
        pass
    result = cli("report", "--now", "yesterday")

    assert result.exit_code == 2 and result.stdout == ""
    assert "--now 'yesterday' is not an ISO-8601 time such as 2026-12-08T14:05Z." in result.stderr
