"""The plain-gradient study of ``benchmarks/toy_results.py`` (``run --study plain_gradient``):
the shared-weight INN of Juschak (2023) trained the thesis's way.

The main table trains the shared INN's activations (PAAF, Leaky ReLU) with a sigmoid-smoothed
surrogate for the log-det's gradient; the thesis takes the plain autograd gradient of the
exact (piecewise-constant) log-det. For each dataset and seed, four runs with the main
table's settings (K = 8, 2,000 steps): PAAF (data-initialised breakpoints, input ActNorm)
and Leaky ReLU, each with ``logdet_gradient = "plain"`` and ``"smoothed"``; then (seed 0
only) the variant that normalises PAAF's input at every application ("PAAF after ActNorm":
an ActNorm inside the shared step, fixed breakpoints on [-2, 2]), and the main table's
"after input ActNorm (fixed breakpoints)" and "data-initialised breakpoints, no norm", each
with both gradients.

The thesis explains PAAF's shortfall by its input not being standard normal:
:func:`activation_input_stats` measures, for a trained model, the input of the activation at
each of its K applications on the test set (mean, std, fraction outside the breakpoints'
range). ``report --study plain_gradient`` writes both tables between
``<!-- plain_gradient_table -->`` markers.
"""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from benchmarks.toy_gbnf_study import Job, mean_std

PG_DATASETS = ["moons", "8gaussians"]
PAAF_FIELDS = dict(family="shared", num_steps=8, activation="paaf", paaf_init="data")
LEAKY_FIELDS = dict(family="shared", num_steps=8)
STEPNORM_FIELDS = dict(family="shared", num_steps=8, activation="paaf", paaf_init="fixed", input_norm=False,
                       step_norm=True)
#: (name prefix, fields, seeds: None = all); the last three are the main table's PAAF-scale variants
PG_MODELS = [("shared INN +PAAF", PAAF_FIELDS, None), ("shared INN (Leaky ReLU)", LEAKY_FIELDS, None),
             ("PAAF after ActNorm in the step (fixed breakpoints)", STEPNORM_FIELDS, [0]),
             ("PAAF after input ActNorm (fixed breakpoints)", dict(PAAF_FIELDS, paaf_init="fixed"), [0]),
             ("PAAF data-initialised breakpoints, no norm", dict(PAAF_FIELDS, input_norm=False), [0])]
GRADIENTS = ("plain", "smoothed")


def pg_name(prefix: str, gradient: str) -> str:
    return f"{prefix}, {gradient} gradient"


def plain_gradient_jobs(seeds: list[int], datasets: list[str], steps: int) -> list[Job]:
    """All runs: the two main models (plain-gradient runs first: the smoothed ones repeat the main
    table's), then the seed-0 variants."""
    jobs = []
    for gradient in GRADIENTS:
        for prefix, fields, only in PG_MODELS:
            for s in seeds:
                if only is not None and s not in only:
                    continue
                for d in datasets:
                    jobs.append(Job(d, pg_name(prefix, gradient), s, dict(fields, logdet_gradient=gradient), steps,
                                    None, "plain_gradient"))
    main = {pg_name(p, g) for p, _, only in PG_MODELS if only is None for g in GRADIENTS}
    jobs.sort(key=lambda j: (j.name not in main, GRADIENTS.index(j.fields["logdet_gradient"]), j.seed))
    return jobs


def activation_input_stats(model, x) -> list[dict]:
    """Per application k = 1..K of a shared INN's activation, on inputs ``x (N, 2)``: the mean
    and std of the activation's input (averaged over the features), and for a PAAF the
    fraction of inputs outside its breakpoints' range ``[b_1, b_M]`` and the fraction in its most
    populated linear piece (1: the activation is affine on the data), averaged over features."""
    import torch

    from baselines.toy.paaf import PAAF
    from baselines.toy.shared import SharedWeightFlow

    parts = list(model.flow.parts)
    i = next(j for j, p in enumerate(parts) if isinstance(p, SharedWeightFlow))
    inn = parts[i]
    *pre_act, act = list(inn.step.parts)
    out = []
    with torch.no_grad():
        for p in parts[:i]:
            x = p(x)[0]
        for _ in range(inn.num_steps):
            for p in pre_act:
                x = p(x)[0]
            row = {"mean": float(x.mean(0).abs().mean()), "std": float(x.std(0).mean())}
            if isinstance(act, PAAF):
                b = act.knots()[0]
                outside = (x < b[:, 0]) | (x > b[:, -1])
                row["outside"] = float(outside.to(x.dtype).mean())
                piece = (x[:, :, None] >= b[None]).sum(-1)  # (N, D) piece index in [0, M]
                counts = torch.stack([torch.bincount(piece[:, j], minlength=b.shape[1] + 1) for j in range(x.shape[1])])
                row["busiest"] = float((counts.max(1).values / x.shape[0]).mean())
            out.append(row)
            x = act(x)[0]
    return out


def _load(out: Path, r: dict):
    import torch

    from baselines.toy.models import ToyModelConfig, build_model

    ck = torch.load(out / "runs" / r["run_id"] / "model.pt", weights_only=True)  # plain data: no unpickling
    model = build_model(ToyModelConfig.from_dict(ck["model"]))
    model.load_state_dict(ck["state_dict"])
    return model.eval()


def build_plain_gradient_table(rows: list[dict], out: Path | None = None, datasets: list[str] = PG_DATASETS) -> str:
    """Markdown: test NLL and gap (mean ± std over seeds) per run; paired plain − smoothed gap
    per model; with ``out`` (the run folder) the PAAF activations' input per application."""
    import numpy as np

    from baselines.toy.data import make_test_set

    rows = [r for r in rows if r.get("group") == "plain_gradient" and "metrics" in r]
    if not rows:
        return "_no plain-gradient runs finished yet_\n"
    by: dict = defaultdict(dict)
    for r in rows:
        by[(r["name"], r["dataset"])][r["seed"]] = r
    lines = ["| run | params | " + " | ".join(f"{d} NLL | {d} gap | {d} final train loss" for d in datasets)
             + " | s/run | seeds |",
             "|---|---:|" + "---:|---:|---:|" * len(datasets) + "---:|---:|"]
    diffs = ["| plain − smoothed gap, paired by seed | " + " | ".join(datasets) + " |",
             "|---|" + "---:|" * len(datasets)]
    for prefix, _, _ in PG_MODELS:
        for g in GRADIENTS:
            name = pg_name(prefix, g)
            cells, params, seeds, walls = [], "–", set(), []
            for d in datasets:
                ok = list(by.get((name, d), {}).values())
                seeds |= {r["seed"] for r in ok}
                walls += [r["train_wall_s"] for r in ok]
                params = str(ok[0]["num_parameters"]) if ok else params
                cells += [mean_std([r["metrics"]["nll"] for r in ok]), mean_std([r["metrics"]["gap"] for r in ok]),
                          mean_std([r["final_train_loss"] for r in ok if r.get("final_train_loss") is not None])]
            wall = f"{np.mean(walls):.0f}" if walls else "–"
            lines.append(f"| {name} | {params} | " + " | ".join(cells) + f" | {wall} | {len(seeds)} |")
        cells = []
        for d in datasets:
            a, b = by.get((pg_name(prefix, "plain"), d), {}), by.get((pg_name(prefix, "smoothed"), d), {})
            dd = [a[k]["metrics"]["gap"] - b[k]["metrics"]["gap"] for k in sorted(set(a) & set(b))]
            cells.append(f"{mean_std(dd)} (plain better in {sum(x < 0 for x in dd)}/{len(dd)})" if dd else "–")
        diffs.append(f"| {prefix} | " + " | ".join(cells) + " |")
    text = "\n".join(lines) + "\n\n" + "\n".join(diffs) + "\n"
    if out is not None:
        text += "\n" + _stats_table(by, out, datasets, make_test_set)
    return text


def _stats_table(by: dict, out: Path, datasets: list[str], make_test_set, seed: int = 0) -> str:
    """Activation input per application k = 1..K of the seed-0 PAAF models (test set)."""
    head = None
    lines: list[str] = []
    for prefix, fields, _ in PG_MODELS:
        if fields.get("activation") != "paaf":
            continue
        for g in GRADIENTS:
            for d in datasets:
                r = by.get((pg_name(prefix, g), d), {}).get(seed)
                if r is None:
                    continue
                stats = activation_input_stats(_load(out, r), make_test_set(d))
                if head is None:
                    k = len(stats)
                    head = ["| PAAF input (|mean| / std / outside / busiest) at application k | dataset | "
                            + " | ".join(str(i + 1) for i in range(k)) + " |", "|---|---|" + "---:|" * k]
                lines.append(f"| {pg_name(prefix, g)} | {d} | "
                             + " | ".join(f"{s['mean']:.2f} / {s['std']:.2f} / {s['outside']:.2f} / {s['busiest']:.2f}" for s in stats)
                             + " |")
    if head is None:
        return ""
    return (f"_Seed {seed}, the {len(make_test_set(datasets[0]))} test points; |mean| and std of the activation's "
            "input averaged over the 2 features; outside = fraction of inputs beyond the outermost breakpoints "
            "(where PAAF is affine); busiest = fraction of inputs in the most populated of the 9 linear pieces._\n\n" + "\n".join(head + lines) + "\n")
