"""Long takes: peak memory of preparing one, and the cost of rendering a window of it.

Builds a long synthetic take by tiling a Bandai Namco walk back and forth (continuous motion;
default 200,000 frames at 30 fps, ~260 MB of text) in a temporary folder, then measures

1. ``prepare`` of a folder holding the take (a training file: plain and mirrored features,
   scaler, written to disk; one worker): the peak of Python/numpy allocations (tracemalloc),
   as a ratio to the take's channel data in float32 (frames x channels x 4 bytes); target
   (issue 12): at most 2x;
2. ``render --start --frames 200``: the time to load the drawn window (parse, resample to
   20 fps, forward kinematics) against the reference measured in the same run, reading the
   whole take as before (``read_bvh`` of the file, then FK on the window).

    python benchmarks/long_take.py [--frames 200000] [--window 200]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from data_pipeline.bvh import read_bvh  # noqa: E402
from data_pipeline.config import DataConfig  # noqa: E402
from data_pipeline.kinematics import forward_kinematics  # noqa: E402
from data_pipeline.prepare import prepare_dataset  # noqa: E402
from data_pipeline.splits import SplitConfig  # noqa: E402
from visualize.inputs import load_bvh_clip  # noqa: E402

TAKE = REPO.parent / "shared" / "mocap" / "bandai-namco" / "dataset-2" / "dataset-2_walk_normal_001.bvh"


def make_long_take(path: Path, frames: int) -> None:
    """Tile TAKE's frame lines forwards and backwards up to ``frames`` frames."""
    head, _, body = TAKE.read_text().partition("MOTION")
    rows = [ln for ln in body.splitlines() if ln.strip()][2:]
    cycle = rows + rows[::-1]
    with open(path, "w") as f:
        f.write(f"{head}MOTION\nFrames: {frames}\nFrame Time: 0.0333333\n")
        for i in range(0, frames, len(cycle)):
            f.write("\n".join(cycle[: min(len(cycle), frames - i)]) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=200_000)
    parser.add_argument("--window", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        take = Path(tmp) / "long.bvh"
        make_long_take(take, args.frames)
        channels = read_bvh(TAKE).values.shape[1]
        f32 = args.frames * channels * 4
        print(f"take: {args.frames:,} frames x {channels} channels, {take.stat().st_size / 1e6:.0f} MB of text, "
              f"{f32 / 1e6:.0f} MB as float32")

        start = args.frames // 2
        t0 = time.process_time()
        clip = load_bvh_clip(take, fps=20.0, start=start * 2 // 3, frames=args.window)
        window_s = time.process_time() - t0
        t0 = time.process_time()
        motion = read_bvh(take)  # the reference: the whole take read, FK on the drawn frames
        motion.values = motion.values[start: start + args.window]
        forward_kinematics(motion)
        whole_s = time.process_time() - t0
        del motion
        print(f"render window of {clip.positions.shape[1]} frames: {window_s:.3f} CPU-s vs {whole_s:.3f} CPU-s "
              f"reading the whole take: {whole_s / window_s:.1f}x less")

        cfg = DataConfig(profile="bandai_namco", mirror=True, split=SplitConfig(val_fraction=0.0, test_fraction=0.0))
        tracemalloc.start()
        t0 = time.process_time()
        prepare_dataset(cfg, take.parent, Path(tmp) / "prepared", progress=False, workers=1, log=lambda m: None)
        prep_s = time.process_time() - t0
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        print(f"prepare the take (training file: plain + mirrored features, written): peak {peak / 1e6:.0f} MB traced "
              f"= {peak / f32:.2f}x the float32 channel data (target 2x), {prep_s:.1f} CPU-s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
