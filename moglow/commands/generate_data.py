"""``moglow generate-data``: write the built-in procedural locomotion dataset (BVH + known paths)."""
from __future__ import annotations

import argparse

HELP = "generate procedural walking/running takes as BVH files (the built-in default data)"


def _kinds(text: str) -> tuple[str, ...]:
    from data_pipeline.procedural import KINDS

    kinds = tuple(k.strip() for k in text.split(",") if k.strip())
    bad = [k for k in kinds if k not in KINDS]
    if not kinds or bad:
        raise argparse.ArgumentTypeError(f"kinds must be a comma-separated list of {', '.join(KINDS)}; got {text!r}")
    return kinds


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="folder to write the takes to (created if missing)")
    parser.add_argument("--takes", type=int, default=40, help="number of takes")
    parser.add_argument("--seconds", type=float, default=30.0, help="duration of each take (s)")
    parser.add_argument("--seed", type=int, default=0, help="random seed; the data is a function of it")
    parser.add_argument("--fps", type=float, default=60.0, help="frame rate of the BVH files")
    parser.add_argument("--kinds", type=_kinds, default="walk,mixed,run,mixed",
                        help="gait kinds of successive takes, cycled (walk, run, mixed)")
    parser.add_argument("--force", action="store_true", help="overwrite takes already in --out")
    from moglow.commands.common import add_progress

    add_progress(parser)


def run(args: argparse.Namespace) -> int:
    import time
    from pathlib import Path

    from data_pipeline.output_files import refuse_overwrite
    from data_pipeline.procedural import generate_dataset, take_stems
    from moglow.cli_checks import USER_ERRORS, check_range, report_error

    kinds = _kinds(args.kinds) if isinstance(args.kinds, str) else args.kinds
    out = Path(args.out)
    try:
        check_range("--takes", args.takes, 1, 100_000, integer=True)
        check_range("--seconds", args.seconds, 0.1, 3600)
        check_range("--fps", args.fps, 1, 1000)
        stems = take_stems(args.takes, kinds)
        refuse_overwrite([out / f"{s}{ext}" for s in stems for ext in (".bvh", ".path.json")]
                         + [out / "manifest.json"], args.force, "moglow generate-data --out")
    except USER_ERRORS as e:
        return report_error("generate-data", e)
    start = time.perf_counter()
    try:
        paths = generate_dataset(args.out, num_takes=args.takes, seconds=args.seconds, seed=args.seed,
                                 fps=args.fps, progress=not args.no_progress, kinds=kinds)
    except USER_ERRORS as e:
        return report_error("generate-data", e)
    minutes = len(paths) * args.seconds / 60.0
    print(f"wrote {len(paths)} takes ({minutes:.1f} min of motion at {args.fps:g} fps) to {args.out} "
          f"in {time.perf_counter() - start:.1f} s")
    return 0
