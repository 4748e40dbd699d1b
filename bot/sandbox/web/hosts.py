"""The sandbox answers only requests addressed to it: a defence against DNS rebinding.

A web page on another site can make the browser send requests to a name it controls that resolves, a moment
later, to 127.0.0.1; the browser then treats the sandbox as that site's own. Such requests carry the attacker's
name in `Host`. So the sandbox serves only a `Host` that is an IP address (no name to rebind), `localhost`, or
the name it was started with (`--host`), with its port.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable
from urllib.parse import urlsplit
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

LOOPBACK_NAMES = frozenset({"localhost"})
EVERY_INTERFACE = frozenset({"0.0.0.0", "::", ""})


def _split_host(header: str) -> tuple[str, int | None] | None:
    """(name, port) of `name:port`, `[v6]:port` or a bare name; None for anything else."""
    if any(char in header for char in "/?#@\\ ") or not header.isprintable():
        return None
    try:
        parts = urlsplit(f"//{header}")
        port = parts.port
    except ValueError:
        return None
    return (parts.hostname, port) if parts.hostname else None


def _is_ip_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def allowed_host(header: str | None, *, bound_host: str, port: int) -> bool:
    """Whether a request's `Host` names this sandbox: an IP address, localhost or `bound_host`, with `port`."""
    if not header or not header.isascii():
        return False
    parts = _split_host(header.strip())
    if parts is None:
        return False
    name, given_port = parts
    if given_port != port and not (given_port is None and port == 80):
        return False
    return _is_ip_address(name) or name in LOOPBACK_NAMES or name == bound_host.lower().strip("[]")


def exposure_warning(host: str) -> str | None:
    """A warning when the sandbox listens beyond this machine (it has no sign-in and holds whatever is typed)."""
    name = host.strip("[]")
    if name in LOOPBACK_NAMES or (_is_ip_address(name) and ipaddress.ip_address(name).is_loopback):
        return None
    reach = "anyone on your network" if name in EVERY_INTERFACE else f"anyone who can reach {host}"
    return (
        f"warning: --host {host} makes the sandbox reachable by {reach}, with no sign-in; "
        "never use it with real data or a real database."
    )


class HostGuard:
    """WSGI middleware: answers 403 unless `Host` names the sandbox (see `allowed_host`).

    `port` is set once the server is listening (it may have picked a free one).
    """

    def __init__(self, app: WSGIApplication, *, bound_host: str, port: int) -> None:
        self.app = app
        self.bound_host = bound_host
        self.port = port

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if allowed_host(environ.get("HTTP_HOST"), bound_host=self.bound_host, port=self.port):
            return self.app(environ, start_response)
        body = json.dumps(
            {"ok": False, "message": f"open the sandbox at its own address (http://127.0.0.1:{self.port})"}
        ).encode()
        start_response(
            "403 Forbidden",
            [("Content-Type", "application/json"), ("Content-Length", str(len(body))), ("Cache-Control", "no-store")],
        )
        return [body]
