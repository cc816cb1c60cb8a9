"""``moglow train``: train a model from a config file (one process, or many through torchrun)."""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import time
from pathlib import Path

HELP = "train a MoGlow model from a config file (prepares raw BVH data on the way)"

DEFAULT_CONFIG = "tiny_cpu"  # trained when neither --config nor --resume is given
DEFAULT_CACHE = Path(os.environ.get("MOGLOW_CACHE", Path.home() / ".cache" / "moglow")) / "prepared"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from moglow.commands.common import add_config, add_device, add_progress

    add_config(parser, what="experiment config (default: tiny_cpu; with --resume: the run's own, --set still applies)")
    parser.add_argument("--data", type=Path, help="a folder of BVH takes (prepared into --cache first) or a "
                        "prepared-data folder (moglow prepare); default: the config's data.data_dir")
    parser.add_argument("--resume", type=Path, metavar="RUN|FILE.pt", help="continue this run exactly where its "
                        "latest.pt (or the given checkpoint) left off; --config is then optional")
    parser.add_argument("--out", type=Path, metavar="RUN", help="run folder (default: runs/<name>-<time>, or the "
                        "--resume folder)")
    parser.add_argument("--steps", type=int, help="training steps in total, counting resumed steps (same as "
                        "--set train.steps=N)")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="where raw data is prepared "
                        "(env MOGLOW_CACHE)")
    parser.add_argument("--force", action="store_true", help="train into an --out folder that already holds a run's "
                        "checkpoints (they are replaced); without it that is an error")
    add_device(parser)
    parser.set_defaults(device=None)
    add_progress(parser)


def is_prepared(path: Path) -> bool:
    """True if ``path`` is a prepared-data folder (``moglow prepare`` output), not a folder of takes
    that happens to hold another ``manifest.json`` (``moglow generate-data`` writes one)."""
    from data_pipeline.prepare import is_prepared_dir

    return is_prepared_dir(path)


def fitting_profile(data_cfg, source: Path) -> str | None:
    """The shipped profile to use for the takes in ``source`` when the config's does not fit them
    (None: the config's fits, or none fits). Reads only the first take's hierarchy."""
    from data_pipeline.bvh import BVHError, read_bvh_header
    from data_pipeline.prepare import list_data_files
    from data_pipeline.profiles import ProfileError, available_profiles, load_profile
    from data_pipeline.typed_config import ConfigError

    try:
        first = source / list_data_files(source, data_cfg)[0]
        skeleton = read_bvh_header(first)[0]
    except (FileNotFoundError, BVHError, IndexError):
        return None  # prepare reports it, with the file name

    def fits(name: str) -> bool:
        try:
            p = load_profile(name)
            p.bind(skeleton).validate_skeleton(skeleton, str(first))
            return True
        except (ProfileError, ConfigError):
            return False

    if fits(data_cfg.profile):
        return None
    others = [n for n in available_profiles() if n != data_cfg.profile and fits(n)]
    if not others:
        raise ConfigError(f"the skeleton of {first} fits neither the config's profile {data_cfg.profile!r} nor any "
                          f"shipped profile; write one with `moglow profile draft {first}` and set "
                          f"--set data.profile=PATH")
    return others[0]


def cache_key(data_cfg, data_dir: Path) -> str:
    """Short hash of the data settings and the folder; prepare_dataset itself notices changed files."""
    from data_pipeline.typed_config import to_dict

    settings = to_dict(data_cfg)
    settings.pop("data_dir", None)
    blob = json.dumps({"settings": settings, "dir": str(data_dir.resolve())}, sort_keys=True, default=str)
    return hashlib.sha1(blob.encode()).hexdigest()[:12]


def prepared_folder(data_cfg, data: Path | None, cache: Path, progress: bool) -> Path:
    """The prepared-data folder to train on; a raw BVH folder is prepared into ``cache``
    first (reused while its files and the data settings are unchanged)."""
    from data_pipeline.prepare import prepare_dataset

    source = Path(data) if data is not None else Path(data_cfg.data_dir)
    if not source.exists():
        raise FileNotFoundError(f"data folder not found: {source} (give --data or set data.data_dir)")
    if is_prepared(source):
        return source
    other = fitting_profile(data_cfg, source)
    if other is not None:
        print(f"note: the takes in {source} do not fit profile {data_cfg.profile!r}; using the shipped profile "
              f"{other!r}, which fits them (--set data.profile=NAME to choose)", file=sys.stderr)
        data_cfg.profile = other
    out = cache / f"{source.resolve().name}-{cache_key(data_cfg, source)}"
    return prepare_dataset(data_cfg, source, out, skip_bad=data_cfg.skip_bad, progress=progress,
                           log=lambda m: print(m, file=sys.stderr))


def run_folder(name: str, out: Path | None, resume: Path | None, runs: Path = Path("runs")) -> Path:
    """Where a run writes: ``--out``, else the ``--resume`` folder, else ``runs/<name>-<time>``.

    The config's name is a plain name (:func:`moglow.config.check_plain_name`; checked again
    here for configs built in code), so the default folder is always inside ``runs/``.
    """
    from data_pipeline.typed_config import ConfigError
    from moglow.cli_checks import UsageError
    from moglow.config import check_plain_name

    if out is not None:
        return out
    if resume is not None:
        return resume if resume.is_dir() else resume.parent
    try:
        check_plain_name(name, "the config's name")
    except ConfigError as e:
        raise UsageError(str(e)) from None
    folder = runs / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"
    if folder.resolve().parent != runs.resolve():
        raise UsageError(f"the config's name {name!r} would put the run folder outside {runs}/")
    return folder


def run(args: argparse.Namespace) -> int:
    from data_pipeline.output_files import refuse_overwrite
    from data_pipeline.prepare import PreparedData
    from moglow import distributed as D
    from moglow.checkpoint import load_checkpoint, resolve_checkpoint
    from moglow.cli_checks import USER_ERRORS, check_range, check_threads, report_error
    from moglow.commands.common import apply_threads
    from moglow.config import experiment_from_dict, load_experiment
    from moglow.train import Trainer, TrainingDiverged, resolve_device

    try:
        check_threads(args.threads)
        check_range("--steps", args.steps, 1, None, integer=True)
    except USER_ERRORS as e:
        report_error("train", e)
        return 2
    apply_threads(args.threads)

    try:
        ckpt = None
        if args.resume is not None and str(args.resume).startswith("pretrained:"):
            report_error("train", f"{args.resume} is a shipped model without optimiser state; it cannot be resumed "
                                  "(train from its config instead: see its model card)")
            return 2
        if args.resume is not None:
            ckpt = load_checkpoint(args.resume, map_location="cpu")
            doc = ckpt["config"]
            if args.overrides:
                from data_pipeline.typed_config import apply_overrides

                doc = apply_overrides(doc, args.overrides)
            cfg = experiment_from_dict(doc)
            if args.config is not None:
                print(f"--resume: using the config stored in {args.resume} (ignoring {args.config})", file=sys.stderr)
        else:
            if args.config is None:
                print(f"moglow train: no --config: training the built-in {DEFAULT_CONFIG!r} config", file=sys.stderr)
            cfg = load_experiment(args.config or DEFAULT_CONFIG, args.overrides)
    except USER_ERRORS as e:
        report_error("train", e)
        return 2
    if args.steps is not None:
        cfg.train.steps = args.steps
    try:
        device = resolve_device(args.device or cfg.train.device)
        run_dir = run_folder(cfg.name, args.out, args.resume)
        if args.resume is None:  # a fresh run never replaces another run's checkpoints unasked
            refuse_overwrite([run_dir / "latest.pt", run_dir / "best.pt"], args.force, "moglow train --out")
    except USER_ERRORS as e:
        report_error("train", e)
        return 2
    info = D.init_from_env(device.type)
    progress = not args.no_progress and info.is_main
    try:
        data_arg = args.data
        if data_arg is None and ckpt is not None and ckpt["data"].get("prepared_dir"):
            data_arg = Path(ckpt["data"]["prepared_dir"])
        if info.is_main:
            folder = prepared_folder(cfg.data, data_arg, args.cache, progress)
        D.barrier(info)
        if not info.is_main:
            folder = prepared_folder(cfg.data, data_arg, args.cache, False)
        data = PreparedData.load(folder)

        resume_from = None
        if args.resume is not None:
            resume_from = resolve_checkpoint(args.resume, prefer="latest")
            old_csv = resume_from.parent / "losses.csv"
            if info.is_main and run_dir.resolve() != resume_from.parent.resolve() and old_csv.exists():
                run_dir.mkdir(parents=True, exist_ok=True)
                shutil.copy2(old_csv, run_dir / "losses.csv")
        trainer = Trainer(cfg, data, run_dir, device=device, dist=info, progress=progress, verbose=True)
        if info.is_main:
            print(f"{cfg.name}: {sum(p.numel() for p in trainer.model.parameters()):,} parameters, "
                  f"{len(trainer.train_ds):,} training windows, "
                  f"{len(trainer.val_ds) if trainer.val_ds is not None else 0:,} validation windows, "
                  f"device {trainer.device}, {info.world_size} process(es), run folder {run_dir}", file=sys.stderr)
        result = trainer.fit(resume_from=resume_from)
    except TrainingDiverged as e:
        report_error("train", e, what="training diverged")
        return 3
    except USER_ERRORS as e:
        report_error("train", e)
        return 2
    finally:
        D.cleanup(info)
    if info.is_main:
        def f(x):
            return "n/a" if x is None else f"{x:.4f}"
        print(f"done: step {result.step}, train {f(result.last_train_nats_dropout)} nats/frame (data dropout on), "
              f"val {f(result.last_val_nats)} (best {f(result.best_val_nats)}) nats/frame (dropout off), "
              f"{result.skipped_steps} skipped step(s), {result.rollbacks} rollback(s), "
              f"{result.wall_time_s:.0f} s; checkpoints in {result.run_dir}", file=sys.stderr)
    return 0
