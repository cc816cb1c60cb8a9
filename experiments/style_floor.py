"""How far is one style's motion capture from another's, in ``moglow evaluate``'s Fréchet units?

The reference for issue 14's held-out-style target: a model that never saw a style can at best
move like the styles it saw, so the Fréchet distance of *the other styles' own mocap* to the
held-out style's takes, over that style's real-vs-real floor, is what a perfect model of the
training styles would score there.

    python experiments/style_floor.py [--data ../shared/mocap/bandai-namco/dataset-2] [--styles ...]

For every style H and gait (straight walks, runs) of dataset-2: H's takes are split into alternate
halves A and B as ``moglow evaluate`` does (same window features, same scale: the std of H's
windows, same context frames skipped); the floor is d²(A, B); each other style S's takes of the
same gait give windows that are subsampled (seeded) to A's number and scored against B.

The second table is the same question for foot skating, whose contacts are judged against each
take's own foot levels (``moglow evaluate``'s convention): each style S's mocap is scored with its
takes' levels moved by (median level of H's takes − median level of S's takes) per foot joint, as
motion of style S along H's takes would be, over S's skating at its own levels.

Printed: the two Markdown tables, and one JSON line.
"""
from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

import numpy as np

CONTEXT = 10  # frames skipped at the start of each take, as the shipped models' tau


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="../shared/mocap/bandai-namco/dataset-2")
    ap.add_argument("--styles", nargs="+", default=["active", "feminine", "masculine", "normal"])
    ap.add_argument("--gaits", nargs="+", default=["walk", "run"])
    ap.add_argument("--profile", default="bandai_namco")
    args = ap.parse_args()
    warnings.simplefilter("ignore")

    from data_pipeline.config import DataConfig
    from data_pipeline.profiles import load_profile
    from moglow.evaluation import metrics as M
    from moglow.evaluation.config import EvaluationConfig
    from moglow.evaluation.frechet import feature_scale, frechet_between
    from moglow.evaluation.heldout import Pipeline, list_files, load_heldout
    from moglow.evaluation.rows import JointRoles, reference_rows

    cfg = EvaluationConfig()
    prof = load_profile(args.profile)
    pipe = Pipeline(data_config=DataConfig(profile=prof.name, representation="positions"), profile=prof)
    feats: dict[tuple[str, str], list[np.ndarray]] = {}
    takes: dict[tuple[str, str], list] = {}
    for gait in args.gaits:
        for style in args.styles:
            files = list_files(Path(args.data), f"*_{gait}_{style}_*.bvh")
            seqs, fdef = load_heldout(files, pipe, progress=False)
            roles = JointRoles.of(fdef, prof)
            takes[(style, gait)], _, f = reference_rows(seqs, fdef, roles, pipe, cfg, CONTEXT, 0)
            feats[(style, gait)] = [x for x in f if x.shape[0]]
    out: dict = {}
    lines = ["| held-out style, gait | floor d² (windows) | " + " | ".join(args.styles) + " |",
             "|---|---:|" + "---:|" * len(args.styles)]
    for gait in args.gaits:
        for held in args.styles:
            real = feats[(held, gait)]
            scale = feature_scale(real)
            half_a, half_b = real[0::2], real[1::2]
            n = int(sum(x.shape[0] for x in half_a))
            floor = frechet_between(half_a, half_b, scale)
            cells = []
            for other in args.styles:
                if other == held:
                    cells.append("1 (floor)")
                    continue
                g = np.concatenate(feats[(other, gait)])
                if g.shape[0] > n:
                    g = g[np.sort(np.random.default_rng(0).choice(g.shape[0], size=n, replace=False))]
                ratio = frechet_between(g, half_b, scale) / floor
                out[f"{other}_vs_{held}_{gait}"] = round(float(ratio), 2)
                cells.append(f"{ratio:.1f}")
            out[f"floor_{held}_{gait}"] = round(float(floor), 1)
            lines.append(f"| {held}, {gait}s | {floor:.1f} ({n}) | " + " | ".join(cells) + " |")
    print("d² of each style's mocap (columns) to the held-out style's half B, over that style's floor:")
    print("\n".join(lines))
    fc = cfg.feet

    def skating(style: str, gait: str, shift: np.ndarray) -> float:
        total = M.Mean()
        for t in takes[(style, gait)]:
            pos = t.motions[0][t.first:]
            total = total + M.foot_skating(pos, roles.feet, pipe.fps, t.levels + shift, fc.contact_height,
                                           fc.skate_speed)["speed_cm_s"]
        return float(total.value)

    def median_levels(style: str, gait: str) -> np.ndarray:
        return np.median(np.stack([t.levels for t in takes[(style, gait)]]), axis=0)

    lines = ["| held-out style, gait | " + " | ".join(args.styles) + " |", "|---|" + "---:|" * len(args.styles)]
    for gait in args.gaits:
        for held in args.styles:
            cells = []
            for other in args.styles:
                own = skating(other, gait, np.zeros(len(roles.feet)))
                moved = skating(other, gait, median_levels(held, gait) - median_levels(other, gait))
                out[f"skating_{other}_at_{held}_levels_{gait}"] = round(moved / own, 2)
                cells.append("1" if other == held else f"{moved / own:.2f}")
            lines.append(f"| {held}, {gait}s | " + " | ".join(cells) + " |")
    print("\nfoot skating of each style's mocap (columns) at the held-out style's foot levels, over its own:")
    print("\n".join(lines))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
