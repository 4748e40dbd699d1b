"""Serving the bot: gunicorn (threaded workers) for HTTP mode, Bolt's Socket Mode handler otherwise."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from gunicorn.app.base import BaseApplication

from bot.app import build_bolt_app
from bot.config import Settings
from bot.scheduler import start_scheduler
from bot.services.container import build_services
from bot.web import WebApp

logger = logging.getLogger(__name__)


def build_wsgi_app(settings: Settings) -> WebApp:
    """Everything one worker process runs: services, the Bolt app, its scheduler."""
    services = build_services(settings)
    start_scheduler(services)
    return WebApp(build_bolt_app(services), services)


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


def serve_http(settings: Settings, *, host: str, port: int) -> None:
    options = {
        "bind": f"{host}:{port}",
        "workers": settings.web_concurrency,
        "worker_class": "gthread",
        "threads": settings.web_threads,
        "timeout": 30,
        "graceful_timeout": 10,
        "accesslog": None,
        "loglevel": "warning",
    }
    GunicornServer(options, lambda: build_wsgi_app(settings)).run()


def serve_socket_mode(settings: Settings) -> None:
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    assert settings.slack_app_token is not None
    services = build_services(settings)
    start_scheduler(services)
    SocketModeHandler(build_bolt_app(services), settings.slack_app_token.get_secret_value()).start()
