"""``moglow evaluate``: held-out NLL and motion-quality metrics of a checkpoint, as a JSON and a table."""
from __future__ import annotations

import argparse
from pathlib import Path

HELP = "held-out NLL and motion-quality metrics (foot skating, jerk, diversity, Fréchet distance, ...)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from moglow.commands.common import add_checkpoint, add_device, add_progress

    add_checkpoint(parser, required=False, extra="leave out with --profile to score the mocap alone")
    parser.add_argument("--data", type=Path, metavar="HELD_OUT_BVH_DIR",
                        help="folder of held-out BVH files, prepared with the checkpoint's own pipeline "
                             "(with --split: default the checkpoint's own data folder)")
    parser.add_argument("--split", choices=["test", "val", "train"],
                        help="only the files of this split of the checkpoint's own prepared data (its manifest); "
                             "'test' files were never trained on nor used to pick best.pt")
    parser.add_argument("--num-samples", type=int, help="motions generated per held-out path (config: num_samples)")
    parser.add_argument("--temperature", type=float,
                        help="latent temperature (config: temperature; default: the model's own, 1.0 unless its "
                             "checkpoint names one)")
    parser.add_argument("--seed", type=int, help="seed of the latents (config: seed)")
    parser.add_argument("--config", default=None, metavar="NAME|YAML",
                        help="evaluation settings: a built-in name or a YAML path (default: the built-in "
                             "'evaluation', configs/evaluation.yaml)")
    parser.add_argument("--clips", type=int, default=3, metavar="N",
                        help="show the first N held-out takes (generated, cleaned up, beside the mocap) in the 3-D "
                             "viewer of evaluation.html (default 3; 0: the metrics table only)")
    parser.add_argument("--out", type=Path, help="folder for evaluation.json, evaluation.md and evaluation.html "
                        "(default: RUN/evaluation, or ./evaluation without a checkpoint)")
    parser.add_argument("--pattern", nargs="+", metavar="GLOB",
                        help="glob(s) of the held-out files in --data, e.g. '*_walk_*' '*_walkturn_*'; the count "
                             "each matches is printed (config: pattern)")
    parser.add_argument("--max-files", type=int, help="use at most this many files (config: max_files)")
    parser.add_argument("--max-seconds", type=float, help="crop every take to this length (config: max_seconds)")
    parser.add_argument("--batch-size", type=int, help="sequences generated at once (config: batch_size)")
    parser.add_argument("--profile", help="without --checkpoint: skeleton profile of the files (e.g. cmu)")
    parser.add_argument("--fps", type=float, default=20.0, help="without --checkpoint: frame rate to resample to")
    add_device(parser)
    parser.add_argument("--force", action="store_true", help="replace evaluation.json/.md already in --out")
    parser.add_argument("--no-cleanup", action="store_true",
                        help="score only the raw model (by default a second row scores what the user gets: the "
                             "motion on the training skeleton with the feet cleaned up, as every output writes it)")
    parser.add_argument("--baseline", nargs="+", default=[], metavar="NAME",
                        help="also score these generators as rows on the same paths, e.g. motion-matching "
                             "(installed moglow.generators entry points, or module:function)")
    parser.add_argument("--baseline-set", nargs="+", default=[], metavar="KEY=VALUE",
                        help="options of the --baseline generators, e.g. top_k=4 future=oracle")
    add_progress(parser)


def run(args: argparse.Namespace) -> int:
    import dataclasses

    from data_pipeline.output_files import refuse_overwrite
    from moglow.cli_checks import MAX_TEMPERATURE, USER_ERRORS, UsageError, check_device, check_range, report_error
    from moglow.evaluation.config import load_evaluation_config
    from moglow.evaluation.evaluate import evaluate_checkpoint, evaluate_reference
    from moglow.evaluation.generators import load_generator_factory
    from moglow.evaluation.result import EvaluationResult
    from moglow.pretrained import is_pretrained
    from moglow.evaluation.clips import CLIPS_DIR, write_clips
    from moglow.review.evaluation_page import EVALUATION_HTML, write_evaluation_page

    def result_paths(out: Path) -> list[Path]:
        return [*EvaluationResult.output_paths(out), Path(out) / EVALUATION_HTML]

    from moglow.commands.common import apply_threads

    apply_threads(args.threads)
    try:
        cfg = load_evaluation_config(args.config)
        overrides = {"num_samples": args.num_samples, "temperature": args.temperature, "seed": args.seed,
                     "pattern": (args.pattern[0] if len(args.pattern) == 1 else list(args.pattern))
                     if args.pattern else None, "max_files": args.max_files, "max_seconds": args.max_seconds,
                     "batch_size": args.batch_size}
        cfg = dataclasses.replace(cfg, **{k: v for k, v in overrides.items() if v is not None})
        cfg.validate()
        if cfg.temperature is not None:
            check_range("--temperature", cfg.temperature, 0.0, MAX_TEMPERATURE)
        check_range("--num-samples", cfg.num_samples, 1, 1000, integer=True)
        check_range("--clips", args.clips, 0, 100, integer=True)
        progress = not args.no_progress
        if args.checkpoint is not None:
            if args.data is None and args.split is None:
                raise UsageError("give --data HELD_OUT_BVH_DIR or --split test")
            ckpt = Path(args.checkpoint)
            if is_pretrained(args.checkpoint):  # never write into the installed package
                out = args.out or Path(f"evaluation-{str(args.checkpoint).split(':', 1)[1]}")
            else:
                out = args.out or ((ckpt if ckpt.is_dir() else ckpt.parent) / "evaluation")
            check_device(args.device)
            for name in args.baseline:  # an unknown name fails now, not after the model's rows
                load_generator_factory(name)
            refuse_overwrite(result_paths(out), args.force, "moglow evaluate --out")
            result = evaluate_checkpoint(args.checkpoint, args.data, cfg, device=args.device, progress=progress,
                                         split=args.split, cleanup=not args.no_cleanup, baselines=args.baseline,
                                         baseline_options=_key_values(args.baseline_set), clips=args.clips)
        elif args.profile:
            from data_pipeline.config import DataConfig

            if args.baseline:
                raise UsageError("--baseline needs --checkpoint (its training split is the baseline's data)")

            if args.data is None or args.split is not None:
                raise UsageError("without --checkpoint give --data (a split needs a checkpoint's manifest)")
            out = args.out or Path("evaluation")
            refuse_overwrite(result_paths(out), args.force, "moglow evaluate --out")
            result = evaluate_reference(args.data, args.profile, DataConfig(fps=args.fps), cfg, progress=progress)
        else:
            raise UsageError("give --checkpoint RUN, or --profile NAME to score the mocap alone")
        json_path, md_path = result.write(out)
        write_clips(result.clips, Path(out) / CLIPS_DIR)
        html_path = write_evaluation_page(out)
    except USER_ERRORS as e:
        return report_error("evaluate", e)
    print(result.to_markdown())
    print(f"\nwrote {json_path}, {md_path} and {html_path}"
          + (f" ({len(result.clips)} clip(s) in the 3-D viewer: python -m http.server -d {out}, then open "
             f"http://localhost:8000/{EVALUATION_HTML})" if result.clips else ""))
    return 0


def _key_values(items: list[str]) -> dict[str, str]:
    """``["a=1", "b=x"]`` -> ``{"a": "1", "b": "x"}`` (a UsageError names an item without ``=``)."""
    from moglow.cli_checks import UsageError

    bad = [kv for kv in items if "=" not in kv]
    if bad:
        raise UsageError(f"--baseline-set takes KEY=VALUE, got {bad[0]!r}")
    return dict(kv.split("=", 1) for kv in items)
