"""Serving files from one folder and nothing outside it.

:func:`resolve_under` maps the path part of a URL to a file inside ``root``: it is
percent-decoded once, split on ``/`` (and ``\\``), and refused if any segment is empty-dot,
``..``, holds a NUL or a drive letter, or if the resolved file (symlinks followed) lies outside
``root``. Hidden files (a segment starting with ``.``) are refused too, so temporary files of an
export in progress are never served.

Example::

    >>> from visualize.web import STATIC_DIR
    >>> resolve_under(STATIC_DIR, "/live.html").name
    'live.html'
    >>> resolve_under(STATIC_DIR, "/../../etc/passwd") is None
    True
"""
from __future__ import annotations

import mimetypes
from pathlib import Path
from urllib.parse import unquote

__all__ = ["resolve_under", "content_type", "MAX_SEGMENTS"]

#: deepest path accepted (segments)
MAX_SEGMENTS = 16

_TYPES = {".js": "text/javascript; charset=utf-8", ".mjs": "text/javascript; charset=utf-8",
          ".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8",
          ".json": "application/json", ".bvh": "application/octet-stream", ".npz": "application/octet-stream",
          ".png": "image/png", ".mp4": "video/mp4", ".md": "text/plain; charset=utf-8",
          ".txt": "text/plain; charset=utf-8", "": "text/plain; charset=utf-8"}


def resolve_under(root: str | Path, url_path: str) -> Path | None:
    """The regular file ``url_path`` names inside ``root``, or None (refused or missing).

    Args:
        root: the folder served.
        url_path: the path of the request (``/a/b.js``; a query string is ignored).
    """
    path = url_path.split("?", 1)[0].split("#", 1)[0]
    try:
        path = unquote(path, errors="strict")
    except UnicodeDecodeError:
        return None
    parts = [p for p in path.replace("\\", "/").split("/") if p != ""]
    if not parts or len(parts) > MAX_SEGMENTS:
        return None
    for p in parts:
        if p.startswith(".") or "\0" in p or ":" in p or "%" in p:
            return None
    base = Path(root).resolve()
    try:
        target = base.joinpath(*parts).resolve(strict=True)
    except (OSError, RuntimeError, ValueError):
        return None
    if not target.is_file() or not target.is_relative_to(base):
        return None
    return target


def content_type(path: Path) -> str:
    """The Content-Type header for a served file."""
    suffix = path.suffix.lower()
    if suffix in _TYPES:
        return _TYPES[suffix]
    return mimetypes.guess_type(path.name)[0] or "application/octet-stream"
