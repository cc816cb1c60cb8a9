"""Serve a folder over HTTP on a free localhost port in a background thread (to open a page in a browser).

Example::

    >>> with serve_folder(".") as base:                       # doctest: +SKIP
    ...     print(base)
    http://127.0.0.1:40123
"""
from __future__ import annotations

import contextlib
import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

__all__ = ["serve_folder"]


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # no request log on stderr
        pass


@contextlib.contextmanager
def serve_folder(folder: str | Path, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve ``folder`` (nothing outside it) on a free port of ``host``; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer((host, 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="review-http", daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
