"""Condition numbers of McMoGlow's coupling matrices on validation windows (issue 17).

For each run folder (a McMoGlow training run whose prepared data is still on disk), 32 evenly
spread validation windows go through the model once and every coupling's matrix is measured
(:func:`mcmoglow.model_condition_stats`): ``cond_2(A)`` median and max, the diagonal's own ratio
(what MoGlow's elementwise scale would give), the largest row L1 norm of the triangles as a
fraction of the bound (1.0: the soft clamp is saturated) and the guaranteed bound. One line per run::

    python experiments/coupling_condition.py runs/mc_seed0 runs/mc_seed1 runs/mc_seed2
"""
from __future__ import annotations

import argparse
import json


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", help="run folders (best.pt, else latest.pt; config.yaml)")
    ap.add_argument("--windows", type=int, default=32)
    args = ap.parse_args()

    import torch
    from torch.utils.data import default_collate

    from data_pipeline.prepare import PreparedData
    from mcmoglow import model_condition_stats
    from moglow.checkpoint import load_model
    from moglow.config import experiment_from_dict
    from moglow.training_data import make_datasets

    torch.set_num_threads(1)
    for run in args.runs:
        model, ckpt = load_model(run)
        prepared = ckpt["data"].get("prepared_dir")
        if not prepared:
            raise SystemExit(f"{run}: the checkpoint names no prepared data (a packed model?)")
        _, val = make_datasets(experiment_from_dict(ckpt["config"]), PreparedData.load(prepared))
        if val is None:
            raise SystemExit(f"{run}: no validation windows")
        n = min(args.windows, len(val))
        batch = default_collate([val[round(i * (len(val) - 1) / max(n - 1, 1))] for i in range(n)])
        stats = model_condition_stats(model, batch)
        print(json.dumps({"run": run, "step": ckpt.get("step"), **{k: round(v, 3) for k, v in stats.items()}}))


if __name__ == "__main__":
    main()
