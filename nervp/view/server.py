"""Serving an exported page on this machine only (127.0.0.1)."""

from __future__ import annotations

import errno
import functools
import socket
import threading
from collections.abc import Callable
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from nervp.errors import ConfigError, stop_requested

HOST = "127.0.0.1"


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the base class's name)
        pass


def bind(port: int) -> ThreadingHTTPServer:
    """A server for the current directory's page bound to 127.0.0.1:`port` (0: any free port);
    ConfigError with the fix when the port is taken or not a port."""
    if not 0 <= port <= 65535:
        raise ConfigError(f"--port {port} is not a TCP port: give 1..65535 (or 0 for any free port)")
    try:
        return ThreadingHTTPServer((HOST, port), _Quiet)
    except OSError as e:
        if e.errno == errno.EADDRINUSE:
            raise ConfigError(f"port {port} on {HOST} is in use: pass --port with another number "
                              "(or --port 0 for any free one)") from e
        if e.errno == errno.EACCES:
            raise ConfigError(f"port {port} needs administrator rights: pass --port 1024 or higher") from e
        raise ConfigError(f"cannot listen on {HOST}:{port} ({e.strerror}): pass another --port") from e


def port_free(port: int) -> None:
    """Raise the same ConfigError as `bind` when `port` cannot be listened on (checked before
    any work, so a taken port fails at once)."""
    if port == 0:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((HOST, port))
        except OSError:
            bind(port).server_close()  # raises the one-line error


def start(directory: Path | str, server: ThreadingHTTPServer) -> tuple[str, threading.Thread]:
    """Serve `directory` with `server` from a background thread; returns the page's address
    and the thread (stop it with `server.shutdown()`)."""
    server.RequestHandlerClass = functools.partial(_Quiet, directory=str(Path(directory)))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    thread.start()
    return f"http://{HOST}:{server.server_address[1]}/", thread


def serve(directory: Path | str, server: ThreadingHTTPServer,
          ready: Callable[[str], None] | None = None) -> None:
    """Serve `directory` with `server` until a stop is requested (Ctrl-C: SIGINT)."""
    url, thread = start(directory, server)
    if ready is not None:
        ready(url)
    try:
        while not stop_requested():
            thread.join(0.2)
            if not thread.is_alive():
                break
    finally:
        server.shutdown()
        server.server_close()
