"""Validation NLL at common steps of several runs, grouped by label (runs' own losses.csv).

    python experiments/val_curves.py MoGlow=runs/seed1,runs/seed2 McMoGlow=runs/mc_seed0,runs/mc_seed1

Prints, for every step where every run has a validation value, each group's mean ± std (nats per
frame, data dropout off; lower is better), then each group's median training steps per second
(the same machine and load only: runs trained side by side).
"""
from __future__ import annotations

import csv
import statistics
import sys
from pathlib import Path


def _read(run: Path) -> tuple[dict[int, float], list[float]]:
    val, speed = {}, []
    with open(run / "losses.csv") as f:
        for row in csv.DictReader(f):
            if row["val_nats_per_frame"]:
                val[int(row["step"])] = float(row["val_nats_per_frame"])
            if row.get("steps_per_s"):
                speed.append(float(row["steps_per_s"]))
    return val, speed


def main(argv: list[str]) -> None:
    groups = {label: [_read(Path(r)) for r in runs.split(",")] for label, runs in (a.split("=", 1) for a in argv)}
    steps = sorted(set.intersection(*(set(v) for runs in groups.values() for v, _ in runs)))
    print("| step | " + " | ".join(f"{g} ({len(r)} runs)" for g, r in groups.items()) + " |")
    print("|---:|" + "---:|" * len(groups))
    for s in steps:
        cells = []
        for runs in groups.values():
            xs = [v[s] for v, _ in runs]
            sd = statistics.stdev(xs) if len(xs) > 1 else float("nan")
            cells.append(f"{statistics.mean(xs):.2f} ± {sd:.2f}")
        print(f"| {s} | " + " | ".join(cells) + " |")
    print("\nmedian steps/s: " + ", ".join(f"{g} {statistics.median(x for _, sp in r for x in sp):.2f}"
                                          for g, r in groups.items()))


if __name__ == "__main__":
    main(sys.argv[1:])
