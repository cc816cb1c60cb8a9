"""Clips for the 3-D clip viewer of the review page: a JSON file per clip, and the viewer's files.

:func:`clip_viewer_data` reads a sample ``.npz`` (the keys of :mod:`visualize.inputs`, plus foot
contacts when present) into plain data for ``clip_player.js``; :func:`write_clip_json` writes it
(millimetre precision, to a temporary name, then renamed); :func:`copy_viewer_assets` copies the
viewer's JavaScript, CSS and the vendored three.js next to a page so the page folder works
on its own (served over HTTP: browsers do not run ES modules from ``file://``).

Foot contacts (optional npz keys): ``contacts`` ``(N, F, K)`` or ``(F, K)`` bool, with
``contact_joints`` ``(K,)`` joint indices (or joint names matched against ``joints``); the
mocap row may carry ``ground_truth_contacts`` ``(F', K)``. Without them no contacts are drawn.

JSON layout::

    {"fps": 20, "parents": [...], "frames": F,
     "figures": [{"label": "sample 0", "kind": "generated", "positions": [F*J*3 floats], "path": [[x, z], ...],
                  "contacts": [F*K 0/1] | null}, ..., {"label": "mocap", "kind": "mocap", ...}],
     "contact_joints": [...] | null}
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from visualize.web import STATIC_DIR

__all__ = ["clip_viewer_data", "write_clip_json", "copy_viewer_assets", "VIEWER_FILES"]

#: files the clip viewer needs, relative to :data:`visualize.web.STATIC_DIR`
VIEWER_FILES = ("skeleton_view.js", "clip_player.js", "viewer.css", "vendor/three/three.module.min.js",
                "vendor/three/three.core.min.js", "vendor/three/OrbitControls.js", "vendor/three/LICENSE",
                "vendor/three/README.md")


def _contact_joints(d: dict, num_joints: int) -> list[int] | None:
    if "contact_joints" not in d:
        return None
    cj = np.asarray(d["contact_joints"])
    if cj.dtype.kind in "US":
        names = [str(n) for n in d.get("joints", [])]
        return [names.index(str(n)) for n in cj if str(n) in names] or None
    idx = [int(i) for i in cj.reshape(-1)]
    return idx if all(0 <= i < num_joints for i in idx) else None


def _flat(x: np.ndarray) -> list[float]:
    return np.round(np.asarray(x, dtype=np.float64).reshape(-1), 3).tolist()


def clip_viewer_data(npz: str | Path, max_figures: int = 8) -> dict[str, Any]:
    """Plain data of a sample npz for the clip viewer (see the module docstring).

    Args:
        npz: the file (``positions (N, F, J, 3)`` or ``(F, J, 3)`` metres, ``parents``; optional
            ``fps``, ``labels``, ``path``, ``ground_truth``, contacts).
        max_figures: at most this many generated samples are included (the first ones).
    """
    with np.load(npz, allow_pickle=False) as f:
        d = {k: f[k] for k in f.files}
    pos = np.asarray(d["positions"], dtype=np.float64)
    pos = pos[None] if pos.ndim == 3 else pos
    N, F, J, _ = pos.shape
    parents = [int(p) for p in np.asarray(d["parents"]).reshape(-1)]
    fps = float(d["fps"]) if "fps" in d else 20.0
    labels = [str(s) for s in d["labels"]] if "labels" in d and len(d["labels"]) == N else \
        [f"sample {i}" for i in range(N)]
    root = int(d["root"]) if "root" in d else 0
    cj = _contact_joints(d, J)
    contacts = None
    if cj is not None and "contacts" in d:
        c = np.asarray(d["contacts"]).astype(bool)
        c = c[None] if c.ndim == 2 else c
        contacts = c if c.shape == (N, F, len(cj)) else None
    figures = []
    for i in range(min(N, max_figures)):
        figures.append({"label": labels[i], "kind": "generated", "positions": _flat(pos[i]),
                        "path": np.round(pos[i, :, root][:, [0, 2]], 3).tolist(),
                        "contacts": None if contacts is None else contacts[i].astype(int).reshape(-1).tolist()})
    frames = F
    if "ground_truth" in d:
        gt = np.asarray(d["ground_truth"], dtype=np.float64)
        if gt.ndim == 3 and gt.shape[1] == J:
            frames = max(F, gt.shape[0])
            gtc = None
            if cj is not None and "ground_truth_contacts" in d:
                g = np.asarray(d["ground_truth_contacts"]).astype(bool)
                gtc = g.astype(int).reshape(-1).tolist() if g.shape == (gt.shape[0], len(cj)) else None
            figures.append({"label": "mocap", "kind": "mocap", "positions": _flat(gt),
                            "path": np.round(gt[:, root][:, [0, 2]], 3).tolist(), "contacts": gtc})
    return {"fps": fps, "parents": parents, "joints": J, "frames": int(frames), "root": root,
            "contact_joints": cj, "figures": figures}


def write_clip_json(npz: str | Path, out: str | Path, max_figures: int = 8) -> Path:
    """Write :func:`clip_viewer_data` of ``npz`` to ``out`` (atomically); returns ``out``."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name("." + out.name + ".tmp")
    tmp.write_text(json.dumps(clip_viewer_data(npz, max_figures), separators=(",", ":")), encoding="utf-8")
    os.replace(tmp, out)
    return out


def copy_viewer_assets(dest: str | Path) -> Path:
    """Copy :data:`VIEWER_FILES` into ``dest`` (kept when already identical); returns ``dest``."""
    dest = Path(dest)
    for rel in VIEWER_FILES:
        src, dst = STATIC_DIR / rel, dest / rel
        if dst.exists() and dst.stat().st_size == src.stat().st_size and dst.read_bytes() == src.read_bytes():
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
    return dest
