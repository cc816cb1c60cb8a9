"""Sampling temperature vs motion quality, on the validation split (issue 14's jitter study).

Runs ``moglow evaluate --split val`` for each temperature and gait, then prints each metric as a
ratio to the mocap row of the same takes (skating, jerk, 4 Hz power, Fréchet / real-vs-real floor)
for the raw model and for what the user gets. The validation split picks the default; the test
split is only for the final report::

    python experiments/temperature_sweep.py --checkpoint pretrained:bandai2_small \\
        --temperatures 0.6 0.7 0.8 0.9 1.0 --num-samples 4 --out outputs/temperature_sweep

~15 s per evaluation on one thread of the 2-core box.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

RATIOS = [("foot_skating_cm_s", "skating"), ("jerk_m_s3", "jerk"), ("gait_high_frequency_share", "4 Hz power"),
          ("frechet_distance", "Fréchet")]


def _evaluate(ckpt: str, gait: str, temp: float, num: int, split: str, out: Path, seed: int) -> dict:
    folder = out / f"{split}_{gait}_T{temp:g}_s{seed}"
    if not (folder / "evaluation.json").exists():
        subprocess.run([sys.executable, "-m", "moglow", "evaluate", "--checkpoint", ckpt, "--split", split,
                        "--pattern", f"*_{gait}_*", "--num-samples", str(num), "--temperature", str(temp),
                        "--seed", str(seed), "--threads", "1", "--out", str(folder), "--no-progress", "--force"],
                       check=True, stdout=subprocess.DEVNULL)
    return json.loads((folder / "evaluation.json").read_text())


def _key(row: dict, name: str) -> str | None:
    for k in row:
        if k == name or k.startswith(name):
            return k
    return None


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--checkpoint", default="pretrained:bandai2_small")
    p.add_argument("--temperatures", type=float, nargs="+", default=[0.6, 0.7, 0.8, 0.9, 1.0])
    p.add_argument("--gaits", nargs="+", default=["walk", "run"])
    p.add_argument("--num-samples", type=int, default=4)
    p.add_argument("--split", default="val")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("outputs/temperature_sweep"))
    a = p.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    print_header("T")
    for gait in a.gaits:
        for t in a.temperatures:
            print_rows(gait, f"{t:g}", _evaluate(a.checkpoint, gait, t, a.num_samples, a.split, a.out, a.seed))


def print_header(setting: str) -> None:
    """The table's header; ``setting`` names the column of what was varied."""
    print(f"| gait | {setting} | row | " + " | ".join(n for _, n in RATIOS)
          + " | skating samples (mocap) | diversity cm |")
    print("|---|---:|---|" + "---:|" * (len(RATIOS) + 2))


def print_rows(gait: str, setting: str, ev: dict) -> None:
    """The raw and cleaned rows of one ``evaluation.json`` as ratios to its mocap row."""
    rows = ev["rows"]
    mocap = rows["mocap"]
    for name in ("generated", "cleaned"):
        if name not in rows:
            continue
        r = rows[name]
        cells = []
        for key, _ in RATIOS:
            k = _key(mocap, key)
            cells.append("–" if k is None or not mocap.get(k) else f"{r[k] / mocap[k]:.2f}×")
        div = r.get("diversity_cm")
        cells.append(f"{r['foot_skating_fraction']:.3f} ({mocap['foot_skating_fraction']:.3f})")
        cells.append("–" if div is None else f"{div:.2f}")
        label = "raw" if name == "generated" else "cleaned"
        print(f"| {gait} | {setting} | {label} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
