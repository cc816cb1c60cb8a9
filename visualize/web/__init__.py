"""The browser side of the project: the 3-D viewer and the live page (HTML, JS, vendored three.js).

Knows nothing about models: the pages draw world joint positions and a parent list, and the
live page sends input over a WebSocket to whatever server streams poses (``moglow play``).

- :data:`STATIC_DIR` holds ``live.html``, ``live.js``, ``skeleton_view.js`` (the scene shared by
  both pages), ``clip_player.js`` (the clip viewer of the review page), ``viewer.css`` and
  ``vendor/three/`` (three.js from the npm registry, pinned at :data:`THREE_VERSION`).
- :mod:`visualize.web.static_files` maps a URL path to a file inside one folder, refusing
  anything outside it.
- :mod:`visualize.web.clip_json` turns a clip (positions, parents, contacts) into the JSON the
  clip viewer plays.
"""
from __future__ import annotations

from pathlib import Path

STATIC_DIR = Path(__file__).resolve().parent / "static"
THREE_VERSION = "0.176.0"

__all__ = ["STATIC_DIR", "THREE_VERSION"]
