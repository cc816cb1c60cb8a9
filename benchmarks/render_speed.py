"""Rendering + encoding speed of ``visualize`` at 640×480, as a ratio to plain pyrender measured
in the same run.

Usage:
    python benchmarks/render_speed.py [--frames 120] [--repeats 3] [--take FILE.bvh]

Clip: a Bandai Namco dataset-2 walk (27 joints and End Sites, 26 bones) if ../shared/mocap is
there, else a procedural walk of the same kind. Every variant renders the same scene (checker
floor, path, drop shadows, 2 lights, this package's shaders) to an H.264 MP4:

* naive: plain pyrender usage: one mesh node per joint and per bone (and per shadow part),
  moved with ``Scene.set_pose`` each frame; pyrender's standard read-back (colour and depth);
  each frame piped to ffmpeg in the rendering thread.
* per-node + overlap: the same nodes, colour-only read-back, encoding in a background thread
  (isolates the gain of instancing).
* ours: one instanced sphere (all joints) and one instanced tube (all bones) per character,
  only the instance matrices re-uploaded per frame (glBufferSubData), colour-only read-back,
  encoding overlapped.

Frames per second are steady-state (the first frame, which compiles shaders, is not timed)
and include waiting for ffmpeg to finish. Each variant runs ``--repeats`` times, interleaved;
the best run counts (the machine is shared; the load average is printed). CPU ms/frame is
this process's CPU time (llvmpipe's threads included, ffmpeg excluded).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DEFAULT_TAKE = REPO.parent / "shared" / "mocap" / "bandai-namco" / "dataset-2" / "dataset-2_walk_normal_001.bvh"


def load_clip(take: Path, frames: int):
    """(positions (F, J, 3) m, parents (J,), path (F, 2), fps, description)."""
    if take.exists():
        from visualize.inputs import load_bvh_clip

        clip = load_bvh_clip(take, frames=frames)
        return clip.positions[0], clip.parents, clip.paths, clip.fps, f"{take.name} ({clip.positions.shape[2]} joints)"
    from data_pipeline.procedural import generate_take
    from data_pipeline.kinematics import forward_kinematics
    from visualize.geometry import choose_root, subtree

    motion, _ = generate_take(seed=0, seconds=frames / 30.0 + 0.1, fps=30.0, kind="walk")
    world, _ = forward_kinematics(motion)
    world = world[:frames] * 0.01
    keep, parents = subtree(motion.skeleton.parents, choose_root(motion.skeleton.parents))
    pos = world[:, keep]
    return pos, parents, pos[:, 0, [0, 2]], 30.0, f"procedural walk ({len(keep)} joints)"


def run_variant(tracks, options, fps: float, out: Path, fast_readback: bool, overlapped: bool):
    """Returns (frames per second, CPU ms per frame) for frames 1..F-1."""
    from visualize.render import ClipRenderer
    from visualize.video import VideoWriter

    with ClipRenderer(tracks, fps, 640, 480, options, fast_readback=fast_readback) as renderer, \
            VideoWriter(out, 640, 480, fps, overlapped=overlapped) as writer:
        writer.write(renderer.render(0))  # compiles shaders, uploads buffers: not timed
        wall, cpu = time.perf_counter(), time.process_time()
        for f in range(1, len(renderer)):
            writer.write(renderer.render(f))
        writer.close()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    n = len(renderer) - 1
    return n / wall, 1000.0 * cpu / n


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--take", type=Path, default=DEFAULT_TAKE)
    args = parser.parse_args()

    from visualize.gl_platform import select_platform

    info = select_platform("auto")
    from visualize.render import make_tracks
    from visualize.scene import SceneOptions

    pos, parents, path, fps, what = load_clip(args.take, args.frames)
    tracks, _ = make_tracks(pos, parents, paths=path[None])
    variants = {
        "naive (node per bone)": (SceneOptions(instanced=False), False, False),
        "per-node + overlap": (SceneOptions(instanced=False), True, True),
        "ours (instanced)": (SceneOptions(instanced=True), True, True),
    }
    print(f"clip: {what}, {len(pos)} frames at {fps:g} fps, 640x480; OpenGL: {info.describe()}")
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs (shared machine)")
    best = {name: (0.0, 0.0) for name in variants}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeats):
            for name, (opts, fast, overlap) in variants.items():
                fps_run, cpu = run_variant(tracks, opts, fps, Path(tmp) / f"v{r}.mp4", fast, overlap)
                print(f"  run {r + 1} {name:24s} {fps_run:6.1f} frames/s  {cpu:5.1f} CPU ms/frame", flush=True)
                if fps_run > best[name][0]:
                    best[name] = (fps_run, cpu)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    naive = best["naive (node per bone)"][0]
    for name, (f, cpu) in best.items():
        print(f"{name:24s} {f:6.1f} frames/s  ({cpu:5.1f} CPU ms/frame)  x{f / naive:.2f} vs naive")
    ours = best["ours (instanced)"][0]
    print(f"ratio ours/naive: {ours / naive:.2f}  (target: ours >= 30 frames/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
