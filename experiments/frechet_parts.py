"""What a model's Fréchet distance to mocap is made of: by feature group, and joint by joint.

Runs ``moglow evaluate``'s own evaluation (same takes, windows, seed; :func:`evaluate_checkpoint`)
and prints, for the mocap floor, the raw model and the cleaned output: each feature group's d²
alone with its mean-difference term and its window-to-window spread (``frechet_parts`` of the
rows), then per joint how much the window-mean local pose varies from window to window in the
generated windows vs in the real half they are compared with (variance ratio, x/y/z)::

    python experiments/frechet_parts.py --checkpoint pretrained:bandai2_small --gait walk --split val

~20 s on one thread.
"""
from __future__ import annotations

import argparse
import warnings

import numpy as np

import moglow.evaluation.evaluate as evaluate_module
from moglow.evaluation.config import EvaluationConfig
from moglow.evaluation.frechet import feature_groups
from moglow.evaluation.result import CLEANED, GENERATED, REFERENCE


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--checkpoint", default="pretrained:bandai2_small")
    p.add_argument("--gait", default="walk")
    p.add_argument("--split", default="val")
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--num-samples", type=int, default=4)
    a = p.parse_args()
    warnings.simplefilter("ignore")

    captured: dict = {}
    add_rows = evaluate_module.add_frechet_rows

    def keep_features(rows, real, gen, cfg, cleaned=None, others=None):  # the windows the evaluation compares
        captured.update(real=real, gen=gen, cleaned=cleaned)
        return add_rows(rows, real, gen, cfg, cleaned, others)

    evaluate_module.add_frechet_rows = keep_features
    cfg = EvaluationConfig(num_samples=a.num_samples, temperature=a.temperature, pattern=f"*_{a.gait}_*")
    res = evaluate_module.evaluate_checkpoint(a.checkpoint, None, cfg, progress=False, split=a.split)
    print(f"{a.checkpoint}, {a.split} {a.gait}s, T = {a.temperature}, {res.info['files']} takes\n")
    print("| row | whole d² | " + " | ".join(f"{g}: d² (mean term; spread)" for g in ("mean_pose", "pose_std",
                                                                                      "joint_speed")) + " |")
    print("|---|---:|---:|---:|---:|")
    for name in (REFERENCE, GENERATED, CLEANED):
        row = res.rows[name]
        parts = row["frechet_parts"]
        cells = [f"{parts[g]['d2']:.1f} ({parts[g]['mean_term']:.1f}; {parts[g]['spread']:.0f})" for g in parts]
        print(f"| {name} | {row['frechet_distance']:.1f} | " + " | ".join(cells) + " |")

    real = [f for f in captured["real"] if f.shape[0]]
    keep = [i for i, f in enumerate(captured["real"]) if f.shape[0]]
    half_b = np.concatenate(real[1::2])
    per = len(captured["gen"]) // len(captured["real"])
    gen = np.concatenate([f for i in keep[0::2] for f in captured["gen"][i * per:(i + 1) * per] if f.shape[0]])
    j = half_b.shape[1] // 7
    mp = feature_groups(j)["mean_pose"]
    ratio = (gen[:, mp].var(0) / np.maximum(half_b[:, mp].var(0), 1e-12)).reshape(j, 3)
    std_g = gen[:, mp].std(0).reshape(j, 3) * 100
    std_r = half_b[:, mp].std(0).reshape(j, 3) * 100
    names = _joint_names(a.checkpoint)
    print("\n| joint | variance ratio x / y / z (raw model vs real half B) | std cm, generated | std cm, real |")
    print("|---|---|---|---|")
    for k in range(1, j):
        print(f"| {names[k]} | {' / '.join(f'{v:.1f}' for v in ratio[k])} | "
              f"{' / '.join(f'{v:.1f}' for v in std_g[k])} | {' / '.join(f'{v:.1f}' for v in std_r[k])} |")


def _joint_names(checkpoint: str) -> list[str]:
    from moglow.checkpoint import load_model
    from moglow.evaluation.heldout import Pipeline

    return list(Pipeline.from_checkpoint(load_model(checkpoint)[1]).feature_def.joints)


if __name__ == "__main__":
    main()
