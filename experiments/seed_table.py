"""Issue 14's targets as mean ± std over training seeds, from `experiments/pretrained_eval.sh` outputs.

Each folder is one seed's ``O`` of ``pretrained_eval.sh`` (``test_walks/``, ``test_runs/``:
``moglow evaluate --split test`` JSON; ``stop_and_go.json``)::

    CK=pretrained:bandai2_small O=outputs/seed0 bash experiments/pretrained_eval.sh
    CK=runs/seed1 O=outputs/seed1 bash experiments/pretrained_eval.sh      # and seed2
    python experiments/seed_table.py outputs/seed0 outputs/seed1 outputs/seed2

Prints one markdown row per target: walks and runs, mean ± std (sample std, n - 1) over the seeds.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def _ratio(rows: dict, row: str, key: str) -> float:
    return rows[row][key] / rows["mocap"][key]


TARGETS = [  # (label, function of the rows, target text, passes)
    ("foot skating / mocap (cleaned)", lambda r: _ratio(r, "cleaned", "foot_skating_cm_s"), "≤ 1.2",
     lambda v: v <= 1.2),
    ("skating contact samples − mocap (cleaned)",
     lambda r: r["cleaned"]["foot_skating_fraction"] - r["mocap"]["foot_skating_fraction"], "≤ 0.1",
     lambda v: v <= 0.1),
    ("frames penetrating the floor (cleaned)", lambda r: r["cleaned"]["penetration_fraction"], "≤ 0.01",
     lambda v: v <= 0.01),
    ("jerk / mocap (cleaned)", lambda r: _ratio(r, "cleaned", "jerk_m_s3"), "≤ 1.5", lambda v: v <= 1.5),
    ("ankle power above 4 Hz / mocap (cleaned)", lambda r: _ratio(r, "cleaned", "gait_high_frequency_share"), "≤ 1.5",
     lambda v: v <= 1.5),
    ("Fréchet / real-vs-real floor (cleaned)", lambda r: _ratio(r, "cleaned", "frechet_distance"), "≤ 1.5",
     lambda v: v <= 1.5),
    ("bone-length CV (cleaned)", lambda r: r["cleaned"]["bone_length_cv_mean"], "≤ 1e-3", lambda v: v <= 1e-3),
    ("diversity cm (cleaned)", lambda r: r["cleaned"]["diversity_cm"], "> 0", lambda v: v > 0),
    ("foot skating / mocap (raw)", lambda r: _ratio(r, "generated", "foot_skating_cm_s"), "≤ 2", lambda v: v <= 2),
    ("jerk / mocap (raw)", lambda r: _ratio(r, "generated", "jerk_m_s3"), "≤ 2", lambda v: v <= 2),
]


def _fmt(values: list[float]) -> str:
    m = float(np.mean(values))
    s = float(np.std(values, ddof=1)) if len(values) > 1 else float("nan")
    digits = 4 if abs(m) < 0.01 else 3
    return f"{m:.{digits}g} ± {s:.2g}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("folders", type=Path, nargs="+")
    a = p.parse_args()
    runs = {gait: [json.loads((f / f"test_{gait}s" / "evaluation.json").read_text())["rows"] for f in a.folders]
            for gait in ("walk", "run")}
    print(f"| target | walks, {len(a.folders)} seeds | runs | target | met (every seed, both gaits) |")
    print("|---|---:|---:|---|---|")
    for label, fn, text, ok in TARGETS:
        vals = {g: [fn(r) for r in rows] for g, rows in runs.items()}
        met = all(ok(v) for vs in vals.values() for v in vs)
        print(f"| {label} | {_fmt(vals['walk'])} | {_fmt(vals['run'])} | {text} | {'yes' if met else 'no'} |")
    stand = [json.loads((f / "stop_and_go.json").read_text().strip().splitlines()[-1]) for f in a.folders]
    key = next(k for k in stand[0] if "clean" in k and "foot" in k)
    raw = next(k for k in stand[0] if "raw" in k and "foot" in k)
    print(f"| standing still: foot speed cm/s (cleaned; raw) | {_fmt([s[key] for s in stand])} "
          f"({_fmt([s[raw] for s in stand])}) | | ≤ 5 | {'yes' if all(s[key] <= 5 for s in stand) else 'no'} |")


if __name__ == "__main__":
    main()
