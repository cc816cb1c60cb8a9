"""``moglow prepare``: turn a folder of BVH files into a prepared dataset directory."""
from __future__ import annotations

import argparse

HELP = "extract features from a BVH folder into a prepared dataset directory (reused while up to date)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from moglow.commands.common import add_config, add_progress

    add_config(parser, required=True, what="experiment or data config (only its data: section is read)")
    parser.add_argument("--data", default=None,
                        help="folder of BVH files; omit to use data.data_dir from the config")
    parser.add_argument("--out", required=True, help="prepared dataset directory to write")
    parser.add_argument("--skip-bad", action="store_true", help="warn about and skip unreadable files")
    parser.add_argument("--force", action="store_true", help="prepare again even if up to date")
    parser.add_argument("--workers", type=int, default=None,
                        help="processes for feature extraction; omit for the CPU count (at most 8)")
    add_progress(parser)


def run(args: argparse.Namespace) -> int:
    from data_pipeline.prepare import load_data_config, prepare_dataset
    from moglow.cli_checks import USER_ERRORS, report_error

    try:
        cfg = load_data_config(args.config, args.overrides)
        prepare_dataset(cfg, args.data, args.out, skip_bad=args.skip_bad, progress=not args.no_progress,
                        force=args.force, workers=args.workers, log=print)
    except USER_ERRORS as e:
        return report_error("prepare", e)
    return 0
