"""A quiet, multi-threaded stdlib WSGI server that runs in a background thread."""

from __future__ import annotations

import socket
import socketserver
import threading
from types import TracebackType
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from wsgiref.types import WSGIApplication

__all__ = ["RunningServer", "ThreadingWSGIServer", "start_background_server"]


class ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    """WSGIServer handling each request in its own daemon thread.

    Its listen backlog is the system's largest (socketserver's default is 5): with more connections waiting to be
    accepted, the kernel dropped new ones, and each client waited a second for its SYN to be sent again, which
    turned a burst of Web API calls into one-second stalls that Slack itself never causes.
    """

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = socket.SOMAXCONN


class QuietRequestHandler(WSGIRequestHandler):
    """Request handler that does not write access logs to stderr."""

    def log_message(self, format: str, *args: Any) -> None:
        return


class RunningServer:
    """Handle on a WSGI server running in a background thread."""

    def __init__(self, server: ThreadingWSGIServer, thread: threading.Thread, host: str) -> None:
        self._server = server
        self._thread = thread
        self.host = host
        self.port: int = int(server.server_port)
        self.url = f"http://{host}:{self.port}"

    @property
    def running(self) -> bool:
        """True while the serving thread is alive."""
        return self._thread.is_alive()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving, close the socket and wait for the serving thread."""
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout)

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"RunningServer(url={self.url!r}, running={self.running})"


def start_background_server(wsgi_app: WSGIApplication, host: str = "127.0.0.1", port: int = 0) -> RunningServer:
    """Serve ``wsgi_app`` on ``host:port`` (0 = any free port) from a daemon thread."""
    server = make_server(host, port, wsgi_app, server_class=ThreadingWSGIServer, handler_class=QuietRequestHandler)
    assert isinstance(server, ThreadingWSGIServer)
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.02},
        name=f"wsgi-server-{server.server_port}",
        daemon=True,
    )
    thread.start()
    return RunningServer(server, thread, host)
