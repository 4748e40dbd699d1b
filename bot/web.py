"""The HTTP surface: Slack's `/slack/events` through Bolt's WSGI adapter, `/healthz`, and `/hooks/deployments`."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler

from bot.db import database_state
from bot.hooks import DEPLOYMENTS_PATH, DeploymentHook
from bot.services.container import Services

MAX_BODY_BYTES = 1_000_000
StartResponse = Callable[..., Any]


def _json(start_response: StartResponse, status: str, payload: dict[str, Any]) -> Iterable[bytes]:
    body = json.dumps(payload).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


class WebApp:
    """A small WSGI router; every Slack surface (commands, interactivity, events) arrives at `/slack/events`."""

    def __init__(self, bolt_app: App, services: Services) -> None:
        self.services = services
        self.slack = SlackRequestHandler(bolt_app, path="/slack/events")
        secret = services.settings.deploy_hook_secret
        self.deployments = DeploymentHook(
            services.session_factory, secret.get_secret_value() if secret else None, services.clock
        )

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if path == "/healthz" and method in ("GET", "HEAD"):
            return self.health(start_response)
        if path == "/slack/events":
            if method != "POST":
                return _json(start_response, "405 Method Not Allowed", {"error": "POST only"})
            if int(environ.get("CONTENT_LENGTH") or 0) > MAX_BODY_BYTES:
                return _json(start_response, "413 Payload Too Large", {"error": "request body too large"})
            return self.slack(environ, start_response)
        if path == DEPLOYMENTS_PATH:
            return self.deployments(environ, start_response)
        return _json(start_response, "404 Not Found", {"error": "not found"})

    def health(self, start_response: StartResponse) -> Iterable[bytes]:
        state = database_state(self.services.engine)
        status = "200 OK" if state == "ok" else "503 Service Unavailable"
        return _json(start_response, status, {"status": "ok" if state == "ok" else "degraded", "database": state})
