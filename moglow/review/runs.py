"""The data of a training run folder, for its review page: sample sets, training numbers, evaluation.

A run folder (``moglow train --out RUN_DIR``) holds ``losses.csv`` (:mod:`moglow.logging_utils`),
``config.yaml``, checkpoints, ``samples/NAME/samples.npz`` with ``report.json`` and one BVH per
sample (``moglow sample``, :mod:`moglow.export`), and ``evaluation/evaluation.json``
(``moglow evaluate``). This module reads them into plain objects; nothing here draws or writes.

Example::

    >>> [s.name for s in find_sample_sets("runs/tiny")]          # doctest: +SKIP
    ['circle', 'figure8']
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from moglow.review.errors import ReviewError

__all__ = ["SampleSet", "TrainingSummary", "find_sample_sets", "training_summary", "load_evaluation", "up_to_date",
           "LOSSES_CSV", "CURVES_PNG", "CONFIG_YAML", "EVALUATION_JSON", "SAMPLES_DIR", "TRAIN_NATS", "VAL_NATS", "LN2"]

#: file names inside a run folder
LOSSES_CSV = "losses.csv"
CURVES_PNG = "training_curves.png"
CONFIG_YAML = "config.yaml"
EVALUATION_JSON = Path("evaluation") / "evaluation.json"
SAMPLES_DIR = "samples"

#: CSV columns of :mod:`moglow.logging_utils`
TRAIN_NATS = "train_nats_per_frame_dropout"
VAL_NATS = "val_nats_per_frame"
LN2 = math.log(2.0)


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


def up_to_date(target: Path, *sources: Path) -> bool:
    """``target`` exists and is at least as new as every existing source."""
    if not target.exists():
        return False
    t = target.stat().st_mtime
    return all(t >= s.stat().st_mtime for s in sources if s.exists())


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
