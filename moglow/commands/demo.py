"""``moglow demo``: the shipped model first, then the whole story on the built-in procedural data.

Stages (each announced; a stage whose outputs are up to date is skipped, so a rerun is cheap
and an interrupted run continues where it stopped):

0. pretrained  ``OUT/pretrained``: the model that ships with the package
            (``moglow.pretrained.DEFAULT_MODEL``: ``pretrained:bandai2_mcmoglow``) along a circle, a figure-eight and a stop-and-go path:
            BVH + npz per set (``moglow sample``, with the foot clean-up), videos, path plots and
            a review page (``OUT/pretrained/review/index.html``); no training, about a minute
1. data     ``OUT/data``: procedural walking/running takes as BVH (``moglow generate-data``)
2. prepare  ``OUT/prepared``: features, scalers and splits (``moglow prepare``)
3. train    ``OUT/run``: ``configs/tiny_cpu.yaml`` with its data switched to the procedural
            takes (checkpoints, ``losses.csv``, ``training_curves.png``; resumes a stopped run)
4. sample   ``OUT/run/samples/<path>``: a few clips along a circle and a figure-eight, one
            BVH per clip, ``samples.npz`` and ``report.json`` (``moglow sample``)
5. render   ``OUT/run/samples/<path>/samples.mp4`` (clips side by side) and a top view of the paths
6. review   ``OUT/run/review/index.html`` (``moglow review``)

``--fast`` shrinks every stage (a few takes, a tiny model, a few dozen steps, 2-second clips,
small videos) so that the whole story runs in about a minute; for tests, not for looking at.

The plan and the stages themselves are :mod:`moglow.demo_stages`; this module is the command.
"""
from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from collections.abc import Callable

from moglow.demo_stages import (DEFAULT_CONFIG, FAST, NORMAL, DemoPlan, demo_config, stage_data, stage_prepare,
                                stage_pretrained, stage_render, stage_sample, stage_train)

HELP = ("the shipped model along three paths (BVH, video, review page), then the whole pipeline on built-in "
        "procedural data: generate, prepare, train, sample, render, review")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=Path("outputs/demo"), help="folder for everything the demo makes")
    parser.add_argument("--fast", action="store_true",
                        help="tiny data, model, training and clips: the whole story in about a minute (for tests)")
    parser.add_argument("--config", default=DEFAULT_CONFIG, metavar="NAME|YAML",
                        help="experiment config to train, a built-in name or a YAML path (its data section is "
                             "pointed at the procedural takes)")
    parser.add_argument("--steps", type=int, default=None, help="training steps; None: the config's "
                        f"(--fast: {FAST.steps})")
    parser.add_argument("--force", action="store_true", help="redo every stage even if up to date")
    from moglow.commands.common import add_device, add_progress

    add_device(parser)
    add_progress(parser)


def _announce(k: int, total: int, text: str) -> None:
    print(f"\n==> [{k}/{total}] {text}", flush=True)


# ============================================================================ the command
@dataclass
class DemoResult:
    """Where everything went, and how long each stage took (seconds)."""

    out: Path
    data_dir: Path
    prepared: Path
    run_dir: Path
    sample_dirs: list[Path]
    videos: list[Path]
    review: Path
    seconds: dict[str, float]
    pretrained_dirs: list[Path] = field(default_factory=list)
    pretrained_review: Path | None = None

    def describe(self) -> str:
        run = self.run_dir
        bvhs = sorted(p for d in self.sample_dirs for p in d.glob("*.bvh"))
        rows = []
        if self.pretrained_review is not None:
            rows += [("shipped model: BVH, npz, videos", ", ".join(str(d) for d in self.pretrained_dirs)),
                     ("shipped model's review page", self.pretrained_review)]
        rows += [
            ("procedural takes (BVH)", self.data_dir),
            ("prepared features", self.prepared),
            ("run: checkpoints, losses.csv, tensorboard/", run),
            ("training curves", run / "training_curves.png"),
            ("samples: BVH, samples.npz, report.json", ", ".join(str(d) for d in self.sample_dirs)),
            ("sample BVH files", f"{len(bvhs)} files, e.g. {bvhs[0]}" if bvhs else "none"),
            ("videos", ", ".join(str(v) for v in self.videos)),
            ("review page", self.review),
        ]
        width = max(len(k) for k, _ in rows)
        times = ", ".join(f"{k} {v:.0f} s" for k, v in self.seconds.items())
        total = sum(self.seconds.values())
        lines = [f"demo finished in {total / 60:.1f} min ({times})", ""]
        lines += [f"  {k:<{width}}  {v}" for k, v in rows]
        lines += ["", f"view the review page: python -m http.server -d {run} 8000, then open "
                      f"http://localhost:8000/review/index.html (or open {self.review} in a browser)"]
        return "\n".join(lines)


def run_demo(out: Path, plan: DemoPlan = NORMAL, config: str | Path = DEFAULT_CONFIG, steps: int | None = None,
             device: str = "cpu", force: bool = False, progress: bool = True, threads: int | None = 1) -> DemoResult:
    """Run every stage into ``out`` (see the module docstring); returns where everything is.

    ``threads``: torch CPU threads while the demo runs (None: leave torch's setting).
    """
    import torch

    previous = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        return _run_stages(Path(out), plan, config, steps, device, force, progress, threads)
    finally:
        torch.set_num_threads(previous)


def _run_stages(out: Path, plan: DemoPlan, config: str | Path, steps: int | None, device: str, force: bool,
                progress: bool, threads: int | None) -> DemoResult:
    from moglow.review import write_review
    from moglow.train import resolve_device

    data_dir, prepared, run_dir = out / "data", out / "prepared", out / "run"
    device = str(resolve_device(device))
    seconds: dict[str, float] = {}
    total = 6 if plan.pretrained is None else 7
    first = total - 6  # stage numbers of the training story start after the shipped model's

    def timed(name: str, fn: Callable[[], Any]) -> Any:
        t0 = time.perf_counter()
        try:
            return fn()
        finally:
            seconds[name] = time.perf_counter() - t0

    pretrained_dirs: list[Path] = []
    pretrained_review = None
    if plan.pretrained is not None:
        _announce(1, total, f"the shipped model pretrained:{plan.pretrained}: {plan.num_samples} x "
                            f"{plan.sample_seconds:g} s along {', '.join(s for _, s in plan.pretrained_paths)}; "
                            f"BVH + npz, videos, review page -> {out / 'pretrained'}")
        pretrained_dirs, _, pretrained_review = timed(
            "pretrained", lambda: stage_pretrained(out / "pretrained", plan, device, force, progress, threads))
        print(f"wrote {pretrained_review}")
    _announce(first + 1, total, f"data: {plan.takes} procedural takes of {plan.take_seconds:g} s -> {data_dir}")
    timed("data", lambda: stage_data(data_dir, plan, force, progress))
    cfg = demo_config(config, data_dir, plan, steps)
    _announce(first + 2, total,
              f"prepare: {cfg.data.representation} features at {cfg.data.fps:g} fps -> {prepared}")
    data = timed("prepare", lambda: stage_prepare(cfg, data_dir, prepared, force, progress))
    _announce(first + 3, total,
              f"train: {Path(config).name} ({cfg.model.coupling} flow, {cfg.model.num_steps} steps of "
              f"{cfg.model.net} hidden {cfg.model.hidden}), {cfg.train.steps} steps -> {run_dir}")
    timed("train", lambda: stage_train(cfg, data, run_dir, device, force, progress))
    _announce(first + 4, total, f"sample: {plan.num_samples} x {plan.sample_seconds:g} s along "
                                f"{', '.join(s for _, s in plan.paths)}; BVH + npz")
    checkpoint = run_dir / "best.pt" if (run_dir / "best.pt").exists() else run_dir / "latest.pt"
    sample_dirs = timed("sample", lambda: stage_sample(checkpoint, run_dir, plan.paths, plan, device, force, progress,
                                                       threads))
    _announce(first + 5, total, "render: sample videos (side by side) and path plots")
    videos = timed("render", lambda: stage_render(run_dir, plan.paths, plan, force, progress))
    _announce(first + 6, total, "review page")
    page = timed("review", lambda: write_review(run_dir, render=False, progress=progress, log=print))
    print(f"wrote {page}")
    return DemoResult(out, data_dir, prepared, run_dir, sample_dirs, videos, page, seconds, pretrained_dirs,
                      pretrained_review)


def run(args: argparse.Namespace) -> int:
    from moglow.cli_checks import USER_ERRORS, report_error

    plan = FAST if args.fast else NORMAL
    if (args.steps is not None and args.steps < 1) or (args.threads is not None and args.threads < 1):
        report_error("demo", "--steps and --threads must be at least 1")
        return 2
    print(f"moglow demo{' --fast' if args.fast else ''}: everything goes to {args.out}"
          + ("" if args.fast else " (about 10 min on 2 CPU cores, mostly training; a rerun skips finished "
                                 "stages)"), flush=True)
    try:
        result = run_demo(args.out, plan, args.config, args.steps, args.device, args.force, not args.no_progress,
                          args.threads)
    except USER_ERRORS as e:
        return report_error("demo", e)
    print()
    print(result.describe())
    return 0


__all__ = ["DemoResult", "run_demo"]
