"""`triage-bot`: run the bot and manage its database."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn
from zoneinfo import ZoneInfo

import typer
from rich.console import Console

from bot.cli_database import (
    CliDatabase,
    database_as_configured,
    database_for_reading,
    database_label,
    missing_file,
)
from bot.config import Settings, SettingsError, load_settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from bot.clock import Clock
    from bot.services.container import Services

app = typer.Typer(help="Slack triage & escalation bot.", no_args_is_help=True, add_completion=False)
db_app = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)
app.add_typer(db_app, name="db")
oncall_app = typer.Typer(help="On-call rotations.", no_args_is_help=True)
app.add_typer(oncall_app, name="oncall")
console = Console(stderr=True)

NO_CREDENTIALS = (
    "{missing} not set: create the Slack app from slack-app-manifest.yaml "
    "(docs/operations.md, 'Create the Slack app') and set them in the environment or .env "
    "(for installs into many workspaces, SLACK_CLIENT_ID and SLACK_CLIENT_SECRET instead of the bot token)."
)


def fail(message: str) -> NoReturn:
    """Stop with one clear line."""
    console.print(f"[bold red]triage-bot:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=2)


def settings_or_exit(**overrides: object) -> Settings:
    try:
        return load_settings(**overrides)
    except SettingsError as exc:
        fail(str(exc))
        raise AssertionError("unreachable") from exc


def configure_logging() -> None:
    """One JSON object per line on stderr (text on a terminal), redacted, with the request context.

    LOG_LEVEL and LOG_FORMAT are read from the environment here, before Settings, so that start-up is logged the
    same way; `serve_http` applies them again from the validated Settings (which also read `.env`).
    """
    from bot.observability.logs import setup_logging

    setup_logging(
        level=os.environ.get("LOG_LEVEL", "INFO"), log_format=os.environ.get("LOG_FORMAT", "auto"), stream=sys.stderr
    )
    logging.captureWarnings(True)  # library warnings become log records too, not raw lines between the JSON


def verify_slack_token(settings: Settings) -> None:
    """Ask Slack (auth.test) before serving, so a wrong token is one line now, not a failure per request."""
    from bot.integrations.slack import SlackCallError, SlackGateway, build_web_client

    if settings.slack_bot_token is None:
        return  # OAuth installs: each workspace's token is checked by Slack on its own requests
    gateway = SlackGateway(
        build_web_client(token=settings.slack_bot_token.get_secret_value(), base_url=settings.slack_api_url)
    )
    try:
        gateway.call("auth.test", {})
    except SlackCallError as exc:
        fail(f"Slack did not accept SLACK_BOT_TOKEN at {settings.slack_api_url} ({exc.error}).")


def migrate_or_exit(settings: Settings, url: str | None = None) -> None:
    """Bring the schema up to date (creating a SQLite file that is not there: only for commands that write)."""
    from sqlalchemy.exc import OperationalError

    from bot.migrate import upgrade

    try:
        upgrade(url or settings.database_url)
    except OperationalError as exc:
        fail(f"Cannot reach the database in DATABASE_URL ({type(exc.orig).__name__}). Is it running?")


def existing_database_or_exit(database: CliDatabase) -> CliDatabase:
    """Stop with one line when there is nothing to read: never create an empty database to say so."""
    missing = missing_file(database)
    if missing is not None:
        fail(missing)
    return database


def database_to_read(settings: Settings) -> CliDatabase:
    """DATABASE_URL, the default file or the sandbox's (saying so on stderr); stops when there is none yet."""
    database = database_for_reading(settings)
    if database.sandbox_instead:
        note(
            f"reading the sandbox's database {database.label} (DATABASE_URL is not set and there is no "
            f"{database_label(settings.database_url)})."
        )
    return existing_database_or_exit(database)


def note(message: str) -> None:
    """One line on stderr that is not an error."""
    console.print(f"triage-bot: {message}", highlight=False, soft_wrap=True, markup=False)


@dataclass(frozen=True)
class Reading:
    """What a command that reads works with: a session factory, the time to read at, the display zone and where."""

    session_factory: sessionmaker[Session]
    clock: Clock
    zone: ZoneInfo
    database: CliDatabase


@contextmanager
def reading(now: str | None = None) -> Iterator[Reading]:
    """The database to read (schema brought up to date, never created), at `--now`, at the sandbox's clock when the
    database is a sandbox's, else at real time."""
    from bot.db import make_engine, make_session_factory

    settings = settings_or_exit()
    at = parse_now(now, settings.display_zone)
    database = database_to_read(settings)
    migrate_or_exit(settings, database.url)
    engine = make_engine(database.url)
    try:
        factory = make_session_factory(engine)
        yield Reading(factory, clock_for_reading(factory, at, settings.display_zone), settings.display_zone, database)
    finally:
        engine.dispose()


NOW_HELP = "Read as of this time (ISO-8601, e.g. 2026-12-08T14:05Z; without an offset, in DISPLAY_TIMEZONE)."


def parse_now(text: str | None, zone: ZoneInfo) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        fail(f"--now '{text}' is not an ISO-8601 time such as 2026-12-08T14:05Z.")
    return (moment if moment.tzinfo else moment.replace(tzinfo=zone)).astimezone(UTC)


def clock_for_reading(factory: sessionmaker[Session], at: datetime | None, zone: ZoneInfo) -> Clock:
    """`--now` when given; the sandbox's fast-forwarded time for a database the sandbox has run on; else real time."""
    from bot.clock import ManualClock, OffsetClock, SystemClock
    from bot.db import unit_of_work
    from bot.domain.durations import humanize_duration
    from bot.exports.summary_formats import display_time
    from bot.sandbox.clock_store import stored_offset

    if at is not None:
        return ManualClock(at)
    with unit_of_work(factory) as session:
        offset = stored_offset(session)
    if not offset:
        return SystemClock()
    clock = OffsetClock(offset)
    note(
        f"the sandbox's clock is {humanize_duration(offset)} ahead of real time: reading as of its "
        f"{display_time(clock.now(), zone)} (--now sets another time)."
    )
    return clock


@app.command()
def run(
    port: int | None = typer.Option(None, help="HTTP port (default: PORT or 3000)."),
    host: str = typer.Option("0.0.0.0", help="Interface to listen on."),
    migrate: bool = typer.Option(True, help="Apply database migrations before starting."),
) -> None:
    """Start the bot: Socket Mode when SLACK_APP_TOKEN is set, else HTTP on /slack/events."""
    configure_logging()
    settings = settings_or_exit(**({"port": port} if port else {}))
    missing = settings.missing_slack_credentials()
    if missing:
        fail(NO_CREDENTIALS.format(missing=" and ".join(missing) + (" is" if len(missing) == 1 else " are")))
    if settings.oauth_enabled and settings.slack_app_token is not None:
        fail("OAuth installs (SLACK_CLIENT_ID) need HTTP mode for /slack/install: unset SLACK_APP_TOKEN.")
    if migrate:
        migrate_or_exit(settings)
    verify_slack_token(settings)
    from bot.server import serve_http, serve_socket_mode

    log = logging.getLogger("bot.cli")  # through logging, so a JSON log stays one object per line
    if settings.slack_app_token is not None:
        log.info("Starting in Socket Mode")
        serve_socket_mode(settings)
    else:
        log.info("Serving Slack requests at http://%s:%s/slack/events", host, settings.port)
        serve_http(settings, host=host, port=settings.port)


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head")) -> None:
    """Apply migrations up to REVISION (default: the latest)."""
    from bot.migrate import upgrade

    settings = settings_or_exit()
    upgrade(settings.database_url, revision)
    console.print(f"Database at {revision}.", highlight=False)


@db_app.command("downgrade")
def db_downgrade(revision: str = typer.Argument(..., help="Target revision, e.g. base or 0001.")) -> None:
    """Revert migrations down to REVISION."""
    from bot.migrate import downgrade

    settings = settings_or_exit()
    existing_database_or_exit(database_as_configured(settings))
    downgrade(settings.database_url, revision)
    console.print(f"Database at {revision}.", highlight=False)


@db_app.command("current")
def db_current() -> None:
    """Show the applied and the latest revision."""
    from bot.db import make_engine
    from bot.migrate import current_revision, head_revision

    database = database_to_read(settings_or_exit())
    engine = make_engine(database.url)
    try:
        current = current_revision(engine)
    finally:
        engine.dispose()
    console.print(f"applied: {current or 'none'} · latest: {head_revision()}", highlight=False)


def _services_for_cli(settings: Settings) -> Services:
    from bot.services.wiring import build_services

    migrate_or_exit(settings)
    return build_services(settings)


@oncall_app.command("load")
def oncall_load(
    path: Path = typer.Argument(..., help="YAML or TOML file with a `teams` list (see docs/user-guide.md)."),
    prune: bool = typer.Option(False, help="Delete teams that are not in the file (of that workspace only)."),
    team: str | None = typer.Option(
        None, "--team", help="The Slack workspace (T…) whose incidents these rotations page (OAuth installs)."
    ),
) -> None:
    """Create or update rotations from a file."""
    from bot.domain.errors import DomainError
    from bot.domain.oncall_file import OncallFileError
    from bot.domain.workspaces import parse_team_id
    from bot.services.oncall import load_rotations

    settings = settings_or_exit()
    try:
        workspace = parse_team_id(team) if team is not None else None
        names = load_rotations(_services_for_cli(settings), path, prune=prune, workspace=workspace)
    except (OncallFileError, DomainError) as exc:
        fail(str(exc))
    where = f" for workspace {workspace}" if workspace else ""
    console.print(f"Loaded {len(names)} team(s){where}: {', '.join(names)}", highlight=False)


@oncall_app.command("show")
def oncall_show(
    team: str | None = typer.Option(None, "--team", help="Only this Slack workspace's rotations (T…)."),
) -> None:
    """Who is on call now for each team."""
    from bot.db import unit_of_work
    from bot.domain.errors import DomainError
    from bot.domain.names import display_name, names_for
    from bot.domain.oncall import on_call_now
    from bot.domain.workspaces import parse_team_id

    try:
        workspace = parse_team_id(team) if team is not None else None
    except DomainError as exc:
        fail(str(exc))
    with reading() as read, unit_of_work(read.session_factory) as session:
        oncalls = on_call_now(session=session, at=read.clock.now(), workspace=workspace)
        names = names_for(session, [o.user_id for o in oncalls], team_id=workspace)
    if not oncalls:
        console.print("No on-call rotation is set up (`triage-bot oncall load FILE`).", highlight=False)
    for oncall in oncalls:
        until = f" until {oncall.until:%Y-%m-%d %H:%M} UTC" if oncall.until else ""
        cover = " (override)" if oncall.via_override else ""
        console.print(f"{oncall.team}: {display_name(oncall.user_id, names)}{cover}{until}", highlight=False)


@app.command("export")
def export(
    reference: str = typer.Argument(..., help="The incident's key, e.g. INC-12."),
    export_format: str = typer.Option("md", "--format", "-f", help="md, html or json."),
    audit: bool = typer.Option(False, "--audit", help="Export the audit trail instead of the one-page summary."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write to this file instead of stdout."),
    now: str | None = typer.Option(None, "--now", help=NOW_HELP),
) -> None:
    """Write an incident's one-page summary (or, with --audit, its audit trail) as Markdown, HTML or JSON."""
    from bot.domain.incidents import parse_incident_key
    from bot.exports import ExportFormat

    formats = [f.value for f in ExportFormat]
    number = parse_incident_key(reference)
    if export_format.lower() not in formats:
        fail(f"Unknown format '{export_format}': use {', '.join(formats)}.")
    elif number is None:
        fail(f"'{reference}' is not an incident key such as INC-12.")
    else:
        text = _export_text(number, export_format.lower(), audit=audit, now=now)
        _write_export(text, output, what=f"{'audit trail' if audit else 'summary'} of INC-{number}")


def _export_text(number: int, export_format: str, *, audit: bool, now: str | None) -> str:
    """The rendered export, or one clear line and exit when there is no such incident."""
    from bot.db import unit_of_work
    from bot.domain.errors import DomainError, IncidentNotFound, quoted
    from bot.domain.summary import build_audit_trail, build_summary
    from bot.exports import ExportFormat, render_audit, render_summary

    chosen = ExportFormat(export_format)
    with reading(now) as read:
        try:
            with unit_of_work(read.session_factory) as session:
                if audit:
                    trail = build_audit_trail(session=session, incident_id=number)
                    return render_audit(trail, chosen, zone=read.zone)
                summary = build_summary(session=session, incident_id=number, now=read.clock.now())
                return render_summary(summary, chosen, zone=read.zone)
        except IncidentNotFound as exc:  # the operator sees every workspace: name the key
            fail(f"There is no incident {quoted(exc.reference)}. {list_hint(read.database)}")
        except DomainError as exc:
            fail(str(exc))


@app.command("list")
def list_incidents(
    everything: bool = typer.Option(False, "--all", help="Also the resolved and closed incidents, latest first."),
    team: str | None = typer.Option(None, "--team", help="Only this Slack workspace's incidents (T…)."),
    now: str | None = typer.Option(None, "--now", help=NOW_HELP),
) -> None:
    """Open incidents, nearest deadline first (like `/triage list`), with their client, deadline and owner."""
    from bot.db import unit_of_work
    from bot.domain.errors import DomainError
    from bot.domain.incidents import list_finished_incidents, list_open_incidents
    from bot.domain.workspaces import parse_team_id
    from bot.exports.incident_list import render_incident_list

    try:
        workspace = parse_team_id(team) if team is not None else None
    except DomainError as exc:
        fail(str(exc))
    with reading(now) as read, unit_of_work(read.session_factory) as session:
        opened = list_open_incidents(session=session, limit=None, workspace=workspace)
        finished = list_finished_incidents(session=session, workspace=workspace) if everything else None
        # Clients by name; people by id until the database keeps their names.
        text = render_incident_list(opened, finished=finished, now=read.clock.now(), zone=read.zone, names={})
    typer.echo(text, nl=False)


def list_hint(database: CliDatabase) -> str:
    return f"`triage-bot list --all` shows the incidents in {database.label}."


def _write_export(text: str, output: Path | None, *, what: str) -> None:
    if output is None:
        typer.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"Cannot write {output}: {exc.strerror or exc}.")
    console.print(f"Wrote the {what} to {output}.", highlight=False, soft_wrap=True)


@app.command("report")
def report(
    days: int = typer.Option(30, "--days", "-d", help="How many days back from now (1-365), against as many before."),
    report_format: str = typer.Option("text", "--format", "-f", help="text, md or json."),
    charts: Path | None = typer.Option(None, "--charts", help="Write PNG charts into this directory."),
    team: str | None = typer.Option(None, "--team", help="Only this Slack workspace (T…); default: all of them."),
    now: str | None = typer.Option(None, "--now", help=NOW_HELP),
) -> None:
    """Key learnings & patterns: incidents by client, workflow, region and severity, response times, deadlines,
    recurring themes, product feedback by track and area, and the key learnings recorded."""
    from bot.domain.reports import InvalidPeriod, validate_days
    from bot.exports.report_formats import ReportFormat

    formats = [f.value for f in ReportFormat]
    if report_format.lower() not in formats:
        fail(f"Unknown format '{report_format}': use {', '.join(formats)}.")
    try:
        validate_days(days)
    except InvalidPeriod as exc:
        fail(str(exc))
    _print_report(days=days, report_format=report_format.lower(), charts=charts, team=team, now=now)


def _print_report(*, days: int, report_format: str, charts: Path | None, team: str | None, now: str | None) -> None:
    """Read straight from the database (the report needs no Slack or Jira client), print it, write the charts."""
    from bot.db import unit_of_work
    from bot.domain.reports import build_report
    from bot.exports.charts import render_charts
    from bot.exports.report_formats import ReportFormat, render_report

    with reading(now) as read, unit_of_work(read.session_factory) as session:
        period_report = build_report(session, days=days, now=read.clock.now(), workspace=team)
    typer.echo(render_report(period_report, ReportFormat(report_format), zone=read.zone), nl=False)
    if charts is not None:
        _write_charts([(chart.filename, chart.png) for chart in render_charts(period_report)], charts)


def _write_charts(files: list[tuple[str, bytes]], directory: Path) -> None:
    if not files:
        console.print("No charts: nothing was opened, filed or learned in the period.", highlight=False, soft_wrap=True)
        return
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for filename, png in files:
            (directory / filename).write_bytes(png)
    except OSError as exc:
        fail(f"Cannot write the charts into {directory}: {exc.strerror or exc}.")
    names = ", ".join(filename for filename, _ in files)
    console.print(f"Wrote {len(files)} charts to {directory.resolve()}: {names}", highlight=False, soft_wrap=True)


@app.command("adopt-incidents")
def adopt_incidents(
    team_id: str = typer.Argument(..., help="The Slack workspace's team id (T…) that should own them."),
) -> None:
    """After switching from SLACK_BOT_TOKEN to OAuth installs: give the incidents recorded before (which belong to
    no workspace yet) to the workspace they came from, so its people see them again."""
    from bot.db import make_engine, make_session_factory, unit_of_work
    from bot.domain.errors import DomainError
    from bot.domain.workspaces import adopt_unassigned, parse_team_id

    try:
        team = parse_team_id(team_id)
    except DomainError as exc:
        fail(str(exc))  # before anything touches the database
    settings = settings_or_exit()
    existing_database_or_exit(database_as_configured(settings))
    migrate_or_exit(settings)
    engine = make_engine(settings.database_url)
    try:
        with unit_of_work(make_session_factory(engine)) as session:
            adopted = adopt_unassigned(session, team)
    finally:
        engine.dispose()
    console.print(f"{adopted} incident{'s' if adopted != 1 else ''} now belong to workspace {team}.")


def main() -> None:
    app()


@app.command()
def sandbox(
    port: int = typer.Option(8080, help="Port of the web UI."),
    host: str = typer.Option("127.0.0.1", help="Interface the web UI listens on (beyond 127.0.0.1: never real data)."),
    database_url: str | None = typer.Option(
        None, "--database-url", help="Another database than sandbox.db; needs --not-production."
    ),
    not_production: bool = typer.Option(
        False, "--not-production", help="Confirm that --database-url holds nothing real (demo data goes into it)."
    ),
) -> None:
    """Try the bot without Slack: the real bot, a Slack emulator, the scheduler and a Slack-like web UI.

    Uses sandbox.db in the working directory (a DATABASE_URL in the environment or .env is refused); no Slack
    tokens are needed.
    """
    configure_logging()
    from bot.sandbox.web.runtime import SandboxError, run_sandbox

    try:
        run_sandbox(host=host, port=port, echo=typer.echo, database_url=database_url, not_production=not_production)
    except SandboxError as exc:
        fail(str(exc))
