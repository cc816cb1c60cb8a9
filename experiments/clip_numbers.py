"""Per-clip gait numbers of sampled motion and of real held-out takes (docs/results_moglow.md).

For every ``samples.npz`` under ``SAMPLES/*/`` (written by ``moglow sample``) and every real take
of the run's own test split (read with the checkpoint's own feature pipeline): root speed, and from
:func:`moglow.evaluation.metrics.gait_cycle` the ankle-height range, stride period,
periodicity, left/right correlation and the share of ankle-height power above 4 Hz, plus
:func:`moglow.evaluation.metrics.mean_jerk`. Prints a markdown table of medians per set and
writes every clip's numbers to ``OUT.json``.

Built-in paths skip their first second; real takes skip their first 0.5 s (the tau = 10
context frames at 20 fps); ``bvh:`` samples start after that context already.

Usage::

    python experiments/clip_numbers.py RUN SAMPLES OUT.json
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from moglow.checkpoint import load_checkpoint
from moglow.evaluation import metrics as M
from moglow.evaluation.heldout import Pipeline, load_heldout, split_files, world_positions

KEYS = ["root_speed_m_s", "height_range_cm", "stride_period_s", "periodicity", "left_right_correlation",
        "jerk_m_s3", "high_frequency_share"]


def clip_numbers(pos: np.ndarray, joints: list[str], fps: float, skip_s: float) -> dict[str, float]:
    """Numbers of one clip of world positions (F, J, 3) metres."""
    pos = pos[int(round(skip_s * fps)):]
    root = pos[:, joints.index("Hips")][:, [0, 2]]
    out = M.gait_cycle(pos, (joints.index("Foot_L"), joints.index("Foot_R")), fps) or {}
    out["root_speed_m_s"] = float(np.mean(np.linalg.norm(np.diff(root, axis=0), axis=-1) * fps))
    out["jerk_m_s3"] = M.mean_jerk(pos, fps).value
    return out


def main(run: Path, samples: Path, out: Path) -> None:
    ckpt = load_checkpoint(run / "best.pt")
    pipe = Pipeline.from_checkpoint(ckpt)
    rows = []
    seqs, fdef = load_heldout(sorted(split_files(ckpt, "test")[1]), pipe, progress=False)
    for s in seqs:
        r = clip_numbers(world_positions(s.poses, s, fdef), list(fdef.file_joints), pipe.fps, 0.5)
        rows.append(dict(r, group="real " + Path(s.source).name.split("_")[1], clip=Path(s.source).name))
    for npz in sorted(samples.glob("*/samples.npz")):
        z = np.load(npz)
        joints, fps, name = [str(n) for n in z["joints"]], float(z["fps"]), npz.parent.name
        bvh = "ground_truth" in z.files
        for i, p in enumerate(z["positions"]):
            rows.append(dict(clip_numbers(p, joints, fps, 0.0 if bvh else 1.0), group=name, clip=str(i)))
        if bvh:
            rows.append(dict(clip_numbers(z["ground_truth"], joints, fps, 0.0), group=name + " (its real take)",
                             clip="gt"))
    out.write_text(json.dumps(rows, indent=1))
    print("| set | clips | " + " | ".join(KEYS) + " |")
    print("|---|---:|" + "---:|" * len(KEYS))
    for g in dict.fromkeys(r["group"] for r in rows):
        sub = [r for r in rows if r["group"] == g]
        print(f"| {g} | {len(sub)} | " + " | ".join(f"{np.median([r[k] for r in sub]):.3g}" for k in KEYS) + " |")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*(Path(a) for a in sys.argv[1:]))
