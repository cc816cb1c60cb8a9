"""MoGlow vs McMoGlow: identical settings and budget, several seeds, the same prepared data.

For every seed, trains the MoGlow config and its McMoGlow twin (the same YAML with
``model.coupling: matrix``) with the project's trainer (:class:`moglow.train.Trainer`,
what ``moglow train`` runs), one after the other so that machine load hits both alike,
then evaluates each final model with data dropout OFF on

- a fixed, evenly spread subset of the training windows (training NLL), and
- every validation window (held-out files; validation NLL),

and writes into ``--out``: ``results.csv`` (one row per run), ``results.md`` (the table,
mean ± std over seeds) and ``comparison.png`` (learning curves and final NLLs).
``--models MoGlow-wide`` adds a control: MoGlow with the coupling networks widened
(``model.hidden``) until its parameter count is closest to McMoGlow's, so that a gain
cannot simply be the larger output layer. Runs already in ``--out/results.csv`` are kept
(a rerun of the same model and seed replaces its row).
The config's ``train.seed`` is replaced by each seed (initialisation, batch order and
dropout masks all follow it). NLL in nats per frame (lower is better).

    moglow prepare --config configs/data_bandai_namco.yaml --data ../shared/mocap/bandai-namco \\
        --out outputs/prepared_bn
    OMP_NUM_THREADS=1 nohup python experiments/compare_moglow_mcmoglow.py --data outputs/prepared_bn \\
        --out outputs/mcmoglow_compare --steps 800 --seeds 0 1 2 > /tmp/mcmoglow_compare.log 2>&1 &
    python experiments/compare_moglow_mcmoglow.py --data outputs/prepared_bn --out outputs/mcmoglow_compare --report-only
"""
from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
import time
from pathlib import Path

import torch
from torch.utils.data import default_collate

from moglow.config import load_experiment
from moglow.train import Trainer

MODELS = {"MoGlow": "configs/tiny_cpu.yaml", "McMoGlow": "configs/tiny_cpu_mcmoglow.yaml"}
#: optional control: MoGlow with its coupling networks widened to McMoGlow's parameter count
CONTROL = "MoGlow-wide"
COLOURS = {"MoGlow": "tab:blue", "McMoGlow": "tab:red", CONTROL: "tab:green"}


def matched_hidden(data) -> int:
    """The MoGlow ``model.hidden`` whose parameter count is closest to McMoGlow's."""
    from moglow.model import MoGlow

    mc = load_experiment(MODELS["McMoGlow"]).model
    target = MoGlow(mc, int(data.pose_dim), int(data.control_dim)).num_parameters()
    base = load_experiment(MODELS["MoGlow"]).model

    def count(h: int) -> int:
        base.hidden = h
        return MoGlow(base, int(data.pose_dim), int(data.control_dim)).num_parameters()

    h0 = mc.hidden
    return min(range(h0, 4 * h0 + 1), key=lambda h: abs(count(h) - target))


@torch.no_grad()
def mean_nll(model: torch.nn.Module, dataset, indices: list[int], batch_size: int) -> float:
    """Mean NLL (nats/frame) of ``model`` on ``dataset[indices]`` with data dropout off."""
    model.eval()
    total, count = 0.0, 0
    for a in range(0, len(indices), batch_size):
        batch = default_collate([dataset[i] for i in indices[a:a + batch_size]])
        batch.pop("keep", None)  # no dropout: every context pose kept
        logp = model.log_prob(batch).double()
        total -= float(logp.sum())
        count += logp.numel()
    return total / count


def spread(n: int, k: int) -> list[int]:
    """``k`` indices evenly spread over ``range(n)`` (all of them if ``k >= n``)."""
    if k >= n:
        return list(range(n))
    return sorted({round(i * (n - 1) / (k - 1)) for i in range(k)})


def read_log(path: Path) -> list[dict]:
    with open(path) as f:
        return list(csv.DictReader(f))


def run_one(name: str, config: str, seed: int, data, args, hidden: int | None = None) -> dict:
    cfg = load_experiment(config)
    if hidden is not None:
        cfg.model.hidden = hidden
    cfg.train.seed = seed
    cfg.train.steps = args.steps
    cfg.name = f"{cfg.name}-{name.lower()}-seed{seed}"
    run_dir = args.out / f"{name.lower()}_seed{seed}"
    t0 = time.perf_counter()
    trainer = Trainer(cfg, data, run_dir, device="cpu", progress=False)
    result = trainer.fit()
    fit_s = time.perf_counter() - t0
    model = trainer.model
    bs = cfg.train.val_batch_size or cfg.train.batch_size
    train_nll = mean_nll(model, trainer.train_ds, spread(len(trainer.train_ds), args.train_eval_windows), bs)
    val_nll = mean_nll(model, trainer.val_ds, list(range(len(trainer.val_ds))), bs)
    log = read_log(run_dir / "losses.csv")
    rates = [float(r["steps_per_s"]) for r in log if r.get("steps_per_s")]
    row = {
        "model": name, "coupling": cfg.model.coupling, "hidden": cfg.model.hidden, "seed": seed, "steps": result.step,
        "params": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "train_nll": train_nll, "val_nll": val_nll, "best_val_nll_during_training": result.best_val_nats,
        "train_nll_dropout_on_last_log": result.last_train_nats_dropout,
        "steps_per_s": statistics.median(rates) if rates else float("nan"), "fit_wall_s": fit_s,
        "skipped_steps": result.skipped_steps, "rollbacks": result.rollbacks,
        "train_windows_evaluated": min(args.train_eval_windows, len(trainer.train_ds)),
        "val_windows": len(trainer.val_ds),
    }
    if cfg.model.coupling == "matrix":
        from mcmoglow import model_condition_stats

        batch = default_collate([trainer.val_ds[i] for i in spread(len(trainer.val_ds), 32)])
        row.update({f"final_{k}": v for k, v in model_condition_stats(model, batch).items()})
    print(json.dumps(row), flush=True)
    return row


def load_rows(path: Path) -> list[dict]:
    """Rows of an earlier ``results.csv`` (numbers parsed), or [] if there is none."""
    if not path.exists():
        return []
    rows = []
    for r in read_log(path):
        row = {}
        for k, v in r.items():
            if v == "":
                continue
            try:
                row[k] = int(v)
            except ValueError:
                try:
                    row[k] = float(v)
                except ValueError:
                    row[k] = v
        if "hidden" not in row:  # older results files: read the width from the run's config
            import yaml

            cfg = path.parent / f"{str(row['model']).lower()}_seed{row['seed']}" / "config.yaml"
            row["hidden"] = yaml.safe_load(cfg.read_text())["model"]["hidden"] if cfg.exists() else "?"
        rows.append(row)
    return rows


def fmt(values: list[float], digits: int = 2) -> str:
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.mean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def write_table(rows: list[dict], out: Path) -> str:
    log = out / "commands.txt"
    commands = log.read_text().strip().splitlines() if log.exists() else []
    lines = ["Runs (start time, command):", "", *[f"- {c[:16]}: `{c[16:].strip()}`" for c in commands], "",
             "| model | params | train NLL (dropout off) | validation NLL (dropout off) | "
             "train NLL (dropout on, last log) | steps/s | seeds |",
             "|---|---:|---:|---:|---:|---:|---|"]
    for name in [*MODELS, CONTROL]:
        rs = [r for r in rows if r["model"] == name]
        if not rs:
            continue
        lines.append(f"| {name} (hidden {rs[0]['hidden']}) | {rs[0]['params']:,} | {fmt([r['train_nll'] for r in rs])} | "
                     f"{fmt([r['val_nll'] for r in rs])} | {fmt([r['train_nll_dropout_on_last_log'] for r in rs])} | "
                     f"{fmt([r['steps_per_s'] for r in rs])} | {', '.join(str(r['seed']) for r in rs)} |")
    per_seed = ["", "Per seed, McMoGlow minus the MoGlow run of the same seed (nats/frame; negative = "
                "McMoGlow better):", ""]
    for seed in sorted({r["seed"] for r in rows}):
        runs = {r["model"]: r for r in rows if r["seed"] == seed}
        if "McMoGlow" not in runs:
            continue
        b = runs["McMoGlow"]
        for ref in ("MoGlow", CONTROL):
            if ref in runs:
                a = runs[ref]
                per_seed.append(f"- seed {seed}, vs {ref}: train {b['train_nll'] - a['train_nll']:+.2f}, "
                                f"validation {b['val_nll'] - a['val_nll']:+.2f}")
    text = "\n".join(lines + per_seed) + "\n"
    (out / "results.md").write_text(text)
    return text


def plot(rows: list[dict], out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = COLOURS
    fig, axes = plt.subplots(1, 4, figsize=(20, 4.2))
    for r in rows:
        log = read_log(out / f"{r['model'].lower()}_seed{r['seed']}" / "losses.csv")
        tr = [(int(x["step"]), float(x["train_nats_per_frame_dropout"])) for x in log
              if x.get("train_nats_per_frame_dropout")]
        va = [(int(x["step"]), float(x["val_nats_per_frame"])) for x in log if x.get("val_nats_per_frame")]
        vt = [(float(x["wall_time_s"]), float(x["val_nats_per_frame"])) for x in log if x.get("val_nats_per_frame")]
        label = r["model"] if r["seed"] == min(q["seed"] for q in rows if q["model"] == r["model"]) else None
        if tr:
            axes[0].plot(*zip(*tr), color=colours[r["model"]], alpha=0.7, label=label)
        if va:
            axes[1].plot(*zip(*va), "o-", color=colours[r["model"]], alpha=0.7, label=label)
            axes[3].plot(*zip(*vt), "o-", color=colours[r["model"]], alpha=0.7, label=label)
    axes[0].set(title="training NLL (data dropout on)", xlabel="step", ylabel="nats/frame")
    axes[1].set(title="validation NLL (dropout off)", xlabel="step", ylabel="nats/frame")
    axes[3].set(title="validation NLL vs training time (shared CPU)", xlabel="wall-clock s", ylabel="nats/frame")
    for ax in (axes[0], axes[1], axes[3]):
        ax.legend()
        ax.grid(alpha=0.3)
    names = [n for n in [*MODELS, CONTROL] if any(r["model"] == n for r in rows)]
    for i, name in enumerate(names):
        rs = [r for r in rows if r["model"] == name]
        for j, key in enumerate(("train_nll", "val_nll")):
            xs = [3 * j + i * 0.6 + (k - 1) * 0.1 for k in range(len(rs))]
            axes[2].scatter(xs, [r[key] for r in rs], color=colours[name], label=name if j == 0 else None)
    mid = 0.3 * (len(names) - 1)
    axes[2].set_xticks([mid, 3 + mid], ["train (dropout off)", "validation"])
    axes[2].set(title="final NLL per seed", ylabel="nats/frame")
    axes[2].legend()
    axes[2].grid(alpha=0.3, axis="y")
    fig.tight_layout()
    path = out / "comparison.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, required=True, help="prepared-data folder (moglow prepare)")
    p.add_argument("--out", type=Path, default=Path("outputs/mcmoglow_compare"))
    p.add_argument("--steps", type=int, default=1000, help="optimiser steps per run (same for both models)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--train-eval-windows", type=int, default=320, help="training windows scored at the end")
    p.add_argument("--report-only", action="store_true", help="train nothing; redo table and plot from --out")
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=[*MODELS, CONTROL],
                   help=f"which to train; {CONTROL}: MoGlow widened to McMoGlow's parameter count (a control)")
    args = p.parse_args(argv)
    from data_pipeline.prepare import PreparedData

    command = "python " + " ".join([sys.argv[0], *(argv if argv is not None else sys.argv[1:])])
    args.out.mkdir(parents=True, exist_ok=True)
    data = PreparedData.load(args.data)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s); data {args.data}: "
          f"{len(data.splits['train'])} train / {len(data.splits.get('val') or [])} val sequences", flush=True)
    if not args.report_only:
        with open(args.out / "commands.txt", "a") as f:
            f.write(f"{time.strftime('%Y-%m-%d %H:%M')}  {command}\n")
    rows = load_rows(args.out / "results.csv")  # earlier runs in this folder are kept (a rerun replaces them)
    wide = matched_hidden(data) if CONTROL in args.models and not args.report_only else None
    for seed in [] if args.report_only else args.seeds:
        for name in args.models:
            config = MODELS.get(name, MODELS["MoGlow"])
            row = run_one(name, config, seed, data, args, hidden=wide if name == CONTROL else None)
            rows = [r for r in rows if (r["model"], r["seed"]) != (name, seed)] + [row]
            with open(args.out / "results.csv", "w", newline="") as f:
                w = csv.DictWriter(f, fieldnames=sorted({k for r in rows for k in r}))
                w.writeheader()
                w.writerows(rows)
    print(write_table(rows, args.out))
    print(f"plot: {plot(rows, args.out)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
