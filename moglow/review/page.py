"""``moglow review RUN_DIR``: the review page of a training run, one static HTML file (``RUN_DIR/review/index.html``).

The page shows the training curves, a table of the run's numbers (validation NLL in nats and bits
per frame, steps, parameters), the evaluation table when ``RUN_DIR/evaluation/evaluation.json``
exists, and every set of samples under ``RUN_DIR/samples`` as a looping video with its path,
temperature and seed, a top view of the paths and a 3-D clip viewer
(:mod:`visualize.web.clip_json`: play/pause, scrub, speed, orbit; the samples and the mocap take
side by side in sync; foot contacts when the npz has them). It links its videos, images and
viewer files by relative path, so the run folder can be copied or served as a whole
(``python -m http.server -d RUN_DIR``, then open ``/review/index.html``; the 3-D viewer needs the
page served over HTTP, the videos play from a file too).

The data come from :mod:`moglow.review.runs`, the pictures from :mod:`moglow.review.media`, the
markup from the Jinja2 templates (:mod:`moglow.review.rendering`, autoescaped).

Example::

    >>> page = write_review("runs/tiny")                      # doctest: +SKIP
"""
from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from data_pipeline.output_files import make_folder, refuse_overwrite, write_text_atomic
from moglow.review.errors import ReviewError
from moglow.review.media import curves_png, plot_sample_paths, render_sample_set
from moglow.review.rendering import fmt_metric, href, num, render as render_template
from moglow.review.runs import (CONFIG_YAML, EVALUATION_JSON, LOSSES_CSV, SAMPLES_DIR, SampleSet, TrainingSummary,
                                find_sample_sets, load_evaluation, training_summary, up_to_date)

__all__ = ["write_review", "evaluation_context", "copy_clip_viewer", "REVIEW_DIR", "VIEWER_DIR"]

#: the page's folder inside a run folder, and the viewer's folder beside the page
REVIEW_DIR = "review"
VIEWER_DIR = "viewer"
SERVE_HINT = "moglow review prints the command"


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", name).strip("_") or "clip"


def copy_clip_viewer(page_dir: Path, clips: list[tuple[str, Path]]) -> list[Path]:
    """Copy the clip viewer's files into ``page_dir/viewer`` and write one clip JSON per
    ``(name, npz)`` (skipped when newer than its npz); returns the JSON paths, in order."""
    from visualize.web.clip_json import copy_viewer_assets, write_clip_json

    copy_viewer_assets(page_dir / VIEWER_DIR)
    out = []
    for i, (name, npz) in enumerate(clips):
        target = page_dir / VIEWER_DIR / "clips" / f"{i:02d}_{_slug(name)}.json"
        if not up_to_date(target, npz):
            write_clip_json(npz, target)
        out.append(target)
    return out


def _training_rows(s: TrainingSummary) -> list[dict[str, Any]]:
    model = s.config.get("model") or {}
    arch = ", ".join(f"{k} {model[k]}" for k in ("coupling", "num_steps", "net", "hidden", "num_layers", "tau")
                     if k in model)
    data = s.config.get("data") or {}
    best = "best validation NLL" + (f" (step {s.best_val_step:,})" if s.best_val_step is not None else "")
    return [
        {"label": "final validation NLL (data dropout off)", "nll": s.final_val},
        {"label": best, "nll": s.best_val},
        {"label": "last training NLL (data dropout ON; a training statistic)", "nll": s.final_train},
        {"label": "steps", "text": num(s.steps) + (f" of {num(s.target_steps)}" if s.target_steps else "")},
        {"label": "parameters", "text": num(s.parameters)},
        {"label": "model", "text": arch or None},
        {"label": "data", "text": " ".join(f"{k}={data[k]}" for k in ("profile", "representation", "fps", "data_dir")
                                           if k in data) or None},
        {"label": "training time", "text": None if s.wall_time_s is None else f"{s.wall_time_s / 60:.1f} min"},
        {"label": "skipped steps / rollbacks", "text": f"{num(s.skipped_steps)} / {num(s.rollbacks)}"},
    ]


def evaluation_context(ev: dict[str, Any]) -> dict[str, Any]:
    """The template data of an ``evaluation.json`` (:mod:`moglow.evaluation`): info, NLL, one row per
    metric with a cell per column (mocap, generated, cleaned, ...), warnings."""
    info, rows = dict(ev.get("info") or {}), ev.get("rows") or {}
    for key in ("data_dir", "files", "fps", "profile", "checkpoint", "step"):
        info.setdefault(key, None)
    nll = ev.get("nll")
    columns = [c for c in ("mocap", "generated") if c in rows] + [c for c in rows if c not in ("mocap", "generated")]
    metrics = [{"label": (doc or {}).get("label", key), "unit": (doc or {}).get("unit"),
                "better": (doc or {}).get("better"), "cells": [fmt_metric(rows[c].get(key)) for c in columns]}
               for key, doc in (ev.get("metrics") or {}).items()]
    return {"info": info, "nll": {"nats_per_frame": nll.get("nats_per_frame"), "frames": nll.get("frames")}
            if nll else None, "columns": columns, "metrics": metrics, "warnings": list(info.get("warnings") or [])}


def _card(sset: SampleSet, page_dir: Path, viewer_json: Path | None) -> dict[str, Any]:
    info = sset.info
    settings: list[tuple[str, Any]] = [
        ("temperature", info.get("temperature")),
        ("seed", info.get("seed")),
        ("samples", f"{sset.num} × {sset.frames} frames ({sset.seconds:.1f} s at {sset.fps:g} fps)"),
    ]
    if info.get("step") is not None:
        ckpt = Path(str(info.get("checkpoint") or "")).name or "–"
        settings.append(("checkpoint", f"{ckpt}, step {info.get('step')}"))
    if info.get("style") is not None:
        settings.append(("style", info.get("style")))
    if info.get("context"):
        settings.append(("context", info.get("context")))
    if info.get("generated_frames_per_second") is not None:
        settings.append(("generation speed", f"{info['generated_frames_per_second']} frames/s"))
    by_name = {s.get("name"): s for s in sset.report.get("samples") or []}
    samples = []
    for i, (label, bvh) in enumerate(zip(sset.labels, sset.bvh, strict=True)):
        err = (by_name.get(label) or {}).get("mean_error_m")
        samples.append({"index": i, "label": label, "bvh": href(bvh, page_dir) if bvh is not None else None,
                        "bvh_name": bvh.name if bvh is not None else None,
                        "error_cm": None if err is None else 100 * float(err)})
    return {"name": sset.name, "path": info.get("path") or sset.name, "seed": info.get("seed"),
            "video": href(sset.mp4, page_dir) if sset.mp4.exists() else None,
            "viewer": href(viewer_json, page_dir) if viewer_json is not None else None,
            "paths_png": href(sset.paths_png, page_dir) if sset.paths_png.exists() else None,
            "settings": settings, "samples": samples}


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
        if render and not up_to_date(sset.mp4, sset.npz):
            say(f"rendering {sset.mp4} ({sset.num} x {sset.frames} frames)")
            t0 = time.perf_counter()
            render_sample_set(sset, width=width, height=height, progress=progress)
            say(f"  rendered in {time.perf_counter() - t0:.1f} s")
        plot_sample_paths(sset)
    curves = curves_png(run_dir, out, summary)
    viewer_jsons: list[Path | None] = [None] * len(sets)
    if viewer and sets:
        viewer_jsons = list(copy_clip_viewer(out, [(s.name, s.npz) for s in sets]))
    evaluation_page = run_dir / EVALUATION_JSON.with_name("evaluation.html")
    text = render_template(
        "review.html", title=f"Review: {summary.name}", viewer_dir=VIEWER_DIR if viewer and sets else None,
        serve_hint=SERVE_HINT, run_dir=str(run_dir.resolve()), written=datetime.now().strftime("%Y-%m-%d %H:%M"),
        cards=[_card(s, out, j) for s, j in zip(sets, viewer_jsons, strict=True)],
        run_dir_arg=str(run_dir), samples_arg=str(run_dir / SAMPLES_DIR / "NAME"),
        training=_training_rows(summary), curves=href(curves, out) if curves is not None else None,
        notes=summary.notes, evaluation=evaluation_context(evaluation) if evaluation is not None else None,
        evaluation_page=href(evaluation_page, out) if evaluation_page.exists() else None,
        config_name=CONFIG_YAML, config_text=summary.config_text)
    return write_text_atomic(out / "index.html", text)
