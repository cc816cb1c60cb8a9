"""The HTTP side of ``moglow play``: which ``GET`` serves which file.

``/`` is the live page, ``/static/...`` the page's files, ``/out/...`` the recordings (as
downloads); every path goes through :func:`visualize.web.static_files.resolve_under`, so nothing
outside those two folders is ever served. ``/ws`` from the same origin goes on to the WebSocket;
from another origin it is refused (403).
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from http import HTTPStatus
from pathlib import Path
from urllib.parse import urlsplit

from websockets.asyncio.server import ServerConnection
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from visualize.web.static_files import content_type, resolve_under

__all__ = ["StaticRoutes"]

log = logging.getLogger("moglow.play")


class StaticRoutes:
    """Answers the HTTP requests of one server (``process_request`` of :func:`websockets.serve`).

    Args:
        out_dir: the recordings, served under ``/out/``.
        static_dir: the page's files, served under ``/static/``.
        on_refused: called for every refused request (the server counts them).
    """

    def __init__(self, out_dir: Path, static_dir: Path, on_refused: Callable[[], None] = lambda: None):
        self.out_dir, self.static_dir, self.on_refused = Path(out_dir), Path(static_dir), on_refused

    def _file_response(self, file: Path, download: bool) -> Response:
        headers = Headers()
        headers["Content-Type"] = content_type(file)
        headers["Cache-Control"] = "no-cache"
        headers["X-Content-Type-Options"] = "nosniff"
        if download:
            headers["Content-Disposition"] = f'attachment; filename="{file.name}"'
        body = file.read_bytes()
        headers["Content-Length"] = str(len(body))
        return Response(200, "OK", headers, body)

    def _refuse(self, connection: ServerConnection, status: HTTPStatus, why: str) -> Response:
        self.on_refused()
        return connection.respond(status, f"{status.value} {status.phrase}: {why}\n")

    def _same_origin(self, request: Request) -> bool:
        origin = request.headers.get("Origin")
        if origin is None:
            return True  # not a browser page (scripts, tests)
        host = request.headers.get("Host", "")
        return urlsplit(origin).netloc.lower() == host.lower()

    def process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        path = urlsplit(request.path).path
        if path == "/ws":
            if not self._same_origin(request):
                log.warning("refused a WebSocket from origin %s", request.headers.get("Origin"))
                return self._refuse(connection, HTTPStatus.FORBIDDEN, "cross-origin WebSocket")
            return None  # the WebSocket handshake goes on
        if path in ("/", "/index.html"):
            path = "/live.html"
        if path.startswith("/out/"):
            file = resolve_under(self.out_dir, path[len("/out/"):])
            download = True
        elif path.startswith("/static/"):
            file = resolve_under(self.static_dir, path[len("/static/"):])
            download = False
        elif path == "/live.html":
            file = resolve_under(self.static_dir, "live.html")
            download = False
        else:
            file = None
            download = False
        if file is None:
            return self._refuse(connection, HTTPStatus.NOT_FOUND, "no such file")
        try:
            return self._file_response(file, download)
        except OSError:
            return self._refuse(connection, HTTPStatus.NOT_FOUND, "unreadable")
