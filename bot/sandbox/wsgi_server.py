"""A quiet, multi-threaded stdlib WSGI server that runs in a background thread, keeping HTTP/1.1 connections open."""

from __future__ import annotations

import contextlib
import io
import socket
import socketserver
import threading
from http.server import BaseHTTPRequestHandler
from types import TracebackType
from typing import IO, Any, cast
from wsgiref.headers import Headers
from wsgiref.simple_server import ServerHandler, WSGIRequestHandler, WSGIServer, make_server
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

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._open_connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._open_connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._open_connections.discard(request)
        super().shutdown_request(request)

    def server_close(self) -> None:
        """Stop listening and end every kept-alive connection: a stopped server answers nothing more."""
        super().server_close()
        with self._connections_lock:
            connections = list(self._open_connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by its client
                connection.shutdown(socket.SHUT_RDWR)


class _KeepAliveServerHandler(ServerHandler):
    """wsgiref's handler answering in HTTP/1.1; a response without a length ends its connection (its end is the
    end of the body)."""

    http_version = "1.1"
    request_handler: QuietRequestHandler
    headers: Headers

    def cleanup_headers(self) -> None:
        super().cleanup_headers()
        if "Content-Length" not in self.headers:
            self.headers["Connection"] = "close"
            self.request_handler.close_connection = True


class QuietRequestHandler(WSGIRequestHandler):
    """Request handler that keeps HTTP/1.1 connections open between requests and writes no access logs.

    Slack's Web API keeps connections alive, and so does the bot's client (bot/integrations/slack_connections.py);
    wsgiref alone answers one request per connection. The request body is read whole before the app runs, so
    whatever the app leaves unread never spills into the next request; a connection idle for `timeout` seconds is
    closed.
    """

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # a response is sent whole when it is ready: never held back for an ACK
    wbufsize = -1  # wsgiref writes the status line, each header block and the body apart: buffered, they leave together
    timeout = 60

    def handle(self) -> None:
        BaseHTTPRequestHandler.handle(self)  # one request after another until either side closes

    def handle_one_request(self) -> None:
        try:
            self.raw_requestline = self.rfile.readline(65537)
        except (TimeoutError, ConnectionError):
            self.close_connection = True
            return
        if not self.raw_requestline:
            self.close_connection = True
            return
        if len(self.raw_requestline) > 65536:
            self.requestline, self.request_version, self.command = "", "", ""
            self.send_error(414)
            self.close_connection = True
            return
        if not self.parse_request():
            self.close_connection = True
            return
        output = cast(IO[bytes], self.wfile)
        handler = _KeepAliveServerHandler(
            self._request_body(), output, self.get_stderr(), self.get_environ(), multithread=False
        )
        handler.request_handler = self
        try:
            handler.run(self.server.get_app())  # type: ignore[attr-defined]
        finally:
            with contextlib.suppress(OSError):  # the client may be gone; its connection then ends below
                self.wfile.flush()

    def _request_body(self) -> IO[bytes]:
        """The body as a stream of its own; a chunked one is read from the socket, and the connection ends after."""
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            return cast(IO[bytes], self.rfile)
        try:
            length = max(0, int(self.headers.get("Content-Length") or 0))
        except ValueError:  # where this body ends is unknown, and so is where a next request would start
            self.close_connection = True
            length = 0
        return io.BytesIO(self.rfile.read(length) if length else b"")

    def finish(self) -> None:
        """Send what is still buffered and close; a client that went away (it timed out, or hung up) gets nothing
        and is no error of the server's (socketserver would print a traceback for each)."""
        with contextlib.suppress(OSError):
            self.wfile.close()
        self.rfile.close()

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
