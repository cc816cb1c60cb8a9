"""NLL vs non-saturating GAN (vs hybrid) on the MNIST subset at equal steps and equal CPU time
(issue 17; the finding of Espuña i Fontcuberta 2022 in docs/results_images.md section 1).

Every run trains the same Real NVP (``tiny``, sigmoid scale, 3 scales) with one torch thread
until it has done ``STEPS`` optimiser steps **and** spent ``CPU_SECONDS`` of process CPU time
on them (evaluations excluded). Its history (every ``EVAL_EVERY`` steps, at step ``STEPS`` and
at the step that crosses ``CPU_SECONDS``) holds test bits/dim and FID-LeNet of 500 samples
against the 1,000 test images, so "equal steps" and "equal CPU time" are read off the same runs.

Two stages, one process and one run at a time, resumable (a finished run has ``metrics.json``;
an unfinished one resumes from its checkpoint)::

    nice -n 5 python benchmarks/images_nll_gan_study.py run --stage tune   # GAN variants, seed 0
    nice -n 5 python benchmarks/images_nll_gan_study.py run --stage main   # nll/gan/hybrid x 3 seeds
    python benchmarks/images_nll_gan_study.py report --doc docs/results_images.md \\
        --figure docs/results_images/nll_gan_study_fid.png

``report`` writes the tables between ``<!-- nll_gan_study -->`` markers. Runs go to
``outputs/images_study`` (git-ignored).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SIZE, BATCH, SCALES = "tiny", 32, 3
STEPS = 200          # the equal-steps point
TUNE_STEPS = 200     # steps of each GAN variant in the sweep
CPU_SECONDS = 45.0   # the equal-CPU-time point (a GAN step costs several NLL steps here)
MAX_STEPS = 20_000   # cap of the second phase (never reached)
EVAL_EVERY, EVAL_SIZE, FID_SAMPLES = 50, 300, 500
SEEDS = [0, 1, 2]
NLL = dict(paradigm="nll", lr=1e-3)
#: the GAN of the earlier runs (section 1), which collapsed
GAN_DEFAULT = dict(paradigm="gan", lr=2e-4, disc_lr=2e-4)
#: GAN variants of the tuning sweep (seed 0, TUNE_STEPS steps): name -> TrainConfig overrides
TUNE: dict[str, dict] = {
    "default (lr 2e-4/2e-4, D width 32)": GAN_DEFAULT,
    "spectral norm D": dict(GAN_DEFAULT, disc_spectral_norm=True),
    "instance noise 0.1": dict(GAN_DEFAULT, instance_noise=0.1),
    "R1 10": dict(GAN_DEFAULT, r1_weight=10.0),
    "D width 8, D lr 1e-4": dict(GAN_DEFAULT, disc_width=8, disc_lr=1e-4),
    "G lr 1e-3": dict(GAN_DEFAULT, lr=1e-3),
}
#: the variant the main stage uses for the GAN and the hybrid's adversarial part (chosen from the sweep)
CHOSEN = "R1 10"
HYBRID_WEIGHT = 0.1
MARK = "nll_gan_study"


def main_jobs() -> dict[str, dict]:
    """run name -> TrainConfig overrides of the main stage."""
    gan = dict(TUNE[CHOSEN])
    return {"nll": NLL, "gan": gan, "hybrid": dict(gan, paradigm="hybrid", nll_weight=HYBRID_WEIGHT)}


def run_folder(out: Path, stage: str, name: str, seed: int) -> Path:
    """``<out>/<stage>/<name, filesystem-safe>_s<seed>``."""
    safe = "".join(c if c.isalnum() else "_" for c in name).strip("_")
    return out / stage / f"{safe}_s{seed}"


def train_one(folder: Path, overrides: dict, seed: int, data, fid, steps: int, cpu_seconds: float) -> dict:
    """Train (or resume) one run: ``steps`` steps, then on until ``cpu_seconds`` of training CPU
    time (0: no second phase); then the full evaluation. Returns and writes ``metrics.json``."""
    import torch

    from baselines.images.experiment import evaluate_model, fid_probe, new_model, run_training, write_json
    from baselines.images.model import ImageFlowConfig
    from baselines.images.train import TrainConfig

    if (folder / "metrics.json").exists():
        return json.loads((folder / "metrics.json").read_text())
    torch.set_num_threads(1)
    c0 = time.process_time()
    mcfg = ImageFlowConfig(shape=data.shape, levels=data.levels, size=SIZE, scales=SCALES, scale="sigmoid")
    probe = fid_probe(fid, data.test, FID_SAMPLES, seed=1000 + seed)
    common = dict(batch_size=BATCH, eval_every=EVAL_EVERY, eval_size=EVAL_SIZE, checkpoint_every=50, seed=seed)
    model = new_model(mcfg, seed)
    write_json(folder / "run.json", {"model": mcfg.to_dict(), "train": dict(common, **overrides), "steps": steps,
                                     "cpu_seconds": cpu_seconds})
    # phases, each resuming the last: to whichever of the two points comes first, then to
    # step `steps`, then on to `cpu_seconds`; each stopping point is evaluated
    budget = cpu_seconds or math.inf
    for n, cap in ((steps, budget), (steps, math.inf), (MAX_STEPS if cpu_seconds else steps, budget)):
        model = new_model(mcfg, seed)  # after the first phase the weights come from the checkpoint
        hist = run_training(folder, model, data.train, data.test, TrainConfig(steps=n, **common, **overrides),
                            progress=False, max_cpu_seconds=cap, extra_eval=probe,
                            on_eval=lambda e: print(f"  {folder.name} step {e['step']}: cpu {e['cpu_seconds']:.0f} s, "
                                                    f"test {e['test_bpd']:.2f} bits/dim, FID {e['fid_lenet']:.0f}, "
                                                    f"D loss {e['d_loss']:.2f}", flush=True))
    m = evaluate_model(model, data, fid, folder, seed=seed)
    m.update(steps=hist[-1]["step"], train_cpu_seconds=hist[-1]["cpu_seconds"],
             train_wall_seconds=hist[-1]["seconds"], run_cpu_seconds=time.process_time() - c0,
             history=hist, overrides=overrides, seed=seed)
    write_json(folder / "metrics.json", m)
    return m


def cmd_run(a) -> int:
    from baselines.images.data import load_images
    from baselines.images.experiment import fid_for

    data = load_images("mnist", 0.2, 0)
    fid = fid_for(data, a.out / "fid_lenet_mnist.pt")
    if a.stage == "tune":
        jobs = [(name, ov, 0) for name, ov in TUNE.items()]
        steps, cpu = TUNE_STEPS, 0.0
    else:
        jobs = [(name, ov, s) for s in a.seeds for name, ov in main_jobs().items()]
        steps, cpu = STEPS, CPU_SECONDS
    for name, ov, seed in jobs:
        m = train_one(run_folder(a.out, a.stage, name, seed), ov, seed, data, fid, steps, cpu)
        print(f"{a.stage} {name} seed {seed}: steps {m['steps']}, test {m['test_bpd']:.3f} bits/dim, "
              f"FID-LeNet {m['fid_lenet']:.1f}, run CPU {m['run_cpu_seconds']:.0f} s", flush=True)
    return 0


# ------------------------------------------------------------------ report


def fmt(values: list[float], digits: int = 1) -> str:
    """Mean ± sample std (a single value as it is; none: a dash)."""
    import numpy as np

    if not values:
        return "–"
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{np.mean(values):.{digits}f} ± {np.std(values, ddof=1):.{digits}f}"


def at_step(hist: list[dict], step: int) -> dict | None:
    """The history entry at ``step`` (None if the run never evaluated there)."""
    return next((e for e in hist if e["step"] == step), None)


def at_cpu(hist: list[dict], seconds: float) -> dict:
    """The first entry whose training CPU time reached ``seconds`` (else the last one)."""
    return next((e for e in hist if e.get("cpu_seconds", 0.0) >= seconds), hist[-1])


def _load(out: Path, stage: str) -> dict[str, list[dict]]:
    runs: dict[str, list[dict]] = {}
    for f in sorted((out / stage).glob("*/metrics.json")):
        m = json.loads(f.read_text())
        runs.setdefault(f.parent.name.rsplit("_s", 1)[0], []).append(m)
    return runs


def _d_loss(h: list[dict]) -> str:
    v = [e["d_loss"] for e in h if e["d_loss"] == e["d_loss"]]
    return f"{v[-1]:.2f}" if v else "–"


def build_tables(out: Path) -> str:
    """Markdown: the tuning sweep, then the main stage at equal steps, at equal CPU time, best
    and final FID-LeNet (mean ± std over seeds), and the CPU time spent."""
    tune, main = _load(out, "tune"), _load(out, "main")
    lines = [f"GAN tuning sweep (seed 0, {TUNE_STEPS} steps, `{SIZE}`, batch {BATCH}; FID-LeNet of {FID_SAMPLES} "
             "samples over training, final one of 1,000; D loss 2 ln 2 = 1.39 at chance):", "",
             "| GAN variant | FID at step 50 / 100 / 200 | best FID (step) | final FID (1,000) | "
             "test bits/dim | last D loss | CPU s/step |", "|---|---|---|---|---|---|---|"]
    for name in TUNE:
        ms = tune.get(run_folder(out, "tune", name, 0).name.rsplit("_s", 1)[0], [])
        if not ms:
            continue
        m, h = ms[0], ms[0]["history"]
        points = (at_step(h, s) for s in (50, 100, TUNE_STEPS))
        curve = " / ".join(f"{e['fid_lenet']:.0f}" if e else "–" for e in points)
        best = min(h, key=lambda e: e["fid_lenet"])
        lines.append(f"| {name}{' (chosen)' if name == CHOSEN else ''} | {curve} | {best['fid_lenet']:.0f} "
                     f"({best['step']}) | {m['fid_lenet']:.0f} | {m['test_bpd']:.2f} | {_d_loss(h)} | "
                     f"{m['train_cpu_seconds'] / max(m['steps'], 1):.3f} |")
    lines += ["", f"Main stage ({len(SEEDS)} seeds; mean ± std; FID-LeNet of {FID_SAMPLES} samples in the "
              f"curves, of 1,000 at the end; bits/dim on {EVAL_SIZE} test images in the curves, on all "
              "1,000 at the end):", "",
              f"| training | seeds | at step {STEPS}: bits/dim | FID | CPU s | at {CPU_SECONDS:.0f} CPU s: steps | "
              "bits/dim | FID | best FID | final (steps) | final bits/dim | final FID |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    total = 0.0
    for name in main_jobs():
        ms = main.get(name, [])
        if not ms:
            continue
        s_e = [at_step(m["history"], STEPS) for m in ms]
        c_e = [at_cpu(m["history"], CPU_SECONDS) for m in ms]
        total += sum(m["run_cpu_seconds"] for m in ms)
        lines.append(
            f"| {name} | {len(ms)} | {fmt([e['test_bpd'] for e in s_e], 2)} | "
            f"{fmt([e['fid_lenet'] for e in s_e], 0)} | "
            f"{fmt([e['cpu_seconds'] for e in s_e], 0)} | {fmt([e['step'] for e in c_e], 0)} | "
            f"{fmt([e['test_bpd'] for e in c_e], 2)} | {fmt([e['fid_lenet'] for e in c_e], 0)} | "
            f"{fmt([min(x['fid_lenet'] for x in m['history']) for m in ms], 0)} | {fmt([m['steps'] for m in ms], 0)} | "
            f"{fmt([m['test_bpd'] for m in ms], 2)} | {fmt([m['fid_lenet'] for m in ms], 0)} |")
    tune_cpu = sum(m["run_cpu_seconds"] for ms in tune.values() for m in ms)
    lines += ["", f"CPU time of the runs (training + evaluations): tuning {tune_cpu / 60:.1f} min, "
              f"main {total / 60:.1f} min."]
    return "\n".join(lines) + "\n"


def curve_band(hists: list[list[dict]], key: str, grid: list[float] | None = None
               ) -> tuple[list[float], list[float], list[float]]:
    """FID-LeNet over ``key`` ("step" or "cpu_seconds") across seeds: ``(x, mean, std)``.
    ``grid`` None: the ``key`` values every run evaluated at (steps); else each run's curve is
    linearly interpolated onto ``grid`` (CPU seconds differ between runs), points past a run's
    last evaluation dropped. std is the sample std (0 for one run)."""
    import numpy as np

    if grid is None:
        common = set.intersection(*({e[key] for e in h} for h in hists)) if hists else set()
        xs = sorted(common)
        ys = np.array([[next(e["fid_lenet"] for e in h if e[key] == x) for x in xs] for h in hists])
    else:
        xs = [x for x in grid if all(x <= h[-1][key] for h in hists)]
        ys = np.array([np.interp(xs, [e[key] for e in h], [e["fid_lenet"] for e in h]) for h in hists])
    if not xs:
        return [], [], []
    std = ys.std(0, ddof=1) if len(hists) > 1 else np.zeros(len(xs))
    return list(xs), list(ys.mean(0)), list(std)


def build_figure(out: Path, figure: Path) -> None:
    """FID-LeNet over steps and over training CPU seconds: per training, the mean over seeds
    with a ±1 std band."""
    import matplotlib
    import numpy as np

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    main = _load(out, "main")
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    grid = list(np.linspace(0.0, CPU_SECONDS, 31))
    n_seeds = 0
    for i, name in enumerate(main_jobs()):
        hists = [m["history"] for m in main.get(name, [])]
        if not hists:
            continue
        n_seeds = max(n_seeds, len(hists))
        for ax, key, g in zip(axes, ("step", "cpu_seconds"), (None, grid), strict=True):
            x, mu, sd = curve_band(hists, key, g)
            mu_a, sd_a = np.array(mu), np.array(sd)
            ax.plot(x, mu_a, color=f"C{i}", label=f"{name} ({len(hists)} seeds)")
            ax.fill_between(x, np.maximum(mu_a - sd_a, 1.0), mu_a + sd_a, color=f"C{i}", alpha=0.2)
    for ax, xl, x0 in zip(axes, ("optimiser step", "training CPU seconds (evaluations excluded)"),
                          (STEPS, CPU_SECONDS), strict=True):
        ax.axvline(x0, color="grey", ls=":")
        ax.set_xlabel(xl)
        ax.set_ylabel(f"FID-LeNet ({FID_SAMPLES} samples)")
        ax.set_yscale("log")
        ax.legend(fontsize=8)
    fig.suptitle(f"MNIST subset, Real NVP `{SIZE}`: FID-LeNet during training, mean ± std over seeds "
                 f"(dotted: step {STEPS}, {CPU_SECONDS:.0f} CPU s)", fontsize=10)
    fig.tight_layout()
    figure.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(figure, dpi=100)
    plt.close(fig)


def cmd_report(a) -> int:
    table = build_tables(a.out)
    if a.doc:
        start, end = f"<!-- {MARK} -->", f"<!-- /{MARK} -->"
        text = a.doc.read_text()
        if start not in text or end not in text:
            raise SystemExit(f"{a.doc} has no {start} ... {end} markers")
        a.doc.write_text(text[: text.index(start) + len(start)] + "\n" + table + text[text.index(end):])
    else:
        print(table)
    if a.figure:
        build_figure(a.out, a.figure)
    return 0


def main(argv: list[str] | None = None) -> int:  # noqa: D103
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="train the missing runs of a stage (resumable)")
    r.add_argument("--stage", choices=["tune", "main"], required=True)
    r.add_argument("--seeds", type=int, nargs="+", default=SEEDS)
    q = sub.add_parser("report", help="tables (into --doc between markers) and the FID figure")
    q.add_argument("--doc", type=Path, default=None)
    q.add_argument("--figure", type=Path, default=None)
    for x in (r, q):
        x.add_argument("--out", type=Path, default=Path("outputs/images_study"))
    a = p.parse_args(argv)
    return cmd_run(a) if a.cmd == "run" else cmd_report(a)


if __name__ == "__main__":
    raise SystemExit(main())
