"""The pictures of a review page: sample videos, top views of the paths, training curves.

:func:`render_sample_set` renders a missing or out-of-date ``samples.mp4`` from the npz with
:func:`visualize.render_positions` (samples side by side); :func:`plot_sample_paths` draws
``samples_paths.png`` with :func:`visualize.plots.plot_paths`; :func:`curves_png` returns the
run's training-curve PNG, plotted from ``losses.csv`` when missing or stale. Each skips work whose
output is newer than its input.
"""
from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path

import numpy as np

from moglow.review.runs import CURVES_PNG, TRAIN_NATS, VAL_NATS, SampleSet, TrainingSummary, up_to_date

__all__ = ["render_sample_set", "plot_sample_paths", "curves_png"]


def render_sample_set(sset: SampleSet, width: int | None = None, height: int = 360, force: bool = False,
                      progress: bool = True, gl_platform: str = "auto") -> Path:
    """Render ``sset.npz`` (samples side by side, the control path on the floor) to ``sset.mp4``,
    unless the video is already newer than the npz. Written to a temporary name and renamed,
    so an interrupted render never looks finished.

    Args:
        width: frame width in pixels (default: 320 per sample); height: in pixels.
    """
    if not force and up_to_date(sset.mp4, sset.npz):
        return sset.mp4
    from visualize.inputs import load_clip
    from visualize.render import render_positions

    clip = load_clip(sset.npz)
    n = clip.positions.shape[0] + (clip.ground_truth is not None)
    width = width or min(1920, 320 * n)
    with tempfile.TemporaryDirectory(prefix=".render-", dir=sset.folder) as tmp:
        part = Path(tmp) / sset.mp4.name
        render_positions(clip.positions, clip.parents, part, clip.fps, paths=clip.paths,
                         labels=[f"sample {i}" for i in range(clip.positions.shape[0])],
                         ground_truth=clip.ground_truth, ground_truth_path=clip.ground_truth_path,
                         width=width, height=height, root=clip.root, progress=progress, gl_platform=gl_platform)
        os.replace(part, sset.mp4)
    return sset.mp4


def plot_sample_paths(sset: SampleSet, force: bool = False) -> Path:
    """Top view of the commanded path and each sample's root path (x, z metres) as ``sset.paths_png``."""
    if not force and up_to_date(sset.paths_png, sset.npz):
        return sset.paths_png
    from visualize.plots import plot_paths

    with np.load(sset.npz, allow_pickle=False) as d:
        positions = np.asarray(d["positions"], dtype=np.float64)
        positions = positions[None] if positions.ndim == 3 else positions
        root = int(d["root"]) if "root" in d.files else 0
        path = np.asarray(d["path"], dtype=np.float64) if "path" in d.files else None
    roots = positions[:, :, root][..., [0, 2]]  # (N, F, 2)
    title = f"{sset.info.get('path') or sset.name} (top view)"
    curves: dict[str, np.ndarray] = {}
    show_roots = True
    if path is not None:
        paths = np.broadcast_to(path, roots.shape) if path.ndim == 2 else path
        off = float(np.max(np.linalg.norm(roots - paths, axis=-1))) if paths.shape == roots.shape else math.inf
        if off < 0.01 and (path.ndim == 2 or len(path) == 1):  # roots on the path: one line says it all
            curves["commanded path = sample roots"] = paths[0]
            title += f"\nroots within {100 * off:.2f} cm of the path"
            show_roots = False
        elif path.ndim == 2:
            curves["commanded path"] = path
        else:
            curves.update({f"path {i}": p for i, p in enumerate(path)})
    if show_roots:
        curves.update({f"sample {i} (root)": r for i, r in enumerate(roots)})
    return plot_paths(curves, sset.paths_png, title=title)



def curves_png(run_dir: Path, out_dir: Path, summary: TrainingSummary) -> Path | None:
    """The run's curve PNG if it is up to date with the CSV, else one plotted from the CSV."""
    own = run_dir / CURVES_PNG
    csv_path = summary.curves_csv
    if own.exists() and (csv_path is None or up_to_date(own, csv_path)):
        return own
    if csv_path is None:
        return own if own.exists() else None
    from visualize.plots import plot_training_curves, read_metrics_csv

    series = read_metrics_csv(csv_path)
    nll = [c for c in (TRAIN_NATS, VAL_NATS) if c in series]
    groups = {"NLL": nll} if nll else {}
    if "lr" in series:
        groups["learning rate"] = ["lr"]
    if not groups:
        return None
    return plot_training_curves(series, out_dir / CURVES_PNG, title=summary.name, ylabel="nats/frame",
                                groups=groups)
