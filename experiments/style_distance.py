"""Do two styles differ, and is each closer to its own style's mocap? (issue 14, item 4)

    python experiments/style_distance.py CHECKPOINT [--styles feminine masculine] [--split test] [--num 2]

For each of the two styles, the held-out takes of that style (walks, turning walks and runs of
the checkpoint's split) are re-generated along their own paths, from their own first tau
frames, once with their own style and once with the other style (same latents). Printed: the
Fréchet distance (moglow evaluate's window features, scaled by the real windows' std) of each
generated set to the real takes of the style, the stride period and the arm swing (wrist
speed relative to the hips, m/s) of each set, what the user gets (cleaned) throughout. One
JSON line.
"""
from __future__ import annotations

import argparse
import json
import warnings

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint")
    ap.add_argument("--styles", nargs=2, default=["feminine", "masculine"])
    ap.add_argument("--split", default="test")
    ap.add_argument("--num", type=int, default=2)
    ap.add_argument("--data", default=None)
    args = ap.parse_args()
    warnings.simplefilter("ignore")

    from moglow.checkpoint import load_model
    from moglow.evaluation import metrics as M
    from moglow.evaluation.frechet import feature_scale, frechet_between, window_features
    from moglow.evaluation.generation import generate_along_paths
    from moglow.evaluation.heldout import Pipeline, cleaned_positions, load_heldout, split_files, world_positions
    from moglow.evaluation.rows import JointRoles
    from moglow.sampling import optimise_for_sampling

    model, ckpt = load_model(args.checkpoint)
    optimise_for_sampling(model)
    pipe = Pipeline.from_checkpoint(ckpt)
    _, files = split_files(ckpt, args.split, args.data)
    fps, tau = pipe.fps, model.tau
    out: dict = {"checkpoint": args.checkpoint, "split": args.split}
    sets = {}
    for style in args.styles:
        seqs, fdef = load_heldout([f for f in files if f"_{style}_" in f.name], pipe, progress=False)
        seqs = [s for s in seqs if s.num_frames > tau + 2 * int(2 * fps)]
        roles = JointRoles.of(fdef, pipe.profile)
        win, stride = int(2 * fps), int(0.5 * fps)
        feats = lambda p: window_features(p[tau:], fps, roles.root, roles.hips, roles.shoulders, win, stride)  # noqa
        real = [feats(world_positions(s.poses, s, fdef)) for s in seqs]
        sets[("real", style)] = real
        for as_style in args.styles:
            sid = pipe.style_names.index(as_style)
            gen = generate_along_paths(model, seqs, pipe, args.num, 1.0, 0, 64, [sid] * len(seqs), False)
            motions = [cleaned_positions(g, s, fdef, pipe.profile) for g, s in zip(gen, seqs, strict=True)]
            sets[(as_style, style)] = [feats(m) for ms in motions for m in ms]
            hands = [roles.names.index(n) for n in ("Hand_L", "Hand_R")]
            swing = np.mean([np.linalg.norm(np.diff(m[tau:, hands] - m[tau:, [roles.root]], axis=0), axis=-1).mean()
                             * fps for ms in motions for m in ms])
            strides = [M.gait_cycle(m[tau:], roles.ankles, fps) for ms in motions for m in ms]
            out[f"{as_style}_on_{style}_takes"] = {
                "arm_swing_m_s": round(float(swing), 3),
                "stride_s": round(float(np.mean([c["stride_period_s"] for c in strides if c])), 3)}
        out[f"{style}_takes"] = len(seqs)
    for style in args.styles:
        real = sets[("real", style)]
        scale = feature_scale(real)
        for as_style in args.styles:
            out[f"frechet_{as_style}_to_real_{style}"] = round(frechet_between(sets[(as_style, style)], real, scale), 1)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
