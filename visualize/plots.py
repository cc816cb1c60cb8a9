"""Small matplotlib figures: training curves and top views of floor paths.

Both functions write a PNG (Agg backend, no display needed) and return its path.

Example::

    plot_training_curves("runs/exp/metrics.csv", "curves.png")           # columns: step, train_nll, ...
    plot_training_curves({"train": (steps, nll), "val": (val_steps, val_nll)}, "curves.png")
    plot_paths({"control": path, "sample 1": root_xz}, "paths.png")      # (F, 2) metres each
"""
from __future__ import annotations

import csv
import math
from pathlib import Path
from collections.abc import Mapping, Sequence

import numpy as np

from data_pipeline.errors import InputError, MissingKeyError


def _figure(**kwargs):
    """A matplotlib Figure that is not registered with pyplot (no backend or display needed)."""
    from matplotlib.figure import Figure  # noqa: PLC0415

    return Figure(**kwargs)


def read_metrics_csv(path: str | Path, x_column: str | None = None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Read a metrics CSV (header row, one row per logged step) into series.

    Args:
        path: the CSV file. Empty cells (a metric not logged at that step) are skipped.
        x_column: the column for the x axis; default "step", else "epoch", else the row index.

    Returns:
        {column: (x (n,), y (n,))} for every other column with at least one number.
    """
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise InputError(f"{path}: no rows")
    columns = list(rows[0].keys())
    if x_column is None:
        x_column = next((c for c in ("step", "epoch", "iteration") if c in columns), None)
    elif x_column not in columns:
        raise MissingKeyError(f"{path}: no column {x_column!r} (columns: {', '.join(columns)})")

    def number(text):
        try:
            value = float(text)
        except (TypeError, ValueError):
            return math.nan
        return value

    x_all = np.array([number(r[x_column]) for r in rows]) if x_column else np.arange(len(rows), dtype=float)
    series = {}
    for c in columns:
        if c == x_column:
            continue
        y = np.array([number(r[c]) for r in rows])
        ok = np.isfinite(y) & np.isfinite(x_all)
        if ok.any():
            series[c] = (x_all[ok], y[ok])
    if not series:
        raise InputError(f"{path}: no numeric columns besides {x_column!r}")
    return series


def _as_xy(values) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(values, tuple) and len(values) == 2:
        return np.asarray(values[0], dtype=float), np.asarray(values[1], dtype=float)
    y = np.asarray(values, dtype=float)
    return np.arange(len(y), dtype=float), y


def plot_training_curves(source: str | Path | Mapping[str, object], out_png: str | Path,
                         title: str | None = None, ylabel: str = "nats/frame", logy: bool = False,
                         groups: Mapping[str, Sequence[str]] | None = None) -> Path:
    """Plot training curves to a PNG.

    Args:
        source: a metrics CSV path (see :func:`read_metrics_csv`) or a dict
            ``{name: y (n,)}`` or ``{name: (x (n,), y (n,))}``.
        out_png: the PNG to write (folders are created).
        title: figure title; ylabel: y-axis label of the first panel (the others are labelled by
            their group name); logy: logarithmic y axis.
        groups: optional ``{panel title: [series names]}``: one subplot per group (e.g. losses
            and learning rate apart); default: one panel with every series.

    Returns:
        the PNG path.
    """
    series = read_metrics_csv(source) if isinstance(source, (str, Path)) else {k: _as_xy(v) for k, v in source.items()}
    if not series:
        raise ValueError("no series to plot")
    groups = dict(groups) if groups else {title or "": list(series)}
    for name in (n for names in groups.values() for n in names):
        if name not in series:
            raise KeyError(f"no series {name!r} (have: {', '.join(series)})")
    fig = _figure(figsize=(7, 3.2 * len(groups)))
    axes = fig.subplots(len(groups), 1, squeeze=False, sharex=True)
    for k, (ax, (panel, names)) in enumerate(zip(axes[:, 0], groups.items())):
        for name in names:
            x, y = series[name]
            style = "o-" if len(x) <= 30 else "-"
            ax.plot(x, y, style, label=name, markersize=3, linewidth=1.4)
        if logy:
            ax.set_yscale("log")
        ax.set_ylabel(ylabel if k == 0 or not panel else panel)
        ax.grid(True, alpha=0.3)
        ax.legend(loc="best", fontsize=9)
        if panel:
            ax.set_title(panel)
    axes[-1, 0].set_xlabel("step")
    if title and len(groups) > 1:
        fig.suptitle(title)
    return _save(fig, out_png)


def plot_paths(paths: Mapping[str, np.ndarray] | Sequence[np.ndarray] | np.ndarray, out_png: str | Path,
               title: str | None = "paths (top view)", mark_start: bool = True) -> Path:
    """Top view of floor trajectories.

    Args:
        paths: {name: (F, 2) array of (x, z) in metres}, a list of (F, 2) arrays, or one
            (N, F, 2) / (F, 2) array.
        out_png: the PNG to write.
        title: figure title; mark_start: a dot at each start, an arrow at each end.

    Returns:
        the PNG path.
    """
    if isinstance(paths, np.ndarray):
        paths = [paths] if paths.ndim == 2 else list(paths)
    if not isinstance(paths, Mapping):
        paths = {f"path {i + 1}": p for i, p in enumerate(paths)}
    fig = _figure(figsize=(6, 6))
    ax = fig.subplots()
    for name, p in paths.items():
        p = np.asarray(p, dtype=float)
        if p.ndim != 2 or p.shape[1] != 2:
            raise ValueError(f"path {name!r} must be (F, 2) (x, z) in metres; got {p.shape}")
        (line,) = ax.plot(p[:, 0], p[:, 1], "-", label=name, linewidth=1.6)
        if mark_start and len(p) > 1:
            ax.plot(p[0, 0], p[0, 1], "o", color=line.get_color(), markersize=5)
            ax.annotate("", xy=p[-1], xytext=p[-2], arrowprops=dict(arrowstyle="-|>", color=line.get_color()))
    ax.set_aspect("equal", adjustable="datalim")
    ax.invert_yaxis()  # seen from above (Y up, right-handed): +z points down the page, so turns keep their side
    ax.set_xlabel("x (m)")
    ax.set_ylabel("z (m), seen from above")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize=9)
    if title:
        ax.set_title(title)
    return _save(fig, out_png)


def _save(fig, out_png: str | Path) -> Path:
    """Lay out ``fig`` and write it as a 120-dpi PNG (creating the folder); returns the path."""
    from data_pipeline.output_files import atomic_write  # noqa: PLC0415

    fig.tight_layout()
    out_png = Path(out_png)
    with atomic_write(out_png) as f:  # a temporary name, renamed when complete
        fig.savefig(f, dpi=120, format="png")
    return out_png
