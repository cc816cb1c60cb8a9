"""How long ``moglow prepare`` takes on the real Bandai Namco set, and how much memory.

Prepares every file the config selects (default: configs/data_bandai_namco.yaml, dataset-1 and
dataset-2, 689 files) into a temporary directory, from scratch, then checks that a second call
is "up to date". Prints wall time, peak resident memory (this process; the largest worker; and
their sum over all workers as an upper bound, since forked workers share pages), and, as a
load-independent figure, the ratio to a reference measured in the same run: the time to only
parse (read_bvh) a fixed sample of the files, scaled to all of them.

Target (issue 2): under 120 s and under 2 GB on a 2-core machine.

    python benchmarks/prepare_speed.py [--config CONFIG] [--data DIR] [--workers N]
"""
from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from data_pipeline.bvh import read_bvh  # noqa: E402
from data_pipeline.prepare import PreparedData, list_data_files, load_data_config, prepare_dataset  # noqa: E402


def _maxrss_mb(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024.0  # Linux: kilobytes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default=str(REPO / "configs" / "data_bandai_namco.yaml"))
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "mocap" / "bandai-namco"))
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--sample-every", type=int, default=10, help="reference: parse every n-th file")
    parser.add_argument("--limit-s", type=float, default=120.0)
    parser.add_argument("--limit-mb", type=float, default=2048.0)
    args = parser.parse_args()

    cfg = load_data_config(args.config)
    data = Path(args.data)
    files = list_data_files(data, cfg)
    total_bytes = sum((data / f).stat().st_size for f in files)
    rss_start = _maxrss_mb(resource.RUSAGE_SELF)

    # reference: bare parsing of a fixed sample, scaled by bytes to the whole set
    sample = files[:: args.sample_every]
    t = time.perf_counter()
    for f in sample:
        read_bvh(data / f)
    sample_s = time.perf_counter() - t
    parse_all_s = sample_s * total_bytes / sum((data / f).stat().st_size for f in sample)

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "prepared"
        t = time.perf_counter()
        prepare_dataset(cfg, data, out, progress=False, workers=args.workers, log=lambda s: None)
        prepare_s = time.perf_counter() - t
        rss_self = _maxrss_mb(resource.RUSAGE_SELF)
        rss_child = _maxrss_mb(resource.RUSAGE_CHILDREN)
        messages: list[str] = []
        t = time.perf_counter()
        prepare_dataset(cfg, data, out, progress=False, log=messages.append)
        reuse_s = time.perf_counter() - t
        t = time.perf_counter()
        prepared = PreparedData.load(out)
        load_s = time.perf_counter() - t
        frames = {s: sum(q.num_frames for q in seqs) for s, seqs in prepared.splits.items()}

    workers = args.workers or min(__import__("os").cpu_count() or 1, 8)
    bound = rss_self + workers * rss_child
    print(f"files: {len(files)} ({total_bytes / 1e6:.0f} MB of BVH), output frames at {cfg.fps:g} fps: {frames}")
    print(f"prepare (from scratch, {workers} workers): {prepare_s:.1f} s wall")
    print(f"reference, serial parse only (sample of {len(sample)} files, scaled): {parse_all_s:.1f} s "
          f"-> prepare / parse = {prepare_s / parse_all_s:.2f}")
    print(f"second call: {reuse_s:.2f} s ({messages[0] if messages else '?'})")
    print(f"load prepared: {load_s:.2f} s")
    print(f"peak RSS: main process {rss_self:.0f} MB (of which {rss_start:.0f} MB before preparing), "
          f"largest worker {rss_child:.0f} MB, upper bound for all {bound:.0f} MB")
    ok = prepare_s < args.limit_s and bound < args.limit_mb
    print(f"{'PASS' if ok else 'FAIL'}: limits {args.limit_s:.0f} s, {args.limit_mb:.0f} MB "
          "(timings on a shared machine vary with its load)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
