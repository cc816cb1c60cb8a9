"""Do two models' motion metrics differ? A paired test across held-out paths, over training seeds.

Each group is a list of ``experiments/pretrained_eval.sh`` output folders (one per training seed;
``test_walks/`` and ``test_runs/`` hold ``moglow evaluate --split test`` JSON whose rows carry a
``per_take`` table). Every model in both groups was scored on the same test takes (same split,
same paths), so each take gives one pair: group A's value and group B's, each averaged over its
seeds (and the samples per path)::

    python experiments/paired_test.py MoGlow=outputs/seed0,outputs/seed1,outputs/seed2 \\
        McMoGlow=outputs/mc_seed0,outputs/mc_seed1,outputs/mc_seed2 [--row cleaned]

Prints, per gait and metric: both groups' pooled means (mean ± std over seeds), the median
per-take ratio B/A, how many takes B is lower on, and two-sided p-values of the Wilcoxon
signed-rank test and the paired t-test (scipy) over the takes. Also each group's held-out NLL
(mean ± std over seeds). The tests treat takes as the unit: seeds are averaged first.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from scipy import stats

METRICS = ("foot_skating_cm_s", "foot_skating_fraction", "penetration_fraction", "jerk_m_s3",
           "gait_high_frequency_share", "gait_periodicity", "diversity_cm", "heading_error_deg")
GAITS = ("walks", "runs")


def _group(spec: str) -> tuple[str, list[Path]]:
    name, _, folders = spec.partition("=")
    if not folders:
        raise SystemExit(f"expected NAME=FOLDER[,FOLDER...], got {spec!r}")
    return name, [Path(f) for f in folders.split(",")]


def _load(folders: list[Path], gait: str) -> list[dict]:
    out = []
    for f in folders:
        path = f / f"test_{gait}" / "evaluation.json"
        if not path.is_file():
            raise SystemExit(f"{path}: missing (run experiments/pretrained_eval.sh with O={f})")
        out.append(json.loads(path.read_text()))
    return out


def per_take_means(evals: list[dict], row: str, metric: str) -> dict[str, float]:
    """{take: metric averaged over the seeds} for the takes every seed scored with a finite value."""
    tables = [e["rows"][row]["per_take"] for e in evals]
    takes = set.intersection(*(set(t) for t in tables))
    out = {}
    for take in sorted(takes):
        vals = [t[take].get(metric) for t in tables]
        if all(v is not None and np.isfinite(v) for v in vals):
            out[take] = float(np.mean(vals))
    return out


def _mean_std(values: list[float]) -> str:
    m, s = float(np.mean(values)), (float(np.std(values, ddof=1)) if len(values) > 1 else float("nan"))
    return f"{m:.4g} ± {s:.2g}"


def compare(a: list[dict], b: list[dict], row: str, metric: str) -> dict | None:
    """The paired comparison of one metric: None when fewer than 3 takes have values in both groups."""
    ta, tb = per_take_means(a, row, metric), per_take_means(b, row, metric)
    takes = sorted(set(ta) & set(tb))
    if len(takes) < 3:
        return None
    x, y = np.array([ta[t] for t in takes]), np.array([tb[t] for t in takes])
    diff = y - x
    wilcoxon_p = float(stats.wilcoxon(x, y).pvalue) if np.any(diff != 0) else 1.0
    t_p = float(stats.ttest_rel(x, y).pvalue) if np.std(diff) > 0 else 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(x != 0, y / x, np.nan)
    return {"takes": len(takes), "b_lower": int(np.sum(diff < 0)),
            "median_ratio": float(np.nanmedian(ratio)) if np.isfinite(ratio).any() else float("nan"),
            "wilcoxon_p": wilcoxon_p, "t_p": t_p,
            "a_pooled": [e["rows"][row][metric] for e in a], "b_pooled": [e["rows"][row][metric] for e in b]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("groups", nargs=2, help="NAME=FOLDER[,FOLDER...] (A, then B)")
    p.add_argument("--row", default="cleaned", help="the evaluation row: cleaned (what the user gets) or generated")
    a = p.parse_args()
    (na, fa), (nb, fb) = _group(a.groups[0]), _group(a.groups[1])
    for gait in GAITS:
        ea, eb = _load(fa, gait), _load(fb, gait)
        print(f"\n### test {gait}, row {a.row!r}: {na} ({len(fa)} seeds) vs {nb} ({len(fb)} seeds)\n")
        print(f"held-out NLL nats/frame: {na} {_mean_std([e['nll']['nats_per_frame'] for e in ea])}, "
              f"{nb} {_mean_std([e['nll']['nats_per_frame'] for e in eb])}\n")
        print(f"| metric | {na} | {nb} | median per-take {nb}/{na} | takes {nb} lower | Wilcoxon p | paired t p |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for metric in METRICS:
            c = compare(ea, eb, a.row, metric)
            if c is None:
                print(f"| {metric} | – | – | – | – | – | – |")
                continue
            print(f"| {metric} | {_mean_std(c['a_pooled'])} | {_mean_std(c['b_pooled'])} | {c['median_ratio']:.3f} | "
                  f"{c['b_lower']}/{c['takes']} | {c['wilcoxon_p']:.3g} | {c['t_p']:.3g} |")


if __name__ == "__main__":
    main()
