"""``evaluation.html`` beside ``evaluation.json``: the metrics table and a 3-D viewer per held-out clip.

``moglow evaluate --clips N`` writes ``OUT/evaluation.json`` and ``.md`` and the first N held-out
takes as ``OUT/clips/clip_NN_TAKE.npz`` (:mod:`moglow.evaluation.clips`: the generated motion
along the take's path, cleaned up, beside the mocap take, with foot contacts);
:func:`write_evaluation_page` turns them into ``OUT/evaluation.html`` with the review page's
templates and clip viewer (play/pause, scrub, speed, orbit, generated and mocap in sync, foot
contacts). Like the review page it needs serving over HTTP for the viewer
(``python -m http.server -d OUT``).

Example::

    >>> write_evaluation_page("runs/tiny/evaluation")         # doctest: +SKIP
    PosixPath('runs/tiny/evaluation/evaluation.html')
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from data_pipeline.output_files import write_text_atomic
from moglow.review.errors import ReviewError
from moglow.review.page import VIEWER_DIR, copy_clip_viewer, evaluation_context
from moglow.review.rendering import href
from moglow.review.rendering import render as render_template

__all__ = ["write_evaluation_page", "EVALUATION_HTML", "find_clips"]

EVALUATION_HTML = "evaluation.html"
SERVE_HINT = "python -m http.server -d THIS_FOLDER"


def find_clips(out_dir: str | Path) -> list[Path]:
    """The clip npz files of an evaluation folder (``clips/clip_*.npz``), in order."""
    return sorted((Path(out_dir) / "clips").glob("clip_*.npz"))


def _describe(npz: Path) -> tuple[str, str]:
    """(name, one-line description) of a clip npz."""
    with np.load(npz, allow_pickle=False) as d:
        s, f = d["positions"].shape[:2]
        fps = float(d["fps"]) if "fps" in d.files else 20.0
        cleaned = bool(d["cleaned"]) if "cleaned" in d.files else False
        context = int(d["context_frames"]) if "context_frames" in d.files else 0
        source = str(d["source"]) if "source" in d.files else ""
        style = str(d["style"]) if "style" in d.files else ""
        contacts = "contacts" in d.files
    name = Path(source).stem if source else npz.stem
    text = (f"{s} motion{'s' if s != 1 else ''} generated along the path of {source or name} "
            f"({'cleaned up: what the user gets' if cleaned else 'the raw model'}), and the mocap take; "
            f"{f} frames ({f / fps:.1f} s at {fps:g} fps), the first {context} real (the model's context)"
            + (f"; style {style}" if style else "") + ("; discs: foot contacts" if contacts else "") + ".")
    return name, text


def write_evaluation_page(out_dir: str | Path, clips: Sequence[Path] | None = None, viewer: bool = True) -> Path:
    """Write ``OUT/evaluation.html`` from ``OUT/evaluation.json`` and the clips; returns its path.

    Args:
        out_dir: the evaluation folder (``moglow evaluate --out``).
        clips: clip npz files (default: :func:`find_clips`).
        viewer: give each clip the 3-D viewer (its files are copied into ``OUT/viewer``).
    Raises:
        ReviewError: ``evaluation.json`` is missing or unreadable.
    """
    out = Path(out_dir)
    try:
        evaluation: dict[str, Any] = json.loads((out / "evaluation.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ReviewError(f"cannot read {out / 'evaluation.json'}: {e}") from e
    files = list(find_clips(out) if clips is None else clips) if viewer else []
    described = [_describe(p) for p in files]
    jsons = copy_clip_viewer(out, [(name, p) for (name, _), p in zip(described, files, strict=True)]) if files else []
    cards = [{"name": name, "description": text, "viewer": href(j, out)}
             for (name, text), j in zip(described, jsons, strict=True)]
    info = evaluation.get("info") or {}
    text = render_template(
        "evaluation.html", title=f"Evaluation: {info.get('checkpoint') or 'mocap only'}",
        viewer_dir=VIEWER_DIR if cards else None, serve_hint=SERVE_HINT,
        written=datetime.now().strftime("%Y-%m-%d %H:%M"), evaluation=evaluation_context(evaluation), clips=cards)
    return write_text_atomic(out / EVALUATION_HTML, text)
