"""Fault injection for tests: a TCP proxy in front of PostgreSQL that can drop every connection and refuse new ones.

To the bot this looks exactly like the database server restarting: pooled connections die mid-use ("server
closed the connection unexpectedly") and new connections fail until it is back. The real server, shared with
the rest of the suite, is never touched.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator


class DatabaseOutageProxy:
    """Forwards 127.0.0.1:<port> to `target`; `cut()` kills all connections and refuses new ones until `restore()`."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._down = False
        self._stopped = False
        threading.Thread(target=self._accept, name="db-proxy", daemon=True).start()

    def cut(self) -> None:
        with self._lock:
            self._down = True
            for sock in self._open:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._open.clear()

    def restore(self) -> None:
        with self._lock:
            self._down = False

    def stop(self) -> None:
        self._stopped = True
        self.cut()
        self._listener.close()

    @contextlib.contextmanager
    def outage(self) -> Iterator[None]:
        self.cut()
        try:
            yield
        finally:
            self.restore()

    def _accept(self) -> None:
        while not self._stopped:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                refused = self._down
            if refused:
                client.close()  # as a server that is not up yet: the connection ends at once
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open.update((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                with self._lock:
                    self._open.discard(sock)
                sock.close()
