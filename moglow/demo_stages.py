"""The stages of ``moglow demo`` (:mod:`moglow.commands.demo`) and the plan that sizes them.

:class:`DemoPlan` says what each stage does (:data:`NORMAL`, :data:`FAST` for ``--fast``); each
``stage_*`` function makes its outputs, or skips when they are up to date, so a rerun is cheap and
an interrupted run continues where it stopped.
"""
from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from data_pipeline.errors import MoglowError
from data_pipeline.plain_data import to_plain
from moglow.pretrained import DEFAULT_MODEL

__all__ = ["DemoPlan", "NORMAL", "FAST", "DEFAULT_CONFIG", "DemoError", "demo_config", "stage_data", "stage_prepare",
           "stage_train", "stage_sample", "stage_render", "stage_pretrained"]

DEFAULT_CONFIG = "tiny_cpu"  # a built-in config (data_pipeline.resources), or a YAML path


@dataclass(frozen=True)
class DemoPlan:
    """What the demo does at each stage.

    Attributes:
        takes, take_seconds, data_seed, data_fps: the procedural dataset (takes of that many
            seconds at that BVH frame rate).
        steps: training steps (None: the config's ``train.steps``).
        overrides: ``{"section.key": value}`` changes to the experiment config (e.g. a smaller
            model for ``--fast``).
        paths: ``(name, path spec)`` of each sample set.
        num_samples, sample_seconds, temperature, seed: per sample set.
        panel_width, video_height: pixels per clip in the videos.
        pretrained: the shipped model sampled first (``moglow pretrained`` lists them; None: skip).
        pretrained_paths: ``(name, path spec)`` of its sample sets.
    """

    takes: int = 40
    take_seconds: float = 30.0
    data_seed: int = 0
    data_fps: float = 60.0
    steps: int | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    paths: tuple[tuple[str, str], ...] = (("circle", "circle:radius=2,speed=1.2"),      # 12 m: ~1 lap in 10 s
                                          ("figure8", "figure8:size=4.5,speed=1.3"))  # ~1 whole eight in 10 s
    num_samples: int = 3
    sample_seconds: float = 10.0
    temperature: float = 0.8
    seed: int = 0
    panel_width: int = 320
    video_height: int = 360
    pretrained: str | None = DEFAULT_MODEL
    pretrained_paths: tuple[tuple[str, str], ...] = (("circle", "circle:radius=2,speed=1.2"),
                                                     ("figure8", "figure8:size=4.5,speed=1.3"),
                                                     ("stop-and-go", "stop-and-go:speed=1.2,period=4"))


NORMAL = DemoPlan(steps=2000)  # tiny_cpu's own 5,000 steps are for real mocap; the procedural takes need fewer
FAST = DemoPlan(
    takes=8, take_seconds=10.0, steps=24,
    overrides={"model.num_steps": 2, "model.hidden": 16, "train.batch_size": 8, "train.seq_len": 10,
               "train.stride": 4, "train.warmup_steps": 5, "train.val_every": 8, "train.val_batches": 2,
               "train.checkpoint_every": 8, "train.log_every": 4, "train.plot_every": 24},
    num_samples=2, sample_seconds=2.0, panel_width=160, video_height=128)


class DemoError(MoglowError, RuntimeError):
    """A stage failed (the message names it)."""


def _set_override(cfg: Any, dotted: str, value: Any) -> None:
    *parents, key = dotted.split(".")
    obj = cfg
    for p in parents:
        obj = getattr(obj, p)
    if not hasattr(obj, key):
        raise DemoError(f"unknown config key {dotted!r}")
    setattr(obj, key, value)


def demo_config(config: str | Path, data_dir: Path, plan: DemoPlan, steps: int | None):
    """The experiment config the demo trains: ``config`` on the procedural takes, with the plan's overrides."""
    from moglow.config import load_experiment

    cfg = load_experiment(config)
    cfg.name = f"demo_{cfg.name}"
    cfg.data.profile = "procedural"
    cfg.data.data_dir = str(data_dir)
    cfg.data.max_files = None
    for key, value in plan.overrides.items():
        _set_override(cfg, key, value)
    if steps is not None or plan.steps is not None:
        cfg.train.steps = int(steps if steps is not None else plan.steps)
    cfg.train.validate()
    cfg.data.validate()
    return cfg


# ============================================================================ stages
def stage_data(out: Path, plan: DemoPlan, force: bool, progress: bool) -> bool:
    """Generate the procedural takes unless ``out/manifest.json`` records the same settings; True if run."""
    from data_pipeline.procedural import DATASET_KINDS, GENERATOR_VERSION, generate_dataset

    manifest = out / "manifest.json"
    want = dict(version=GENERATOR_VERSION, seed=plan.data_seed, num_takes=plan.takes,
                seconds=float(plan.take_seconds), fps=float(plan.data_fps), kinds=list(DATASET_KINDS))
    if not force and manifest.exists():
        have = json.loads(manifest.read_text(encoding="utf-8"))
        if all(have.get(k) == v for k, v in want.items()) and all((out / f).exists() for f in have.get("files", [])):
            print(f"up to date: {plan.takes} takes in {out}")
            return False
    if out.exists():  # other settings: start the folder afresh (it is the demo's own)
        for old in list(out.glob("*.bvh")) + list(out.glob("*.path.json")) + [manifest]:
            old.unlink(missing_ok=True)
    generate_dataset(out, num_takes=plan.takes, seconds=plan.take_seconds, seed=plan.data_seed, fps=plan.data_fps,
                     progress=progress)
    print(f"wrote {plan.takes} takes of {plan.take_seconds:g} s ({plan.takes * plan.take_seconds / 60:.1f} min of "
          f"motion) to {out}")
    return True


def stage_prepare(cfg, data_dir: Path, out: Path, force: bool, progress: bool):
    """Prepare features (``prepare_dataset`` reuses an up-to-date folder by its data hash)."""
    from data_pipeline.prepare import PreparedData, prepare_dataset

    prepare_dataset(cfg.data, data_dir, out, progress=progress, force=force, log=print)
    data = PreparedData.load(out)
    sizes = ", ".join(f"{k} {len(v)}" for k, v in data.splits.items())
    print(f"prepared {out}: files {sizes}; pose features {data.pose_dim}, control {data.control_dim}")
    return data


def _train_status(run_dir: Path, cfg, data) -> tuple[str, int]:
    """("done" | "resume" | "fresh", step of latest.pt) for the run folder and this config and data."""
    from moglow.checkpoint import CheckpointError, load_checkpoint
    from moglow.config import experiment_to_dict

    latest = run_dir / "latest.pt"
    if not latest.exists():
        return "fresh", 0
    try:
        ckpt = load_checkpoint(latest)
    except CheckpointError:
        return "fresh", 0
    theirs, ours = to_plain(ckpt.get("config") or {}), to_plain(experiment_to_dict(cfg))  # tuples: lists
    for d in (theirs, ours):
        d.get("train", {}).pop("steps", None)
    step = int(ckpt.get("step") or 0)
    if theirs != ours or (ckpt.get("data") or {}).get("data_hash") != getattr(data, "data_hash", None):
        return "fresh", step
    if step == cfg.train.steps:
        return "done", step
    return ("resume", step) if step < cfg.train.steps else ("fresh", step)


def stage_train(cfg, data, run_dir: Path, device: str, force: bool, progress: bool) -> bool:
    """Train (or resume, or skip when ``latest.pt`` already has ``train.steps`` with this config and data)."""
    from moglow.train import Trainer

    status, step = ("fresh", 0) if force else _train_status(run_dir, cfg, data)
    if status == "done":
        print(f"up to date: {run_dir}/latest.pt has {step} steps of this config on this data")
        return False
    if status == "fresh":
        for name in ("latest.pt", "best.pt", "losses.csv", "training_curves.png", "config.yaml"):
            (run_dir / name).unlink(missing_ok=True)
        shutil.rmtree(run_dir / "tensorboard", ignore_errors=True)
    trainer = Trainer(cfg, data, run_dir, device=device, progress=progress, verbose=not progress)
    params = sum(p.numel() for p in trainer.model.parameters())
    how = f"resuming at step {step}" if status == "resume" else "from scratch"
    print(f"training {cfg.name} {how} to {cfg.train.steps} steps: {params:,} parameters, "
          f"{len(trainer.train_ds):,} training windows, device {trainer.device}", flush=True)
    result = trainer.fit(resume_from=run_dir / "latest.pt" if status == "resume" else None)

    def f(x):
        return "n/a" if x is None else f"{x:.3f}"
    print(f"trained to step {result.step}: validation NLL {f(result.last_val_nats)} nats/frame (best "
          f"{f(result.best_val_nats)}), training NLL {f(result.last_train_nats_dropout)} (data dropout on), "
          f"{result.wall_time_s:.0f} s")
    return True


def _sample_up_to_date(folder: Path, checkpoint: Path, spec: str, plan: DemoPlan) -> bool:
    report = folder / "report.json"
    if not report.exists() or not (folder / "samples.npz").exists():
        return False
    if report.stat().st_mtime < checkpoint.stat().st_mtime:
        return False
    try:
        r = json.loads(report.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        return False
    info = r.get("info") or {}
    same = (info.get("path") == spec and info.get("num") == plan.num_samples
            and info.get("temperature") == plan.temperature and info.get("seed") == plan.seed
            and info.get("checkpoint") == str(checkpoint)
            and abs(float(info.get("seconds") or 0) - plan.sample_seconds) < 0.1)
    bvhs = [s.get("bvh") for s in r.get("samples") or []]
    return same and len(bvhs) == plan.num_samples and all(b and (folder / b).exists() for b in bvhs)


def stage_sample(checkpoint: Path, root: Path, paths: tuple[tuple[str, str], ...], plan: DemoPlan, device: str,
                 force: bool, progress: bool, threads: int | None = None) -> list[Path]:
    """Sample ``paths`` from ``checkpoint`` into ``root/samples/<name>`` with ``moglow sample``
    (skipping sets newer than the checkpoint)."""
    from moglow.cli import main as moglow_main

    if not checkpoint.exists():
        raise DemoError(f"no checkpoint {checkpoint} to sample from")
    folders = []
    for name, spec in paths:
        folder = root / "samples" / name
        folders.append(folder)
        if not force and _sample_up_to_date(folder, checkpoint, spec, plan):
            print(f"up to date: {folder} ({plan.num_samples} samples along {spec})")
            continue
        shutil.rmtree(folder, ignore_errors=True)  # stale BVHs, video and plot go too
        print(f"sampling {plan.num_samples} x {plan.sample_seconds:g} s along {spec} "
              f"(temperature {plan.temperature:g}, seed {plan.seed}) -> {folder}", flush=True)
        argv = ["sample", "--checkpoint", str(checkpoint), "--path", spec, "--seconds", f"{plan.sample_seconds:g}",
                "--num", str(plan.num_samples), "--temperature", f"{plan.temperature:g}", "--seed", str(plan.seed),
                "--out", str(folder), "--device", device]
        if threads:
            argv += ["--threads", str(threads)]
        if not progress:
            argv.append("--no-progress")
        rc = moglow_main(argv)
        if rc != 0:
            raise DemoError(f"moglow {' '.join(argv)} failed (exit code {rc})")
    return folders


def stage_render(root: Path, paths: tuple[tuple[str, str], ...], plan: DemoPlan, force: bool,
                 progress: bool) -> list[Path]:
    """Render the video and path plot of each sample set of ``paths`` under ``root`` (skipping
    those newer than their npz)."""
    from moglow.review.media import plot_sample_paths, render_sample_set
    from moglow.review.runs import find_sample_sets

    wanted = {name for name, _ in paths}
    videos = []
    for sset in find_sample_sets(root):
        if sset.name not in wanted:
            continue
        fresh = sset.mp4.exists() and sset.mp4.stat().st_mtime >= sset.npz.stat().st_mtime
        if fresh and not force:
            print(f"up to date: {sset.mp4}")
        else:
            t0 = time.perf_counter()
            render_sample_set(sset, width=plan.panel_width * sset.num, height=plan.video_height, force=True,
                              progress=progress)
            print(f"rendered {sset.mp4} ({sset.num} clips x {sset.frames} frames) in {time.perf_counter() - t0:.1f} s",
                  flush=True)
        plot_sample_paths(sset, force=force)
        videos.append(sset.mp4)
    return videos


def stage_pretrained(out: Path, plan: DemoPlan, device: str, force: bool, progress: bool,
                     threads: int | None) -> tuple[list[Path], list[Path], Path]:
    """The shipped model along the plan's ``pretrained_paths``: samples, videos and a review page
    under ``out``; returns (sample folders, videos, review page)."""
    from moglow.checkpoint import CheckpointError, resolve_checkpoint
    from moglow.review import write_review

    try:
        checkpoint = resolve_checkpoint(f"pretrained:{plan.pretrained}")
    except CheckpointError as e:
        raise DemoError(str(e)) from None
    folders = stage_sample(checkpoint, out, plan.pretrained_paths, plan, device, force, progress, threads)
    videos = stage_render(out, plan.pretrained_paths, plan, force, progress)
    return folders, videos, write_review(out, render=False, progress=progress, log=print)
