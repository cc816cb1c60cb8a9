"""Standing still on a stop-and-go path: mean foot speed while the commanded speed is 0.

    python experiments/stop_and_go.py CHECKPOINT [--num 8] [--temperature T] [--seconds 16] [--style NAME]

(--temperature: default the model's own, 1.0 unless its checkpoint names one.)

Samples ``stop-and-go:speed=1.2,period=4`` (walk 2 s, stand 2 s, 0.5 s raised-cosine ramps),
then, over the frames where the commanded root speed is 0 (skipping the first second of each
stop, where a real person is still bringing the feet together), the mean horizontal speed of
the foot joints (ankles and toes; cm/s) of the raw model and of what the user gets
(:mod:`moglow.cleanup`), and the root-relative ankle motion. Prints one JSON line.
"""
from __future__ import annotations

import argparse
import json

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint")
    ap.add_argument("--num", type=int, default=8)
    ap.add_argument("--temperature", type=float, default=None)
    ap.add_argument("--seconds", type=float, default=16.0)
    ap.add_argument("--style", default=None)
    ap.add_argument("--settle", type=float, default=1.0, help="seconds of each stop left out (settling)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    from moglow.checkpoint import load_model
    from moglow.cleanup import skeleton_motion
    from moglow.paths import make_path, parse_path_spec
    from moglow.sampling import SamplingMeta, optimise_for_sampling, sample_path

    model, ckpt = load_model(args.checkpoint)
    optimise_for_sampling(model)
    meta = SamplingMeta.from_checkpoint(ckpt)
    frames = model.tau + int(round(args.seconds * meta.fps))
    traj = make_path(parse_path_spec("stop-and-go:speed=1.2,period=4"), frames, meta.data_config, meta.profile)
    temperature = meta.default_temperature() if args.temperature is None else args.temperature
    s = sample_path(model, meta, traj, num=args.num, temperature=temperature, seed=args.seed, style=args.style)
    fdef = meta.feature_def
    out = {}
    root_xz, _ = s.root_paths()
    cmd = np.linalg.norm(np.diff(root_xz[0], axis=0), axis=-1) * meta.fps  # (T-1,) commanded speed, m/s
    still = cmd < 1e-6
    run = np.zeros_like(still, dtype=int)  # frames since the stop began
    for t in range(len(still)):
        run[t] = run[t - 1] + 1 if (still[t] and t > 0) else (1 if still[t] else 0)
    keep = still & (run > args.settle * meta.fps)
    keep[: model.tau] = False
    feet = [fdef.file_joints.index(n) for n in meta.profile.feet]
    for name, cleanup in (("raw", False), ("cleaned", True)):
        pos = skeleton_motion(s.poses, s.control, s.start, fdef, meta.profile, cleanup).positions
        v = np.linalg.norm(np.diff(pos[:, :, feet][..., [0, 2]], axis=1), axis=-1) * meta.fps  # (N, T-1, K)
        out[f"{name}_foot_speed_cm_s"] = float(v[:, keep].mean() * 100)
        out[f"{name}_foot_speed_cm_s_max_sample"] = float(v[:, keep].mean(axis=(1, 2)).max() * 100)
    out.update(frames_standing=int(keep.sum()), samples=args.num, temperature=temperature,
               checkpoint=str(args.checkpoint), style=args.style)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
