"""Reproduce the toy-baseline results table and density figure grid.

Two subcommands:

``run``: trains every (dataset, model, seed) of the plan, seed-major (all models of seed 0
first), one run at a time with ``torch.set_num_threads(1)``. Each finished run appends one
line to ``<out>/results.jsonl`` and writes ``<out>/runs/<run_id>/`` (result.json,
density.png, density.npz, model.pt); a run whose id is already in the JSONL is skipped, so
the command is resumable and can be sharded over processes (``--shard 0/2``, ``1/2``)::

    nohup python benchmarks/toy_results.py run --out outputs/toy > /tmp/toy_results.log 2>&1 &

``report``: builds the table (mean ± std over the finished seeds, wall time, parameters)
from whatever is in the JSONL, writes it into ``docs/results_toy.md`` between the
``<!-- table -->`` markers (or prints it) and draws the density grid::

    python benchmarks/toy_results.py report --out outputs/toy --doc docs/results_toy.md \\
        --figure docs/toy_density_grid.png

``--study gbnf``: GBNF with the paper's protocol against its single component
(``benchmarks/toy_gbnf_study.py``)::

    nice -n 10 python benchmarks/toy_results.py run --out outputs/toy_gbnf --study gbnf
    python benchmarks/toy_results.py report --out outputs/toy_gbnf --study gbnf --doc docs/results_toy.md

``--study plain_gradient``: the shared INN (PAAF, Leaky ReLU) with the plain log-det gradient
against the smoothed surrogate, and PAAF's input per application (``benchmarks/toy_paaf_study.py``)::

    nice -n 5 python benchmarks/toy_results.py run --out outputs/toy_plain --study plain_gradient --no-plot
    python benchmarks/toy_results.py report --out outputs/toy_plain --study plain_gradient --doc docs/results_toy.md
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.toy_gbnf_study import (  # noqa: E402
    GBNF_COMPONENTS, GBNF_DATASETS, GBNF_HIDDEN, GBNF_STEPS_PER_COMPONENT, Job, build_gbnf_table, gbnf_jobs, mean_std)
from benchmarks.toy_paaf_study import build_plain_gradient_table, plain_gradient_jobs  # noqa: E402

DATASETS = ["moons", "8gaussians"]
SEEDS = [0, 1, 2]
STEPS = 2000
GBNF_COMPONENT = dict(family="glow", num_steps=2)

# name -> (ToyModelConfig fields, group); order = priority within a seed
PLAN: dict[str, tuple[dict, str]] = {
    "RealNVP K=8": (dict(family="realnvp", num_steps=8), "reference"),
    "Glow K=2": (dict(family="glow", num_steps=2), "glow"),
    "Glow K=2 +aug2": (dict(family="glow", num_steps=2, augment=2), "glow"),
    "Glow K=3": (dict(family="glow", num_steps=3), "glow"),
    "Glow K=3 +aug2": (dict(family="glow", num_steps=3, augment=2), "glow"),
    "Glow K=4": (dict(family="glow", num_steps=4), "glow"),
    "Glow K=4 +aug2": (dict(family="glow", num_steps=4, augment=2), "glow"),
    "shared INN": (dict(family="shared", num_steps=8), "shared"),
    "shared INN +aug2": (dict(family="shared", num_steps=8, augment=2), "shared"),
    "shared INN +PAAF": (dict(family="shared", num_steps=8, activation="paaf", paaf_init="data"), "shared"),
    "shared INN +PAAF +aug2": (dict(family="shared", num_steps=8, activation="paaf", paaf_init="data", augment=2),
                               "shared"),
    "GBNF 2x Glow K=2": (dict(GBNF_COMPONENT, components=2), "gbnf"),
    "GBNF 4x Glow K=2": (dict(GBNF_COMPONENT, components=4), "gbnf"),
    "GBNF 8x Glow K=2": (dict(GBNF_COMPONENT, components=8), "gbnf"),
    "Glow K=8 (= params of GBNF 4)": (dict(family="glow", num_steps=8), "gbnf"),
    "PAAF raw scale (fixed breakpoints on [-2,2], no norm)": (
        dict(family="shared", num_steps=8, activation="paaf", paaf_init="fixed", input_norm=False), "paaf_scale"),
    "PAAF after ActNorm (fixed breakpoints)": (
        dict(family="shared", num_steps=8, activation="paaf", paaf_init="fixed", input_norm=False, step_norm=True),
        "paaf_scale"),
    "PAAF data-initialised breakpoints, no norm": (
        dict(family="shared", num_steps=8, activation="paaf", paaf_init="data", input_norm=False), "paaf_scale"),
    "PAAF after input ActNorm (fixed breakpoints)": (
        dict(family="shared", num_steps=8, activation="paaf", paaf_init="fixed", input_norm=True), "paaf_scale"),
    "Glow K=16 (= params of GBNF 8)": (dict(family="glow", num_steps=16), "gbnf"),
    "RealNVP K=8 h=128, 4000 steps": (dict(family="realnvp", num_steps=8, hidden=128), "reference"),
}
#: longer training against the planning numbers (study "long", seed 0 only)
LONG_TRAIN = dict(steps=6000, batch_size=1024, lr=2e-3)
PLAN.update({
    "RealNVP K=8, 6000 steps": (dict(family="realnvp", num_steps=8), "long"),
    "Glow K=2 +aug2, 6000 steps": (dict(family="glow", num_steps=2, augment=2), "long"),
    "Glow K=8, 6000 steps": (dict(family="glow", num_steps=8), "long"),
    "Glow K=2 h=128, 6000 steps": (dict(family="glow", num_steps=2, hidden=128), "long"),
    "Glow K=2 h=128 +aug2, 6000 steps": (dict(family="glow", num_steps=2, hidden=128, augment=2), "long"),
})
LONG_NAMES = [n for n, (_, g) in PLAN.items() if g == "long"]

#: runs that train longer than ``--steps`` (name -> steps)
STEPS_OVERRIDE = {"RealNVP K=8 h=128, 4000 steps": 4000}
#: runs made for fewer seeds than ``--seeds`` (name -> seeds), to fit the time budget
SEEDS_OVERRIDE = {"RealNVP K=8 h=128, 4000 steps": [0]}

#: the PAAF input-scale study: the three PAAF variants on moons scaled by 10 and by 0.1
SCALE_DATASETS = ["moonsx0.1", "moonsx10"]
SCALE_NAMES = [n for n, (_, g) in PLAN.items() if g == "paaf_scale"]

GROUP_TITLES = {
    "reference": "Reference (planning measurements: RealNVP K=8 ≈ 1.02 on moons, ≈ 2.90 on eight Gaussians)",
    "shared": "Shared-weight INN (one LULinear + bias + activation step applied K = 8 times)",
    "paaf_scale": "PAAF input scale (shared INN with PAAF; \"PAAF after ActNorm\" has the ActNorm inside the "
                  "shared step, so it is applied K times)",
    "glow": "Glow (ActNorm, LULinear, affine coupling with an MLP of 2×64) with and without 2 augmented dims",
    "gbnf": "GBNF (components: Glow K=2) against its single component at equal total steps "
            "(= Glow K=2 above) and at equal parameter count (Glow K=2C)",
}


def run_id(dataset: str, name: str, seed: int) -> str:
    safe = "".join(ch if ch.isalnum() else "_" for ch in name).strip("_")
    while "__" in safe:
        safe = safe.replace("__", "_")
    return f"{dataset}__{safe}__s{seed}"


def plan(steps: int, seeds: list[int], datasets: list[str], study: str = "main") -> list[tuple[str, str, int]]:
    """(dataset, name, seed), seed-major; ``study="scale"``: the PAAF scale study."""
    if study == "scale":
        return [(d, n, s) for s in seeds for d in SCALE_DATASETS for n in SCALE_NAMES]
    if study == "long":
        return [(d, n, s) for s in seeds for d in datasets for n in LONG_NAMES]
    return [(d, n, s) for s in seeds for d in datasets for n in PLAN
            if s in SEEDS_OVERRIDE.get(n, seeds) and n not in LONG_NAMES]


def load_results(out: Path) -> list[dict]:
    path = out / "results.jsonl"
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if line:
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                pass  # a line cut by a crash
    return rows


def _jobs(args) -> list[Job]:
    """The runs of ``args.study`` (all seeds and datasets, before sharding and ``--only``)."""
    if args.study == "gbnf":
        return gbnf_jobs(args.seeds, args.datasets or GBNF_DATASETS, args.components, args.steps_per_component,
                         args.hidden)
    if args.study == "plain_gradient":
        return plain_gradient_jobs(args.seeds, args.datasets or DATASETS, args.steps)
    jobs = []
    for dataset, name, seed in plan(args.steps, args.seeds, args.datasets or DATASETS, args.study):
        fields, group = PLAN[name]
        jobs.append(Job(dataset, name, seed, fields, STEPS_OVERRIDE.get(name, args.steps), None, group))
    return jobs


def cmd_run(args) -> int:
    import torch

    from baselines.toy.models import ToyModelConfig
    from baselines.toy.run import run_experiment
    from baselines.toy.train import TrainConfig

    torch.set_num_threads(args.threads)
    out = Path(args.out)
    (out / "runs").mkdir(parents=True, exist_ok=True)
    todo = _jobs(args)
    k, n = (int(v) for v in args.shard.split("/"))
    todo = [t for i, t in enumerate(todo) if i % n == k]
    if args.only:
        known = {t.name for t in todo} | set(PLAN)
        unknown = set(args.only) - known
        if unknown:
            raise SystemExit(f"--only: unknown model names {sorted(unknown)}; choose from {sorted(known)}")
        todo = [t for t in todo if t.name in args.only]
    for i, job in enumerate(todo):
        dataset, name, seed, group = job.dataset, job.name, job.seed, job.group
        rid = run_id(dataset, name, seed)
        if rid in {r["run_id"] for r in load_results(out)}:
            continue
        cfg = ToyModelConfig(**job.fields)
        t0 = time.time()
        print(f"[{time.strftime('%H:%M:%S')}] ({i + 1}/{len(todo)}) {rid} ...", flush=True)
        extra = {"run_id": rid, "name": name, "group": group, "seed": seed}
        if args.study == "gbnf":
            extra.update(gbnf_components=args.components, gbnf_steps=args.steps_per_component)
        try:
            train = (TrainConfig(**LONG_TRAIN, seed=seed) if name in LONG_NAMES
                     else TrainConfig(steps=job.steps, seed=seed))
            res = run_experiment(dataset, cfg, train, out / "runs" / rid, progress=False,
                                 num_test=args.test_size, grid_resolution=args.grid, extra=extra,
                                 gbnf_options=job.gbnf_options, plot=not args.no_plot)
        except Exception as e:  # record the failure and go on: a failure is a result too
            res = {**extra, "dataset": dataset, "error": f"{type(e).__name__}: {e}", "model": cfg.to_dict()}
            print(f"    FAILED: {res['error']}", flush=True)
        with open(out / "results.jsonl", "a") as f:
            f.write(json.dumps(res) + "\n")
        m = res.get("metrics", {})
        print(f"    done in {time.time() - t0:.0f} s: nll {m.get('nll', float('nan')):.4f} "
              f"gap {m.get('gap', float('nan')):.4f}", flush=True)
    return 0


def build_table(rows: list[dict], datasets: list[str] = DATASETS, groups: dict = GROUP_TITLES) -> str:
    import numpy as np

    by_key: dict = defaultdict(list)
    for r in rows:
        by_key[(r["name"], r["dataset"])].append(r)
    lines = []
    for group, title in groups.items():
        names = [n for n, (_, g) in PLAN.items() if g == group]
        lines += [f"**{title}**", "",
                  "| model | params | " + " | ".join(f"{d} NLL | {d} gap | {d} s/run" for d in datasets)
                  + " | seeds |",
                  "|---|---:|" + "---:|---:|---:|" * len(datasets) + "---:|"]
        for name in names:
            cells, params, seeds = [], "–", set()
            for d in datasets:
                ok = [r for r in by_key.get((name, d), []) if "metrics" in r]
                bad = [r for r in by_key.get((name, d), []) if "error" in r]
                seeds |= {r["seed"] for r in ok}
                if ok:
                    params = str(ok[0]["num_parameters"])
                    nll = mean_std([r["metrics"]["nll"] for r in ok])
                    gap = mean_std([r["metrics"]["gap"] for r in ok])
                    if "nll_bound" in ok[0]["metrics"]:
                        gap += f" (bound {mean_std([r['metrics']['gap_bound'] for r in ok])})"
                    wall = f"{np.mean([r['train_wall_s'] for r in ok]):.0f}"
                    cells += [nll, gap, wall]
                elif bad:
                    cells += ["failed", bad[0]["error"][:40], "–"]
                else:
                    cells += ["–", "–", "–"]
            lines.append(f"| {name} | {params} | " + " | ".join(cells) + f" | {len(seeds)} |")
        lines.append("")
    return "\n".join(lines)


def build_figure(rows: list[dict], out: Path, figure: Path, seed: int = 0) -> None:
    import numpy as np
    import torch

    from baselines.toy.data import get_dataset
    from baselines.toy.plots import plot_density_grid

    names = ["RealNVP K=8", "Glow K=2", "Glow K=2 +aug2", "Glow K=4", "Glow K=4 +aug2", "shared INN",
             "shared INN +PAAF", "shared INN +PAAF +aug2", "GBNF 8x Glow K=2", "Glow K=16 (= params of GBNF 8)"]
    done = {(r["name"], r["dataset"]): r for r in rows if "metrics" in r and r["seed"] == seed}
    cells = []
    for d in DATASETS:
        ds = get_dataset(d)
        (x0, x1), (y0, y1) = ds.bounds()
        xs, ys = torch.linspace(x0, x1, 150), torch.linspace(y0, y1, 150)
        yy, xx = torch.meshgrid(ys, xs, indexing="ij")
        true = ds.log_prob(torch.stack([xx, yy], -1).reshape(-1, 2)).reshape(150, 150).numpy()
        row = [{"xs": xs.numpy(), "ys": ys.numpy(), "log_q": true, "caption": f"entropy {ds.entropy().value:.3f}"}]
        for n in names:
            r = done.get((n, d))
            if r is None:
                row.append(None)
                continue
            z = np.load(out / "runs" / r["run_id"] / "density.npz")
            row.append({"xs": z["xs"], "ys": z["ys"], "log_q": z["log_q"],
                        "caption": f"NLL {r['metrics']['nll']:.3f}"})
        cells.append(row)
    labels = ["true density"] + [n.replace(" (= params of GBNF 8)", "") for n in names]
    plot_density_grid(figure, cells, DATASETS, labels)


def _write_between(doc: Path, start: str, end: str, table: str) -> None:
    text = doc.read_text() if doc.exists() else f"{start}\n{end}\n"
    if start not in text or end not in text:
        raise SystemExit(f"{doc} has no {start} ... {end} markers")
    doc.write_text(text[: text.index(start) + len(start)] + "\n" + table + "\n" + text[text.index(end):])
    print(f"table written into {doc}")


def cmd_report(args) -> int:
    out = Path(args.out)
    rows = load_results(out)
    if args.study in ("gbnf", "plain_gradient"):
        table = build_gbnf_table(rows) if args.study == "gbnf" else build_plain_gradient_table(rows, out)
        if args.doc:
            _write_between(Path(args.doc), f"<!-- {args.study}_table -->", f"<!-- /{args.study}_table -->", table)
        else:
            print(table)
        return 0
    finished = [r for r in rows if "metrics" in r]
    planned = {run_id(d, n, s) for d, n, s in plan(STEPS, SEEDS, DATASETS)}
    done = {r["run_id"] for r in finished} & planned
    header = (f"_{len(done)} of {len(planned)} planned runs of the main table finished "
              f"({len(rows) - len(finished)} runs failed in all); NLL and gap in nats per point, mean ± std over "
              f"the finished seeds; s/run = mean training wall time on the shared, loaded machine._\n")
    table = header + "\n" + build_table(rows)
    if any(r["name"] in LONG_NAMES for r in rows):
        table += "\n" + build_table(rows, DATASETS, {
            "long": f"Longer training ({LONG_TRAIN['steps']} steps, batch {LONG_TRAIN['batch_size']}, "
                    f"lr {LONG_TRAIN['lr']:g}) against the planning numbers (RealNVP K=8: 1.02 / 2.90; "
                    "Glow K=2 +aug2 on moons: 1.15)"})
    if any(r["dataset"] in SCALE_DATASETS for r in rows):
        table += "\n" + build_table(rows, SCALE_DATASETS, {
            "paaf_scale": "PAAF input scale, moons scaled by 0.1 and by 10 (floors 1.0085 + 2 log f: "
                          "-3.597 and 5.614; the gap is scale-free)"})
    if args.doc:
        _write_between(Path(args.doc), "<!-- table -->", "<!-- /table -->", table)
    else:
        print(table)
    if args.figure:
        build_figure(rows, out, Path(args.figure))
        print(f"figure written to {args.figure}")
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="train the plan (resumable)")
    r.add_argument("--out", default="outputs/toy")
    r.add_argument("--steps", type=int, default=STEPS)
    r.add_argument("--seeds", type=int, nargs="+", default=SEEDS)
    r.add_argument("--datasets", nargs="+", default=None,
                   help=f"default: {' '.join(DATASETS)} (study gbnf: {' '.join(GBNF_DATASETS)})")
    r.add_argument("--shard", default="0/1", help="k/n: run every n-th job starting at k")
    r.add_argument("--only", nargs="*", help="exact model names (keys of PLAN) to run")
    r.add_argument("--study", choices=["main", "scale", "long", "gbnf", "plain_gradient"], default="main",
                   help="main: the results table; scale: PAAF variants on moons scaled by 0.1 and 10; "
                        "long: 6000-step runs against the planning numbers; gbnf: GBNF with the paper's "
                        "protocol against its single component (default datasets: moons, 8gaussians, rings); "
                        "plain_gradient: shared INN with the plain vs the smoothed log-det gradient")
    r.add_argument("--components", type=int, default=GBNF_COMPONENTS, help="study gbnf: components C")
    r.add_argument("--steps-per-component", type=int, default=GBNF_STEPS_PER_COMPONENT,
                   help="study gbnf: steps S of every component and of the single flow (which also runs C·S)")
    r.add_argument("--hidden", type=int, nargs="+", default=GBNF_HIDDEN,
                   help="study gbnf: coupling MLP widths of the Glow K=2 component")
    r.add_argument("--no-plot", action="store_true", help="no density.png per run")
    r.add_argument("--threads", type=int, default=1)
    r.add_argument("--test-size", type=int, default=10_000)
    r.add_argument("--grid", type=int, default=150, help="density grid resolution")
    r.set_defaults(fn=cmd_run)
    q = sub.add_parser("report", help="table and figure from the finished runs")
    q.add_argument("--out", default="outputs/toy")
    q.add_argument("--study", choices=["main", "gbnf", "plain_gradient"], default="main",
                   help="gbnf / plain_gradient: that study's tables, between <!-- gbnf_table --> "
                        "(<!-- plain_gradient_table -->) markers")
    q.add_argument("--doc", default=None, help="markdown file with <!-- table --> ... <!-- /table --> markers")
    q.add_argument("--figure", default=None, help="PNG path of the density grid")
    q.set_defaults(fn=cmd_report)
    args = p.parse_args(argv)
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
