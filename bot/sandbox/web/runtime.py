"""`triage-bot sandbox`: the real bot, the Slack emulator, the scheduler and the web UI in one process.

Start order: database (migrations, demo data), emulator (Web API on a free local port, watched for changes), the
Bolt app over HTTP on a free local port, the scheduler, then the UI. Everything started is stopped in reverse
order by :meth:`RunningSandbox.stop`, also when a later step fails.
"""

from __future__ import annotations

import logging
import secrets
import signal
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import FrameType

from sqlalchemy.exc import OperationalError, SQLAlchemyError

from bot.app import build_bolt_app
from bot.config import Settings, SettingsError, load_settings
from bot.db import unit_of_work
from bot.migrate import upgrade
from bot.sandbox import demo
from bot.sandbox.clock_store import store_offset, stored_offset
from bot.sandbox.emulator import SlackEmulator
from bot.sandbox.platform import SlackPlatform
from bot.sandbox.web.app import SandboxWebApp
from bot.sandbox.web.changes import ChangeFeed
from bot.sandbox.web.clock import SandboxClock
from bot.sandbox.web.driver import SandboxDriver
from bot.sandbox.web.hosts import HostGuard, exposure_warning
from bot.sandbox.web.pages import PageRenderer
from bot.sandbox.web.workspace import SandboxWorkspace
from bot.sandbox.wsgi_server import start_background_server
from bot.scheduler import TICK_JOB, start_scheduler
from bot.services.container import Services
from bot.services.wiring import build_services
from bot.web import WebApp

__all__ = ["RunningSandbox", "SandboxError", "run_sandbox", "sandbox_database_url", "start_sandbox"]

LISTENER_THREADS = 16
logger = logging.getLogger(__name__)


class SandboxError(Exception):
    """The sandbox cannot start; the message is one line saying why."""


@dataclass
class RunningSandbox:
    """Handles on a started sandbox; :meth:`stop` shuts everything down."""

    url: str
    bot_url: str
    api_url: str
    database_url: str
    earlier_incidents: int
    services: Services
    emulator: SlackEmulator
    platform: SlackPlatform
    clock: SandboxClock
    feed: ChangeFeed
    _resources: ExitStack

    def stop(self) -> None:
        self._resources.close()


NOT_PRODUCTION_FLAG = "--not-production"


def sandbox_database_url(explicit: str | None = None, *, not_production: bool = False) -> str:
    """``sandbox.db`` in the working directory, or the database named with ``--database-url`` and ``--not-production``.

    The sandbox seeds demo people, clients and incidents into its database and sends what that database's outbox
    holds to the emulator, so it never takes one it was not explicitly given: a DATABASE_URL (environment or .env)
    that is not its own is refused.
    """
    if explicit is not None:
        if not not_production:
            raise SandboxError(
                f"--database-url needs {NOT_PRODUCTION_FLAG}: the sandbox seeds demo data into that database and "
                "sends its queued messages to the emulator; confirm it holds nothing real."
            )
        return _load_settings(database_url=explicit).database_url
    settings = _load_settings()
    configured = settings.database_url if "database_url" in settings.model_fields_set else None
    if configured is not None and configured != demo.SANDBOX_DATABASE_URL:
        raise SandboxError(
            f"DATABASE_URL is set ({_safe_url(configured)}): the sandbox would seed demo data into that database and "
            "drain its outbox, so it uses only its own sandbox.db. Unset DATABASE_URL, or pass --database-url URL "
            f"{NOT_PRODUCTION_FLAG} for a database that holds nothing real."
        )
    return demo.SANDBOX_DATABASE_URL


def _migrate(database_url: str) -> None:
    try:
        upgrade(database_url)
    except OperationalError as exc:
        raise SandboxError(f"Cannot reach the database in DATABASE_URL ({type(exc.orig).__name__}).") from None


def _seed(services: Services, clock: SandboxClock) -> int:
    """Demo data in, clock caught up with what an earlier run recorded; returns how many incidents exist."""
    with unit_of_work(services.session_factory) as session:
        offset = stored_offset(session)
        if offset is not None:
            clock.restore(offset)
        latest = demo.latest_recorded_time(session)
        if latest is not None:
            clock.catch_up(latest)
        demo.seed_database(session, now=clock.now())
        return demo.incident_count(session)


def _keep_offset_in_database(services: Services, clock: SandboxClock) -> None:
    """Store the clock's offset now and on every move, so the CLI reads this database at the sandbox's time."""

    def store(offset: timedelta) -> None:
        try:
            with unit_of_work(services.session_factory) as session:
                store_offset(session, offset, now=datetime.now(UTC))
        except SQLAlchemyError:  # the page's clock still moves; the CLI would read the previous offset
            logger.warning("Could not keep the sandbox clock's offset in the database", exc_info=True)

    store(clock.offset)
    clock.on_move(store)


def _start_emulator(clock: SandboxClock, feed: ChangeFeed, resources: ExitStack) -> SlackEmulator:
    emulator = SlackEmulator(clock=clock.epoch)
    demo.seed_workspace(emulator)
    api = start_background_server(feed.watch(emulator.wsgi_app))
    resources.callback(api.stop)
    emulator.base_url = api.url
    return emulator


def _start_bot(services: Services, signing_secret: str, emulator: SlackEmulator, resources: ExitStack) -> SlackPlatform:
    listeners = ThreadPoolExecutor(max_workers=LISTENER_THREADS, thread_name_prefix="sandbox-listener")
    resources.callback(listeners.shutdown, wait=True)
    bot = start_background_server(WebApp(build_bolt_app(services, listener_executor=listeners), services))
    resources.callback(bot.stop)
    return SlackPlatform(emulator, f"{bot.url}/slack/events", signing_secret)


def _start_pagerduty(resources: ExitStack) -> str:
    """The demo's on-call source: a fake PagerDuty on a free local port."""
    pagerduty = start_background_server(demo.fake_pagerduty())
    resources.callback(pagerduty.stop)
    return pagerduty.url


def _bot_settings(emulator: SlackEmulator, signing_secret: str, database_url: str, pagerduty_url: str) -> Settings:
    overrides = demo.bot_settings(
        api_url=emulator.api_url,
        signing_secret=signing_secret,
        bot_token=emulator.bot_token,
        database_url=database_url,
        pagerduty_url=pagerduty_url,
    )
    return _load_settings(**overrides)


def _load_settings(**overrides: object) -> Settings:
    try:
        return load_settings(**overrides)
    except SettingsError as exc:
        raise SandboxError(str(exc)) from None


def start_sandbox(*, host: str = "127.0.0.1", port: int = 8080, database_url: str | None = None) -> RunningSandbox:
    """Start everything; ``port`` 0 picks a free one. Raises :class:`SandboxError` with one line on failure."""
    database_url = database_url or sandbox_database_url()
    _migrate(database_url)
    resources = ExitStack()
    try:
        return _start(host, port, database_url, resources)
    except BaseException:
        resources.close()
        raise


def _start(host: str, port: int, database_url: str, resources: ExitStack) -> RunningSandbox:
    clock, feed = SandboxClock(), ChangeFeed()
    emulator = _start_emulator(clock, feed, resources)
    signing_secret = secrets.token_hex(16)
    pagerduty_url = _start_pagerduty(resources)
    services = build_services(_bot_settings(emulator, signing_secret, database_url, pagerduty_url), clock=clock)
    resources.callback(services.engine.dispose)
    earlier = _seed(services, clock)
    _keep_offset_in_database(services, clock)
    platform = _start_bot(services, signing_secret, emulator, resources)
    scheduler = start_scheduler(services)
    resources.callback(scheduler.shutdown, wait=True)

    def tick_now() -> None:
        if scheduler.running:
            scheduler.modify_job(TICK_JOB, next_run_time=datetime.now(UTC))

    workspace = SandboxWorkspace(emulator, {p.id: p.role for p in demo.PEOPLE}, [c.id for c in demo.CHANNELS])
    driver = SandboxDriver(platform, workspace, feed, clock, on_clock_moved=tick_now)
    ui_app = HostGuard(SandboxWebApp(PageRenderer(workspace, clock, feed), driver), bound_host=host, port=port)
    try:
        ui = start_background_server(ui_app, host=host, port=port)
    except OSError as exc:
        raise SandboxError(f"Cannot serve the sandbox on {host}:{port} ({exc.strerror or exc}); try --port.") from None
    ui_app.port = ui.port
    resources.callback(ui.stop)
    resources.callback(feed.close)  # runs before ui.stop: long polls return at once
    url = f"http://{host}:{ui.port}"
    emulator.permalink_base = url  # message links (permalinks) open the message in this page
    return RunningSandbox(
        url=url,
        bot_url=platform.app_url,
        api_url=emulator.api_url,
        database_url=database_url,
        earlier_incidents=earlier,
        services=services,
        emulator=emulator,
        platform=platform,
        clock=clock,
        feed=feed,
        _resources=resources,
    )


def run_sandbox(
    *,
    host: str,
    port: int,
    echo: Callable[[str], None],
    database_url: str | None = None,
    not_production: bool = False,
) -> None:
    """Start, say where, and run until Ctrl-C (or SIGTERM); then stop everything."""
    warning = exposure_warning(host)
    if warning is not None:
        echo(warning)
    chosen = sandbox_database_url(database_url, not_production=not_production)
    for chatty in ("apscheduler", "alembic"):  # every tick and every migration step: not news in a demo
        logging.getLogger(chatty).setLevel(logging.WARNING)
    sandbox = start_sandbox(host=host, port=port, database_url=chosen)
    echo(f"triage-bot sandbox: open {sandbox.url} (Ctrl-C stops it)")
    echo(f"  database: {_safe_url(sandbox.database_url)}; Slack is emulated in memory, no tokens needed")
    if sandbox.earlier_incidents:
        echo(
            f"  {sandbox.earlier_incidents} incident(s) from earlier runs are in the database; their Slack messages "
            "are gone (the workspace lives in memory). Delete the database file for a fresh start."
        )
    stopping = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stopping.set()

    # Handled explicitly (not as KeyboardInterrupt): a process started in the background inherits SIGINT ignored.
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        stopping.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        echo("triage-bot sandbox: stopping…")
        sandbox.stop()
        echo("triage-bot sandbox: stopped.")


def _safe_url(url: str) -> str:
    """The database URL without a password."""
    scheme, sep, rest = url.partition("://")
    credentials, at, location = rest.rpartition("@")
    if not at:
        return url
    user = credentials.split(":", 1)[0]
    return f"{scheme}{sep}{user}@{location}"
