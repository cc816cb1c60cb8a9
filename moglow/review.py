"""The review page of a training run: one static HTML file to judge a model at a glance.

``moglow review RUN_DIR`` writes ``RUN_DIR/review/index.html``: the training curves, a table
of the run's numbers (validation NLL in nats and bits per frame, steps, parameters), the
evaluation table when ``RUN_DIR/evaluation/evaluation.json`` exists, and every set of samples
under ``RUN_DIR/samples`` as a looping video with its path, temperature and seed and a top
view of the paths, and a 3-D clip viewer (:mod:`visualize.web.clip_json`: play/pause, scrub,
speed, orbit; the samples and the mocap take side by side in sync; foot contacts when the npz
has them). The page is self-contained apart from the videos, images and viewer files it links by
relative path, so the run folder can be copied or served as a whole
(``python -m http.server -d RUN_DIR``, then open ``/review/index.html``; the 3-D viewer needs
the page served over HTTP, the videos play from a file too).

Sample sets are the folders ``moglow sample --out RUN_DIR/samples/NAME`` writes
(:mod:`moglow.export`): ``samples.npz`` (joint positions, paths, fps, labels), one BVH per
sample and ``report.json`` (whose ``info`` holds the path spec, temperature and seed). A
missing or out-of-date ``samples.mp4`` is rendered from the npz with
:func:`visualize.render_positions` (samples side by side), and ``samples_paths.png`` drawn with
:func:`visualize.plots.plot_paths`.

:func:`check_page` opens a page in headless Chromium through the DevTools protocol (over a
pipe: no port, no extra package) and reports whether every video loads and plays, whether
every image loads, and any console errors.

Example::

    >>> page = write_review("runs/tiny")                      # doctest: +SKIP
    >>> with serve_folder("runs/tiny") as base:               # doctest: +SKIP
    ...     print(check_page(base + "/review/index.html").ok)
    True
"""
from __future__ import annotations

import contextlib
import html
import json
import math
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from collections.abc import Callable, Iterator
from urllib.parse import quote

import numpy as np

from data_pipeline.output_files import make_folder, refuse_overwrite, write_text_atomic

__all__ = ["SampleSet", "TrainingSummary", "find_sample_sets", "render_sample_set", "plot_sample_paths",
           "training_summary", "load_evaluation", "write_review", "PageCheck", "check_page", "serve_folder",
           "find_chromium", "ReviewError"]

#: file names inside a run folder
LOSSES_CSV = "losses.csv"
CURVES_PNG = "training_curves.png"
CONFIG_YAML = "config.yaml"
EVALUATION_JSON = Path("evaluation") / "evaluation.json"
SAMPLES_DIR = "samples"
REVIEW_DIR = "review"
VIEWER_DIR = "viewer"

#: CSV columns of :mod:`moglow.logging_utils`
TRAIN_NATS = "train_nats_per_frame_dropout"
VAL_NATS = "val_nats_per_frame"
LN2 = math.log(2.0)


class ReviewError(RuntimeError):
    """The run folder holds nothing to review, or a file in it cannot be read."""


# ============================================================================ sample sets
@dataclass
class SampleSet:
    """One ``samples.npz`` with the files around it.

    Attributes:
        name: the folder relative to ``RUN_DIR/samples`` ("." for files directly in it).
        npz: the npz file; mp4, paths_png: the video and the path plot beside it.
        info: the sampling settings (``report.json``'s ``info``: path, temperature, seed, ...),
            completed from the npz where missing.
        report: the whole ``report.json`` ({} when absent).
        labels: one name per sample; bvh: their BVH files (None where not written).
        num, frames, fps: samples, frames per sample, frames per second.
    """

    name: str
    npz: Path
    info: dict[str, Any]
    report: dict[str, Any]
    labels: list[str]
    bvh: list[Path | None]
    num: int
    frames: int
    fps: float

    @property
    def folder(self) -> Path:
        return self.npz.parent

    @property
    def mp4(self) -> Path:
        return self.npz.with_suffix(".mp4")

    @property
    def paths_png(self) -> Path:
        return self.npz.with_name(self.npz.stem + "_paths.png")

    @property
    def seconds(self) -> float:
        return self.frames / self.fps if self.fps else float("nan")


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ReviewError(f"cannot read {path}: {e}") from e


def _npz_scalar(d: Any, key: str, default: Any = None) -> Any:
    if key not in d.files:
        return default
    value = d[key]
    return value.item() if value.ndim == 0 else value


def _load_sample_set(npz: Path, samples_root: Path) -> SampleSet:
    report_path = npz.parent / "report.json"
    report = _read_json(report_path) if report_path.exists() else {}
    info = dict(report.get("info") or {})
    try:
        with np.load(npz, allow_pickle=False) as d:
            shape = d["positions"].shape
            fps = float(_npz_scalar(d, "fps", 20.0))
            labels = [str(s) for s in d["labels"]] if "labels" in d.files else None
            info.setdefault("temperature", _npz_scalar(d, "temperature"))
            seed = _npz_scalar(d, "seed")
            info.setdefault("seed", None if seed is None or int(seed) < 0 else int(seed))
    except (OSError, ValueError, KeyError) as e:
        raise ReviewError(f"cannot read {npz}: {e}") from e
    if len(shape) == 3:
        shape = (1,) + tuple(shape)
    num, frames = int(shape[0]), int(shape[1])
    labels = labels or [f"sample_{i:03d}" for i in range(num)]
    by_name = {s.get("name"): s for s in report.get("samples") or []}
    bvh: list[Path | None] = []
    for label in labels:
        file = (by_name.get(label) or {}).get("bvh") or f"{label}.bvh"
        bvh.append(npz.parent / file if (npz.parent / file).exists() else None)
    rel = npz.parent.relative_to(samples_root).as_posix()
    name = npz.stem if rel == "." else rel if npz.name == "samples.npz" else f"{rel}/{npz.stem}"
    info.setdefault("fps", fps)
    return SampleSet(name, npz, info, report, labels, bvh, num, frames, fps)


def find_sample_sets(run_dir: str | Path) -> list[SampleSet]:
    """Every ``*.npz`` of generated samples under ``RUN_DIR/samples`` (sorted by folder name)."""
    root = Path(run_dir) / SAMPLES_DIR
    if not root.is_dir():
        return []
    found = []
    for npz in sorted(root.rglob("*.npz")):
        try:
            with np.load(npz, allow_pickle=False) as d:
                if "positions" not in d.files or "parents" not in d.files:
                    continue  # not a sample file
        except (OSError, ValueError) as e:
            raise ReviewError(f"cannot read {npz}: {e}") from e
        found.append(_load_sample_set(npz, root))
    return found


def _up_to_date(target: Path, *sources: Path) -> bool:
    """``target`` exists and is at least as new as every existing source."""
    if not target.exists():
        return False
    t = target.stat().st_mtime
    return all(t >= s.stat().st_mtime for s in sources if s.exists())


def render_sample_set(sset: SampleSet, width: int | None = None, height: int = 360, force: bool = False,
                      progress: bool = True, gl_platform: str = "auto") -> Path:
    """Render ``sset.npz`` (samples side by side, the control path on the floor) to ``sset.mp4``,
    unless the video is already newer than the npz. Written to a temporary name and renamed,
    so an interrupted render never looks finished.

    Args:
        width: frame width in pixels (default: 320 per sample); height: in pixels.
    """
    if not force and _up_to_date(sset.mp4, sset.npz):
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
    if not force and _up_to_date(sset.paths_png, sset.npz):
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


# ============================================================================ training numbers
@dataclass
class TrainingSummary:
    """The numbers of a run folder (NLL in nats per frame; None: not available).

    Attributes:
        name: the config's name; steps: optimiser steps done; target_steps: ``train.steps``.
        parameters: trainable parameters of the model.
        final_val, best_val, best_val_step: validation NLL (data dropout off), last and lowest.
        final_train: the last training NLL (data dropout ON: a training statistic).
        wall_time_s, skipped_steps, rollbacks: from the log.
        config: the run's ``config.yaml`` as a dict ({} without one); config_text: its text.
        curves_csv: the metrics CSV, or None.
        notes: what could not be read, for the page.
    """

    name: str = ""
    steps: int | None = None
    target_steps: int | None = None
    parameters: int | None = None
    final_val: float | None = None
    best_val: float | None = None
    best_val_step: int | None = None
    final_train: float | None = None
    wall_time_s: float | None = None
    skipped_steps: int | None = None
    rollbacks: int | None = None
    config: dict[str, Any] = field(default_factory=dict)
    config_text: str = ""
    curves_csv: Path | None = None
    notes: list[str] = field(default_factory=list)


def _last(series: dict, key: str) -> tuple[float | None, float | None]:
    if key not in series:
        return None, None
    x, y = series[key]
    return float(x[-1]), float(y[-1])


def _parameter_count(run_dir: Path) -> tuple[int | None, int | None]:
    """(trainable parameters, step) of the run's latest checkpoint (best.pt if it is the only one)."""
    ckpt = next((run_dir / n for n in ("latest.pt", "best.pt") if (run_dir / n).exists()), None)
    if ckpt is None:
        return None, None
    from moglow.checkpoint import load_model

    model, state = load_model(ckpt)
    return sum(p.numel() for p in model.parameters() if p.requires_grad), int(state.get("step") or 0)


def training_summary(run_dir: str | Path, count_parameters: bool = True) -> TrainingSummary:
    """Read ``losses.csv``, ``config.yaml`` and the checkpoint of a run folder."""
    run_dir = Path(run_dir)
    s = TrainingSummary(name=run_dir.resolve().name)
    cfg_path = run_dir / CONFIG_YAML
    if cfg_path.exists():
        import yaml

        s.config_text = cfg_path.read_text(encoding="utf-8")
        s.config = yaml.safe_load(s.config_text) or {}
        s.name = str(s.config.get("name") or s.name)
        s.target_steps = (s.config.get("train") or {}).get("steps")
    csv_path = run_dir / LOSSES_CSV
    if csv_path.exists():
        from visualize.plots import read_metrics_csv

        try:
            series = read_metrics_csv(csv_path)
        except ValueError as e:  # header only: training has just started
            s.notes.append(str(e))
            series = {}
        if series:
            s.curves_csv = csv_path
        step, s.final_val = _last(series, VAL_NATS)
        _, s.final_train = _last(series, TRAIN_NATS)
        if VAL_NATS in series:
            x, y = series[VAL_NATS]
            k = int(np.argmin(y))
            s.best_val, s.best_val_step = float(y[k]), int(x[k])
        last = [int(series[c][0][-1]) for c in series]
        s.steps = max(last) if last else None
        for key, attr, kind in (("wall_time_s", "wall_time_s", float), ("skipped_steps", "skipped_steps", int),
                                ("rollbacks", "rollbacks", int)):
            if key in series:
                setattr(s, attr, kind(series[key][1][-1]))
    else:
        s.notes.append(f"no {LOSSES_CSV} in the run folder")
    if count_parameters:
        try:
            s.parameters, ckpt_step = _parameter_count(run_dir)
            if ckpt_step is not None and (s.steps is None or ckpt_step > s.steps):
                s.steps = ckpt_step
        except Exception as e:  # noqa: BLE001 - a page without the count beats no page
            s.notes.append(f"parameters not counted: {type(e).__name__}: {e}")
    return s


def load_evaluation(run_dir: str | Path) -> dict[str, Any] | None:
    """``RUN_DIR/evaluation/evaluation.json`` (``moglow evaluate``), or None."""
    path = Path(run_dir) / EVALUATION_JSON
    return _read_json(path) if path.exists() else None


def _curves_png(run_dir: Path, out_dir: Path, summary: TrainingSummary) -> Path | None:
    """The run's curve PNG if it is up to date with the CSV, else one plotted from the CSV."""
    own = run_dir / CURVES_PNG
    csv_path = summary.curves_csv
    if own.exists() and (csv_path is None or _up_to_date(own, csv_path)):
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


# ============================================================================ HTML
def _e(x: Any) -> str:
    """Escaped text (``None`` -> an en dash)."""
    return "–" if x is None else html.escape(str(x), quote=True)


def _num(x: float | int | None, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    if isinstance(x, (int, np.integer)):
        return f"{int(x):,}"
    return f"{x:.{digits}f}"


def _href(target: Path, page_dir: Path) -> str:
    """URL of ``target`` relative to the page's folder (escaped for an attribute)."""
    rel = os.path.relpath(Path(target).resolve(), Path(page_dir).resolve())
    return html.escape(quote(Path(rel).as_posix()), quote=True)


def _nll_cell(nats: float | None) -> str:
    if nats is None:
        return "–"
    return f"{nats:.3f} nats/frame <span class=dim>({nats / LN2:.3f} bits/frame)</span>"


def _training_table(s: TrainingSummary) -> str:
    model = s.config.get("model") or {}
    arch = ", ".join(f"{k} {model[k]}" for k in ("coupling", "num_steps", "net", "hidden", "num_layers", "tau")
                     if k in model)
    data = s.config.get("data") or {}
    rows = [
        ("final validation NLL (data dropout off)", _nll_cell(s.final_val)),
        ("best validation NLL" + (f" (step {s.best_val_step:,})" if s.best_val_step is not None else ""),
         _nll_cell(s.best_val)),
        ("last training NLL (data dropout ON; a training statistic)", _nll_cell(s.final_train)),
        ("steps", _num(s.steps) + (f" of {_num(s.target_steps)}" if s.target_steps else "")),
        ("parameters", _num(s.parameters)),
        ("model", _e(arch or None)),
        ("data", _e(" ".join(f"{k}={data[k]}" for k in ("profile", "representation", "fps", "data_dir")
                             if k in data) or None)),
        ("training time", "–" if s.wall_time_s is None else f"{s.wall_time_s / 60:.1f} min"),
        ("skipped steps / rollbacks", f"{_num(s.skipped_steps)} / {_num(s.rollbacks)}"),
    ]
    body = "\n".join(f"<tr><th>{_e(k)}</th><td>{v}</td></tr>" for k, v in rows)
    return f'<table class="kv" id="training-table">\n{body}\n</table>'


def _evaluation_html(ev: dict[str, Any]) -> str:
    info, nll, rows = ev.get("info") or {}, ev.get("nll"), ev.get("rows") or {}
    docs = ev.get("metrics") or {}
    parts = [f"<p>Held-out data: {_e(info.get('data_dir'))} ({_e(info.get('files'))} files, "
             f"{_e(info.get('fps'))} fps, profile {_e(info.get('profile'))}); checkpoint "
             f"{_e(info.get('checkpoint'))}, step {_e(info.get('step'))}.</p>"]
    if nll:
        parts.append(f"<p>Held-out NLL (data dropout off): <b>{_nll_cell(nll.get('nats_per_frame'))}</b>, "
                     f"{_e(nll.get('frames'))} frames.</p>")
    columns = [c for c in ("mocap", "generated") if c in rows] + [c for c in rows if c not in ("mocap", "generated")]
    head = "".join(f"<th>{_e(c)}</th>" for c in columns)
    lines = []
    for key, doc in docs.items():
        doc = doc or {}
        cells = "".join(f"<td class=num>{_e(_fmt_metric(rows[c].get(key)))}</td>" for c in columns)
        lines.append(f"<tr><th>{_e(doc.get('label', key))}</th><td>{_e(doc.get('unit'))}</td>"
                     f"<td>{_e(doc.get('better'))}</td>{cells}</tr>")
    parts.append(f'<table class="grid-table" id="evaluation-table"><tr><th>metric</th><th>unit</th>'
                 f"<th>better</th>{head}</tr>\n" + "\n".join(lines) + "\n</table>")
    return "\n".join(parts)


def _fmt_metric(v: Any) -> str | None:
    if v is None or isinstance(v, (dict, list)):
        return None
    if isinstance(v, float):
        if not math.isfinite(v):
            return None
        a = abs(v)
        return f"{v:.3g}" if a >= 1000 or (0 < a < 0.01) else f"{v:.3f}"
    return str(v)


def _sample_card(sset: SampleSet, page_dir: Path, viewer_json: Path | None = None) -> str:
    info = sset.info
    spec = info.get("path") or sset.name
    temperature, seed = info.get("temperature"), info.get("seed")
    video = ""
    if sset.mp4.exists():
        video = (f'<video src="{_href(sset.mp4, page_dir)}" autoplay muted loop playsinline controls '
                 f'preload="auto"></video>')
    else:
        video = '<p class="missing">no video rendered (run moglow review without --no-render)</p>'
    if viewer_json is not None:
        video += (f'\n<div class="clip-viewer" data-clip="{_href(viewer_json, page_dir)}" '
                  f'aria-label="3-D viewer of {_e(sset.name)}"></div>')
    plot = (f'<img src="{_href(sset.paths_png, page_dir)}" alt="top view of the paths of {_e(sset.name)}" '
            f'class="paths">' if sset.paths_png.exists() else "")
    settings = [
        ("path", f"<code>{_e(spec)}</code>"),
        ("temperature", _e(temperature)),
        ("seed", _e(seed)),
        ("samples", f"{sset.num} × {sset.frames} frames ({sset.seconds:.1f} s at {sset.fps:g} fps)"),
    ]
    if info.get("step") is not None:
        settings.append(("checkpoint", f"{_e(Path(str(info.get('checkpoint') or '')).name or None)}, "
                                       f"step {_e(info.get('step'))}"))
    if info.get("style") is not None:
        settings.append(("style", _e(info.get("style"))))
    if info.get("context"):
        settings.append(("context", _e(info.get("context"))))
    if info.get("generated_frames_per_second") is not None:
        settings.append(("generation speed", f"{_e(info['generated_frames_per_second'])} frames/s"))
    table = "\n".join(f"<tr><th>{_e(k)}</th><td>{v}</td></tr>" for k, v in settings)
    errors = {s.get("name"): s for s in sset.report.get("samples") or []}
    items = []
    for i, (label, bvh) in enumerate(zip(sset.labels, sset.bvh)):
        link = f'<a href="{_href(bvh, page_dir)}">{_e(bvh.name)}</a>' if bvh is not None else _e(label)
        err = (errors.get(label) or {}).get("mean_error_m")
        err_text = "" if err is None else f", BVH joint error {100 * float(err):.2f} cm"
        items.append(f"<li>sample {i}: {link} <span class=dim>(batch index {i}, seed {_e(seed)}{err_text})"
                     f"</span></li>")
    return (f'<figure class="card" data-set="{_e(sset.name)}">\n<figcaption><h3>{_e(sset.name)}</h3></figcaption>\n'
            f"{video}\n<div class=details>\n<div>\n<table class=kv>\n{table}\n</table>\n<ul class=samples>\n"
            + "\n".join(items) + f"\n</ul>\n</div>\n{plot}\n</div>\n</figure>")


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:1.5rem auto;max-width:1800px;
padding:0 1rem;color:#1d232b;background:#fafbfc;line-height:1.4}
h1{margin-bottom:.2rem}h2{border-bottom:1px solid #d6dbe1;padding-bottom:.2rem;margin-top:2rem}
.dim{color:#66707c;font-size:.9em}
.cards{display:flex;flex-wrap:wrap;gap:1rem;align-items:flex-start}
.card{flex:1 1 520px;max-width:100%;background:#fff;border:1px solid #d6dbe1;border-radius:6px;padding:.7rem;margin:0}
.card h3{margin:.1rem 0 .5rem}
.card video{width:100%;background:#000;border-radius:4px}
.card .details{display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:flex-start}
.card img.paths{width:300px;max-width:100%;display:block;margin-top:.5rem}
.curves{max-width:100%;border:1px solid #d6dbe1;background:#fff}
table{border-collapse:collapse;margin:.5rem 0}
th,td{padding:.2rem .6rem;border-bottom:1px solid #e4e8ec;text-align:left;vertical-align:top}
table.kv th{font-weight:600;white-space:nowrap}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.grid-table tr:first-child th{background:#eef1f4}
ul.samples{margin:.3rem 0;padding-left:1.2rem}
pre{background:#f1f3f5;padding:.6rem;overflow:auto;font-size:.85em}
.missing{color:#a33}
"""


def _viewer_head() -> str:
    """The clip viewer's CSS, import map and module (files in ``VIEWER_DIR`` beside the page), and a
    note for pages opened from ``file://``, where browsers do not run ES modules."""
    base = VIEWER_DIR
    return (f'<link rel=stylesheet href="{base}/viewer.css">\n'
            f'<script type=importmap>{{"imports": {{"three": "./{base}/vendor/three/three.module.min.js"}}}}</script>\n'
            f'<script type=module src="{base}/clip_player.js"></script>\n'
            "<script>addEventListener('DOMContentLoaded', () => { if (location.protocol === 'file:') "
            "document.querySelectorAll('.clip-viewer').forEach(e => { e.textContent = '3-D viewer: serve this "
            "folder over HTTP (moglow review prints the command); browsers do not run it from a file.'; "
            "e.className = 'clip-viewer-note'; }); });</script>\n")


def write_review(run_dir: str | Path, out_dir: str | Path | None = None, render: bool = True,
                 width: int | None = None, height: int = 360, progress: bool = True,
                 count_parameters: bool = True, log: Callable[[str], None] | None = print,
                 force: bool = True, viewer: bool = True) -> Path:
    """Write the review page of a run folder; returns the ``index.html`` path.

    Args:
        run_dir: the training run folder (``losses.csv``, ``config.yaml``, checkpoints,
            ``samples/*/samples.npz``, optionally ``evaluation/evaluation.json``).
        out_dir: where the page goes (default ``RUN_DIR/review``).
        render: render missing or stale sample videos (else the page says they are missing).
        width, height: video frame size in pixels (width default: 320 per sample).
        progress: tqdm bars while rendering; count_parameters: load the checkpoint to count them.
        log: where one-line messages go (None: nowhere).
        force: replace an existing ``index.html`` (False: :class:`OutputExistsError` instead).
        viewer: give every clip the 3-D clip viewer (:mod:`visualize.web.clip_json`; its files are
            copied into ``OUT/viewer``).
    Raises:
        ReviewError: the folder does not exist or holds neither a training log nor samples.
    """
    run_dir = Path(run_dir)
    say = log or (lambda _m: None)
    if not run_dir.is_dir():
        raise ReviewError(f"run folder not found: {run_dir}")
    out = Path(out_dir) if out_dir is not None else run_dir / REVIEW_DIR
    refuse_overwrite([out / "index.html"], force, "moglow review")
    make_folder(out)
    summary = training_summary(run_dir, count_parameters=count_parameters)
    sets = find_sample_sets(run_dir)
    evaluation = load_evaluation(run_dir)
    if summary.curves_csv is None and not sets and evaluation is None:
        raise ReviewError(f"{run_dir} holds no {LOSSES_CSV}, no samples under {SAMPLES_DIR}/ and no "
                          f"{EVALUATION_JSON}: nothing to review (is it a run folder?)")
    for sset in sets:
        if render and not _up_to_date(sset.mp4, sset.npz):
            say(f"rendering {sset.mp4} ({sset.num} x {sset.frames} frames)")
            t0 = time.perf_counter()
            render_sample_set(sset, width=width, height=height, progress=progress)
            say(f"  rendered in {time.perf_counter() - t0:.1f} s")
        plot_sample_paths(sset)
    curves = _curves_png(run_dir, out, summary)
    viewer_jsons: list[Path | None] = [None] * len(sets)
    if viewer and sets:
        from visualize.web.clip_json import copy_viewer_assets, write_clip_json

        copy_viewer_assets(out / VIEWER_DIR)
        for i, sset in enumerate(sets):
            slug = re.sub(r"[^A-Za-z0-9_-]+", "_", sset.name).strip("_") or "clip"
            target = out / VIEWER_DIR / "clips" / f"{i:02d}_{slug}.json"
            if not _up_to_date(target, sset.npz):
                write_clip_json(sset.npz, target)
            viewer_jsons[i] = target

    title = f"Review: {summary.name}"
    parts = [f"<!doctype html>\n<html lang=en>\n<head>\n<meta charset=utf-8>\n"
             f'<meta name=viewport content="width=device-width, initial-scale=1">\n<title>{_e(title)}</title>\n'
             f'<link rel=icon href="data:,">\n<style>{_CSS}</style>\n{_viewer_head() if viewer and sets else ""}'
             f'</head>\n<body>\n'
             f"<h1>{_e(title)}</h1>\n<p class=dim>Run folder <code>{_e(run_dir.resolve())}</code>; page written "
             f"{_e(datetime.now().strftime('%Y-%m-%d %H:%M'))}. Log-likelihoods: nats per frame (bits in "
             f"brackets); validation with data dropout off.</p>"]
    parts.append(f"<section id=samples>\n<h2>Samples ({len(sets)} set{'s' if len(sets) != 1 else ''})</h2>")
    if sets:
        cards = [_sample_card(s, out, j) for s, j in zip(sets, viewer_jsons, strict=True)]
        parts.append("<div class=cards>\n" + "\n".join(cards) + "\n</div>")
    else:
        parts.append(f"<p>No samples yet: <code>moglow sample --checkpoint {_e(run_dir)} --out "
                     f"{_e(run_dir / SAMPLES_DIR / 'NAME')}</code> writes some.</p>")
    parts.append("</section>\n<section id=training>\n<h2>Training</h2>")
    parts.append(_training_table(summary))
    if curves is not None:
        parts.append(f'<p><img class=curves src="{_href(curves, out)}" alt="training curves"></p>')
    for note in summary.notes:
        parts.append(f"<p class=dim>{_e(note)}</p>")
    parts.append("</section>")
    if evaluation is not None:
        parts.append("<section id=evaluation>\n<h2>Evaluation</h2>\n" + _evaluation_html(evaluation) + "\n</section>")
    if summary.config_text:
        parts.append(f"<section id=config>\n<h2>Configuration</h2>\n<details><summary>{_e(CONFIG_YAML)}</summary>"
                     f"<pre>{_e(summary.config_text)}</pre></details>\n</section>")
    parts.append("</body>\n</html>\n")
    return write_text_atomic(out / "index.html", "\n".join(parts))


# ============================================================================ checking in a browser
@dataclass
class PageCheck:
    """What headless Chromium saw on a page.

    Attributes:
        videos: per ``<video>``: src, readyState, currentTime (s), error code, width, height.
        images: per ``<img>``: src, whether it loaded, natural width.
        errors: console errors, uncaught exceptions and failed resource loads.
        seconds: time until every video had played (or the timeout).
    """

    url: str
    videos: list[dict[str, Any]]
    images: list[dict[str, Any]]
    errors: list[str]
    seconds: float

    @property
    def ok(self) -> bool:
        return (not self.errors and all(v["played"] for v in self.videos)
                and all(i["loaded"] for i in self.images))

    def describe(self) -> str:
        lines = [f"{self.url}: {len(self.videos)} video(s), {len(self.images)} image(s), "
                 f"{len(self.errors)} error(s) in {self.seconds:.1f} s"]
        lines += [f"  video {v['src']}: readyState {v['readyState']}, t={v['currentTime']:.2f} s, error "
                  f"{v['error']}, {v['width']}x{v['height']}" for v in self.videos]
        lines += [f"  image {i['src']}: loaded {i['loaded']}" for i in self.images if not i["loaded"]]
        lines += [f"  error: {e}" for e in self.errors]
        return "\n".join(lines)


def find_chromium() -> str | None:
    """The Chromium (or Chrome) executable on PATH, or None."""
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        exe = shutil.which(name)
        if exe:
            return exe
    return None


class _DevTools:
    """A minimal Chrome DevTools Protocol client over ``--remote-debugging-pipe`` (fds 3 and 4,
    messages separated by NUL bytes)."""

    def __init__(self, exe: str, extra_args: list[str]) -> None:
        self._profile = tempfile.mkdtemp(prefix="moglow-chromium-")
        to_r, self._to_w = os.pipe()
        self._from_r, from_w = os.pipe()
        args = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", f"--user-data-dir={self._profile}",
                "--autoplay-policy=no-user-gesture-required", "--mute-audio", "--remote-debugging-pipe",
                *extra_args, "about:blank"]
        # the protocol wants the pipes as fds 3 (commands in) and 4 (replies out); bash renumbers
        # them (POSIX sh need not handle fds above 9)
        bash = shutil.which("bash")
        if bash is None:
            raise ReviewError("bash not found (needed to hand Chromium its DevTools pipes)")
        self._stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen([bash, "-c", f'exec "$@" 3<&{to_r} 4>&{from_w}', "bash", *args],
                                     pass_fds=(to_r, from_w), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=self._stderr)
        os.close(to_r)
        os.close(from_w)
        self._buf = b""
        self._next_id = 0
        self.events: list[dict] = []
        self._replies: dict[int, dict] = {}

    def _pump(self, timeout: float) -> None:
        import select

        ready, _, _ = select.select([self._from_r], [], [], timeout)
        if not ready:
            return
        chunk = os.read(self._from_r, 1 << 20)
        if not chunk:
            raise ReviewError(f"Chromium closed the DevTools pipe (exit code {self.proc.poll()}): {self.stderr_tail()}")
        self._buf += chunk
        while b"\0" in self._buf:
            raw, self._buf = self._buf.split(b"\0", 1)
            msg = json.loads(raw)
            if "id" in msg:
                self._replies[msg["id"]] = msg
            else:
                self.events.append(msg)

    def stderr_tail(self, chars: int = 2000) -> str:
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")[-chars:]

    def call(self, method: str, params: dict | None = None, session: str | None = None,
             timeout: float = 30.0) -> dict:
        self._next_id += 1
        i = self._next_id
        msg: dict[str, Any] = {"id": i, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        try:
            os.write(self._to_w, json.dumps(msg).encode() + b"\0")
        except BrokenPipeError:
            raise ReviewError(f"Chromium exited (code {self.proc.poll()}): {self.stderr_tail()}") from None
        end = time.monotonic() + timeout
        while i not in self._replies:
            if time.monotonic() > end:
                raise ReviewError(f"Chromium did not answer {method} within {timeout:g} s")
            self._pump(0.2)
        reply = self._replies.pop(i)
        if "error" in reply:
            raise ReviewError(f"{method}: {reply['error']}")
        return reply.get("result") or {}

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.call("Browser.close", timeout=5)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self._to_w, self._from_r):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._stderr.close()
        shutil.rmtree(self._profile, ignore_errors=True)


_MEDIA_STATE = """JSON.stringify({
 videos: Array.from(document.querySelectorAll('video')).map(v => ({src: v.getAttribute('src'),
   readyState: v.readyState, currentTime: v.currentTime, error: v.error ? v.error.code : null,
   width: v.videoWidth, height: v.videoHeight, paused: v.paused})),
 images: Array.from(document.querySelectorAll('img')).map(i => ({src: i.getAttribute('src'),
   complete: i.complete, loaded: i.complete && i.naturalWidth > 0, width: i.naturalWidth})),
 ready: document.readyState})"""


def _event_error(event: dict) -> str | None:
    method, p = event.get("method"), event.get("params") or {}
    if method == "Runtime.exceptionThrown":
        d = p.get("exceptionDetails") or {}
        return f"uncaught exception: {(d.get('exception') or {}).get('description') or d.get('text')}"
    if method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
        return "console." + p["type"] + ": " + " ".join(str(a.get("value", a.get("description", "")))
                                                        for a in p.get("args") or [])
    if method == "Log.entryAdded" and (p.get("entry") or {}).get("level") == "error":
        e = p["entry"]
        return f"{e.get('source')}: {e.get('text')} {e.get('url') or ''}".strip()
    return None


def check_page(url: str, timeout: float = 60.0, min_play_s: float = 0.3, chromium: str | None = None,
               extra_args: list[str] | None = None) -> PageCheck:
    """Open ``url`` in headless Chromium and wait until every video has played ``min_play_s``
    seconds (or ``timeout``); collect console errors, exceptions and failed loads.

    Raises:
        ReviewError: no Chromium found, or it failed to start.
    """
    exe = chromium or find_chromium()
    if exe is None:
        raise ReviewError("Chromium not found (apt-get install chromium)")
    t0 = time.monotonic()
    tools = _DevTools(exe, list(extra_args or []))
    try:
        targets = tools.call("Target.getTargets")["targetInfos"]
        page = next((t for t in targets if t.get("type") == "page"), None)
        if page is None:
            page = {"targetId": tools.call("Target.createTarget", {"url": "about:blank"})["targetId"]}
        session = tools.call("Target.attachToTarget", {"targetId": page["targetId"], "flatten": True})["sessionId"]
        for method in ("Runtime.enable", "Log.enable", "Page.enable"):
            tools.call(method, session=session)
        nav = tools.call("Page.navigate", {"url": url}, session=session)
        if nav.get("errorText"):
            raise ReviewError(f"cannot open {url}: {nav['errorText']}")
        state: dict[str, Any] = {"videos": [], "images": []}
        while True:
            value = tools.call("Runtime.evaluate", {"expression": _MEDIA_STATE, "returnByValue": True},
                               session=session)["result"].get("value")
            state = json.loads(value) if value else state
            done = state.get("ready") == "complete" and all(
                v["currentTime"] >= min_play_s or v["error"] is not None for v in state["videos"]) and all(
                i["complete"] for i in state["images"])
            if done or time.monotonic() - t0 > timeout:
                break
            tools._pump(0.25)
        tools._pump(0.2)  # late console messages
        errors = [e for e in map(_event_error, tools.events) if e]
    finally:
        tools.close()
    videos = [{**v, "played": v["error"] is None and v["currentTime"] >= min_play_s} for v in state["videos"]]
    return PageCheck(url, videos, state["images"], errors, time.monotonic() - t0)


@contextlib.contextmanager
def serve_folder(folder: str | Path, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve ``folder`` over HTTP on a free localhost port in a background thread; yields the base URL."""
    import functools
    import http.server

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:  # no request log on stderr
            pass

    handler = functools.partial(Quiet, directory=str(folder))
    server = http.server.ThreadingHTTPServer((host, 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="review-http", daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
