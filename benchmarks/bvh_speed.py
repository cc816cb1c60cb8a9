"""BVH parse + forward kinematics speed, as a ratio to bvh-converter measured in the same run.

Usage:
    python benchmarks/bvh_speed.py [--take /usr/share/assimp/models/BVH/01_03.bvh] [--repeats 15]
                                   [--folder ../shared/mocap/bandai-namco/dataset-2]

Prints, for one take (default: CMU 01_03, 4,511 frames, 31 joints): our read_bvh +
forward_kinematics (all joints and End Sites, positions and rotations), bvh-converter's
process_bvhfile + world positions of every frame, and their ratio (target: at least 50), by wall
clock (min and median) and by CPU time of this process (min), which a busy machine distorts
less. Ours is ``--repeats`` warm runs, the reference ``--reference-repeats`` runs, interleaved.
With a folder (default: the Bandai Namco dataset-2 if present) it also times reading and FK of
every file in it, once.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_TAKE = Path("/usr/share/assimp/models/BVH/01_03.bvh")
DEFAULT_FOLDER = REPO.parent / "shared" / "mocap" / "bandai-namco" / "dataset-2"


def ours(path: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of read_bvh + forward_kinematics."""
    from data_pipeline.bvh import read_bvh
    from data_pipeline.kinematics import forward_kinematics

    wall, cpu = time.perf_counter(), time.process_time()
    forward_kinematics(read_bvh(path))
    return time.perf_counter() - wall, time.process_time() - cpu


def reference(path: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of bvh-converter's parse + world positions of every frame."""
    from bvh_converter.bvhplayer_skeleton import process_bvhfile, process_bvhkeyframe

    wall, cpu = time.perf_counter(), time.process_time()
    with contextlib.redirect_stdout(io.StringIO()):
        skeleton = process_bvhfile(str(path))
    for f in range(skeleton.frames):
        process_bvhkeyframe(skeleton.keyframes[f], skeleton.root, skeleton.dt * f)
    return time.perf_counter() - wall, time.process_time() - cpu


def summary(name: str, runs: list[tuple[float, float]]) -> dict[str, float]:
    wall = [1e3 * w for w, _ in runs]
    cpu = [1e3 * c for _, c in runs]
    figures = {"wall_min": min(wall), "wall_median": statistics.median(wall), "cpu_min": min(cpu),
               "cpu_median": statistics.median(cpu)}
    print(f"{name:42s} wall: min {figures['wall_min']:8.1f} ms, median {figures['wall_median']:8.1f} ms;"
          f"  CPU: min {figures['cpu_min']:8.1f} ms, median {figures['cpu_median']:8.1f} ms  ({len(runs)} runs)")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--take", type=Path, default=DEFAULT_TAKE)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--reference-repeats", type=int, default=3)
    parser.add_argument("--folder", default=str(DEFAULT_FOLDER), help="folder of BVH files to time ('' for none)")
    args = parser.parse_args()

    from data_pipeline.bvh import read_bvh

    motion = read_bvh(args.take)
    joints = int((~motion.skeleton.is_end_site).sum())
    print(f"take: {args.take} ({motion.num_frames} frames, {joints} joints, "
          f"{motion.skeleton.num_joints - joints} End Sites, {motion.skeleton.num_channels} channels)")
    ours(args.take)  # warm-up: imports, first allocations
    # Interleave the two so that a change of machine load hits both alike.
    ours_runs, ref_runs = [], []
    per_round = -(-args.repeats // args.reference_repeats)
    for _ in range(args.reference_repeats):
        ref_runs.append(reference(args.take))
        for _ in range(per_round):
            if len(ours_runs) < args.repeats:
                ours_runs.append(ours(args.take))
    a = summary("ours (read_bvh + forward_kinematics)", ours_runs)
    b = summary("bvh-converter (parse + world positions)", ref_runs)
    print(f"ratio (reference / ours): wall min {b['wall_min'] / a['wall_min']:.1f}x, "
          f"wall median {b['wall_median'] / a['wall_median']:.1f}x, CPU min {b['cpu_min'] / a['cpu_min']:.1f}x "
          f"(target >= 50x)")

    if args.folder and Path(args.folder).is_dir():
        from data_pipeline.kinematics import forward_kinematics

        paths = sorted(Path(args.folder).glob("*.bvh"))
        start = time.perf_counter()
        frames = 0
        for path in paths:
            m = read_bvh(path)
            forward_kinematics(m)
            frames += m.num_frames
        elapsed = time.perf_counter() - start
        print(f"folder: {args.folder}: {len(paths)} files, {frames} frames, read + FK in {elapsed:.2f} s "
              f"({1e3 * elapsed / max(len(paths), 1):.1f} ms per file)")


if __name__ == "__main__":
    main()
