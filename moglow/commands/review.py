"""``moglow review``: write a run's static HTML review page (curves, numbers, sample videos)."""
from __future__ import annotations

import argparse

HELP = "write RUN_DIR/review/index.html: training curves, NLL table, evaluation, sampled clips as videos"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", metavar="RUN_DIR", help="training run folder (losses.csv, checkpoints, "
                        "samples/*/samples.npz from moglow sample, evaluation/evaluation.json)")
    parser.add_argument("--out", default=None, help="folder for index.html (default: RUN_DIR/review)")
    parser.add_argument("--no-render", action="store_true", help="do not render missing sample videos")
    parser.add_argument("--width", type=int, default=None, help="video width in pixels (default: 320 per sample)")
    parser.add_argument("--height", type=int, default=360, help="video height in pixels")
    parser.add_argument("--check", action="store_true",
                        help="open the page in headless Chromium and check that every video and 3-D viewer plays "
                             "and nothing logs an error (needs Debian's chromium package and the check extra: "
                             "pip install 'moglow[check]')")
    parser.add_argument("--force", action="store_true", help="replace an existing index.html")
    from moglow.commands.common import add_progress

    add_progress(parser)


def run(args: argparse.Namespace) -> int:
    import os
    import sys
    from pathlib import Path

    from moglow.cli_checks import USER_ERRORS, report_error
    from moglow.review import ReviewError, check_page, write_review
    from moglow.review.serve import serve_folder

    try:
        page = write_review(args.run_dir, args.out, render=not args.no_render, width=args.width,
                            height=args.height, progress=not args.no_progress, force=args.force)
    except USER_ERRORS as e:
        return report_error("review", e)
    run_dir = Path(args.run_dir).resolve()
    root = Path(os.path.commonpath([run_dir, page.resolve().parent]))  # the page links into RUN_DIR
    rel = page.resolve().relative_to(root).as_posix()
    print(f"wrote {page}")
    print(f"view it: python -m http.server -d {root} 8000, then open http://localhost:8000/{rel} "
          f"(or open the file in a browser)")
    if args.check:
        try:
            with serve_folder(root) as base:
                result = check_page(f"{base}/{rel}")
        except ReviewError as e:
            return report_error("review", e, what="check failed")
        print(result.describe())
        if not result.ok:
            print("moglow review: the page does not load cleanly (see above)", file=sys.stderr)
            return 1
    return 0
