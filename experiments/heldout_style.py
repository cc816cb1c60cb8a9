"""A style held out of training: the target of issue 14 (each metric on the unseen style within 1.5x
of the in-style figure), for one or more models trained without it.

For each ``LABEL=FOLDER`` (a folder holding ``in_walks``, ``in_runs``, ``fem_walks``, ``fem_runs``
from ``moglow evaluate``: in-style = the run's own test split, held-out = every take of the
unseen style), prints per gait the cleaned row's metrics as ratios to the same takes' mocap
(Fréchet: to its real-vs-real floor), in-style vs held-out, and held-out / in-style against 1.5::

    bash experiments/heldout_style.sh runs/mc_nofem_sd outputs/mc_nofem_sd   # the four evaluations
    python experiments/heldout_style.py "no style dropout=outputs/mc_nofem" "style dropout 0.25=outputs/mc_nofem_sd"
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

# (key, label, kind): "ratio" to the mocap row, "floor" Fréchet over its floor, "abs" the value itself
METRICS = [("foot_skating_cm_s", "foot skating", "ratio"), ("foot_skating_fraction", "skating contact samples", "abs"),
           ("penetration_fraction", "frames penetrating the floor", "abs"), ("jerk_m_s3", "jerk", "ratio"),
           ("gait_high_frequency_share", "ankle power above 4 Hz", "ratio"),
           ("frechet_distance", "Fréchet / its floor", "floor")]


def _value(ev: dict, key: str, kind: str) -> float:
    gen, mocap = ev["rows"]["cleaned"], ev["rows"]["mocap"]
    if kind == "abs":
        return float(gen[key])
    return float(gen[key]) / max(float(mocap[key]), 1e-12)


def table(label: str, folder: Path) -> list[str]:
    lines = [f"\n{label} ({folder})", "| gait | metric (cleaned) | in-style | held-out style | held-out / in-style |",
             "|---|---|---:|---:|---:|"]
    for gait in ("walks", "runs"):
        ins = json.loads((folder / f"in_{gait}" / "evaluation.json").read_text())
        out = json.loads((folder / f"fem_{gait}" / "evaluation.json").read_text())
        lines.append(f"| {gait} | held-out NLL, nats/frame | {ins['nll']['nats_per_frame']:.1f} | "
                     f"{out['nll']['nats_per_frame']:.1f} | |")
        for key, name, kind in METRICS:
            a, b = _value(ins, key, kind), _value(out, key, kind)
            unit = "" if kind == "abs" else "×"
            ratio = b / a if a > 1e-9 else float("inf")
            verdict = "" if kind == "abs" else (" ✓" if ratio <= 1.5 else " ✗")
            lines.append(f"| {gait} | {name} | {a:.3g}{unit} | {b:.3g}{unit} | {ratio:.2f}{verdict} |")
        lines.append(f"| {gait} | diversity, cm | {ins['rows']['cleaned']['diversity_cm']:.2f} | "
                     f"{out['rows']['cleaned']['diversity_cm']:.2f} | |")
    return lines


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    for arg in sys.argv[1:]:
        label, _, folder = arg.rpartition("=")
        print("\n".join(table(label or folder, Path(folder))))


if __name__ == "__main__":
    main()
