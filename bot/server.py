"""Serving the bot: gunicorn (threaded workers) for HTTP mode, Bolt's Socket Mode handler otherwise."""

from __future__ import annotations

import gc
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gunicorn import glogging
from gunicorn.app.base import BaseApplication
from prometheus_client import multiprocess

from bot.config import Settings
from bot.observability.logs import setup_logging
from bot.observability.metrics import multiprocess_dir, use_multiprocess_dir
from bot.observability.redaction import register_settings_secrets

if TYPE_CHECKING:
    from bot.web import WebApp

logger = logging.getLogger(__name__)


def build_wsgi_app(settings: Settings) -> WebApp:
    """Everything one worker process runs: services, the Bolt app, its scheduler (which `/readyz` watches).

    Imported here, in the worker: the gunicorn master never loads the app, which keeps it small.
    """
    from bot.app import build_bolt_app
    from bot.scheduler import start_scheduler
    from bot.services.wiring import build_services
    from bot.web import WebApp

    services = build_services(settings)
    scheduler = start_scheduler(services)
    app = WebApp(build_bolt_app(services), services, scheduler=scheduler)
    keep_startup_objects_out_of_collections()
    return app


def keep_startup_objects_out_of_collections() -> None:
    """What start-up built (modules, settings, ORM mappings, Bolt's app: ~150,000 objects) lives as long as the
    process, so the garbage collector stops walking it (`gc.freeze`). A full collection walked all of it, holding
    the GIL for 80 to 150 ms while every request in flight waited for its acknowledgement; now it walks only what
    requests left behind.
    """
    gc.collect()
    gc.freeze()


class GunicornLogger(glogging.Logger):
    """gunicorn's own messages (worker boot, timeouts) go through the bot's handler: same format, redacted."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in list(log.handlers):
                log.removeHandler(handler)
            log.propagate = True


class GunicornServer(BaseApplication):
    """gunicorn run from code: each worker builds its own app (and scheduler) after the fork."""

    def __init__(self, options: dict[str, Any], factory: Callable[[], WebApp]) -> None:
        self.options = options
        self.factory = factory
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> WebApp:
        return self.factory()


@contextmanager
def shared_metrics_dir(workers: int) -> Iterator[str | None]:
    """Where gunicorn's workers share their metrics, so that any worker answering `/metrics` reports them all.

    With one worker nothing is shared (None). With several, a fresh temporary directory, removed when the server
    stops — by this process only: forked workers leave through this code too. A `PROMETHEUS_MULTIPROC_DIR` set by
    the operator is used instead (for any number of workers), emptied of the previous run's samples, and kept.
    """
    configured = multiprocess_dir()
    if configured is not None:
        for stale in Path(configured).glob("*.db"):
            stale.unlink(missing_ok=True)
        use_multiprocess_dir(configured)
        yield configured
        return
    if workers <= 1:
        yield None
        return
    owner = os.getpid()
    path = tempfile.mkdtemp(prefix="triage-bot-metrics-")
    use_multiprocess_dir(path)
    try:
        yield path
    finally:
        if os.getpid() == owner:
            shutil.rmtree(path, ignore_errors=True)


def forget_worker(_server: Any, worker: Any) -> None:
    """gunicorn's child_exit hook: drop a dead worker's live gauges (the documented multiprocess bookkeeping)."""
    path = multiprocess_dir()
    if path is not None:
        multiprocess.mark_process_dead(worker.pid, path)


def apply_logging(settings: Settings) -> None:
    setup_logging(level=settings.log_level, log_format=settings.log_format)
    register_settings_secrets(settings)


def serve_http(settings: Settings, *, host: str, port: int) -> None:
    apply_logging(settings)
    options = {
        "bind": f"{host}:{port}",
        "workers": settings.web_concurrency,
        "worker_class": "gthread",
        "threads": settings.web_threads,
        "timeout": 30,
        "graceful_timeout": 10,
        "accesslog": None,
        "loglevel": "warning",
        "logger_class": GunicornLogger,
        "child_exit": forget_worker,
    }
    with shared_metrics_dir(settings.web_concurrency) as path:
        if path is not None:
            logger.info("Metrics of %s workers are shared through %s", settings.web_concurrency, path)
        GunicornServer(options, lambda: build_wsgi_app(settings)).run()


def serve_socket_mode(settings: Settings) -> None:
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    from bot.app import build_bolt_app
    from bot.scheduler import start_scheduler
    from bot.services.wiring import build_services

    assert settings.slack_app_token is not None
    apply_logging(settings)
    services = build_services(settings)
    start_scheduler(services)
    handler = SocketModeHandler(build_bolt_app(services), settings.slack_app_token.get_secret_value())
    keep_startup_objects_out_of_collections()
    handler.start()
