"""Misspecification study (issue 17): students of a known-density teacher, NLL *and* FID, 3 seeds.

For each teacher length (optimiser steps of the teacher's NLL fit to the real images) a
teacher Real NVP is trained once, frozen, and draws a training pool and a validation set
with known densities (the pool is nested: the 500-sample set is the first 500 of the
4,000). For each condition ``(teacher steps, training-set size)`` and seed, the four
students of :func:`baselines.images.teacher.student_configs` (well-specified, smaller,
single-scale, larger) are trained by NLL for the **same number of optimiser steps**; every
``--eval-every`` steps the history records training and validation bits/dim and the
FID-LeNet of ``--fid-n`` student samples against ``--fid-n`` teacher validation samples
(both quantised). Process CPU seconds are recorded per run (the machine is shared, so
budgets are set in steps, never in wall time).

Outputs (git-ignored): ``outputs/images/misspec_<data>/`` (teachers, synthetic sets,
one folder per run with ``history.json`` and ``metrics.json``), ``summary.json``,
``results.md``, and the figure ``docs/results_images/misspec_<data>.png``.

Usage (resumable: rerunning skips finished runs and resumes a killed one from its checkpoint)::

    nice -n 5 python benchmarks/images_misspec_study.py run       # ~33 CPU minutes on the 8x8 digits
    python benchmarks/images_misspec_study.py report
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from baselines.images.data import load_images  # noqa: E402
from baselines.images.experiment import draw_images, evaluate_model, fid_for, new_model, run_training, write_json  # noqa: E402
from baselines.images.model import ImageFlowConfig  # noqa: E402
from baselines.images.preprocess import quantize  # noqa: E402
from baselines.images.teacher import entropy_bits, freeze, sample_with_density, student_configs  # noqa: E402
from baselines.images.train import TrainConfig, load_checkpoint_model  # noqa: E402
from benchmarks.toy_gbnf_study import mean_std  # noqa: E402

STUDENTS = ["well-specified", "smaller", "single-scale", "larger"]


def log(msg: str) -> None:
    print(time.strftime("%H:%M:%S"), msg, flush=True)


def teacher_config(data, size: str) -> ImageFlowConfig:
    return ImageFlowConfig(shape=data.shape, levels=data.levels, size=size, scales=3 if data.shape[-1] == 28 else 2,
                           scale="sigmoid")


def condition_name(teacher_steps: int, train_size: int) -> str:
    return f"teacher{teacher_steps}_n{train_size}"


def prepare_teacher(a, data, fid, teacher_steps: int) -> dict:
    """Train (or load) the teacher of ``teacher_steps`` steps and its synthetic sets; returns
    them with the teacher's entropy and FID floors."""
    folder = a.out / f"teacher{teacher_steps}"
    tcfg = teacher_config(data, a.teacher_size)
    if not (folder / "metrics.json").exists():
        t0 = time.process_time()
        teacher = new_model(tcfg, seed=1)
        cfg = TrainConfig(paradigm="nll", steps=teacher_steps, batch_size=a.batch_size,
                          eval_every=max(100, teacher_steps // 5),
                          checkpoint_every=100, seed=1)
        hist = run_training(folder, teacher, data.train, data.test, cfg, progress=False,
                            on_eval=lambda e: log(f"teacher{teacher_steps} {e}"))
        m = evaluate_model(teacher, data, fid, folder)  # real test bits/dim, FID-LeNet vs the real test images
        m.update(steps=hist[-1]["step"], cpu_seconds=time.process_time() - t0)
        write_json(folder / "metrics.json", m)
    teacher = freeze(load_checkpoint_model(folder / "checkpoint.pt"))
    synth = folder / "synthetic.pt"
    if not synth.exists():
        tr_u, tr_b, d1 = sample_with_density(teacher, max(a.train_sizes), seed=100)
        va_u, va_b, d2 = sample_with_density(teacher, a.val_size, seed=200)
        torch.save({"train_u": tr_u, "train_bpd": tr_b, "val_u": va_u, "val_bpd": va_b, "dropped": d1 + d2}, synth)
    s = torch.load(synth, weights_only=True)
    s["val_q"] = quantize(s["val_u"][: a.fid_n], data.levels)  # the FID reference: teacher validation samples
    info_path = folder / "synthetic.json"
    if not info_path.exists():
        h, se = entropy_bits(s["val_bpd"])
        fresh = draw_images(teacher, a.fid_n, seed=300)
        info = {"teacher_steps": teacher_steps, "entropy_bpd": h, "entropy_se": se, "dropped_draws": int(s["dropped"]),
                "teacher": json.loads((folder / "metrics.json").read_text()),
                "fid_fresh_teacher_vs_ref": fid.distance(fresh, s["val_q"]),
                "fid_train_vs_ref": {str(n): fid.distance(quantize(s["train_u"][: min(n, a.fid_n)], data.levels),
                                                          s["val_q"]) for n in a.train_sizes},
                "train_set_bpd": {str(n): float(s["train_bpd"][:n].mean()) for n in a.train_sizes}}
        write_json(info_path, info)
    s["info"] = json.loads(info_path.read_text())
    log(f"teacher{teacher_steps}: {s['info']}")
    return s


def run_student(a, data, fid, s: dict, teacher_steps: int, n: int, name: str, scfg: ImageFlowConfig,
                seed: int) -> None:
    folder = a.out / condition_name(teacher_steps, n) / name / f"seed{seed}"
    if (folder / "metrics.json").exists() and json.loads((folder / "metrics.json").read_text())["steps"] >= a.steps:
        return  # done (a larger --steps later continues it from its checkpoint)
    t0 = time.process_time()
    student = new_model(scfg, seed=10 + seed)

    def add_fid(e: dict) -> None:
        was = student.training
        student.eval()
        e["fid_lenet"] = fid.distance(draw_images(student, a.fid_n, seed=1000 + seed), s["val_q"])
        student.train(was)
        log(f"{condition_name(teacher_steps, n)} {name} seed{seed} step {e['step']} train {e['train_bpd']:.3f} "
            f"val {e['test_bpd']:.3f} fid {e['fid_lenet']:.2f}")

    cfg = TrainConfig(paradigm="nll", steps=a.steps, batch_size=a.batch_size, eval_every=a.eval_every,
                      eval_size=a.val_size, checkpoint_every=a.eval_every, seed=seed)
    hist = run_training(folder, student, s["train_u"][:n], s["val_u"], cfg, continuous=True, progress=False,
                        on_eval=add_fid)
    write_json(folder / "metrics.json", {"parameters": student.num_parameters(), "config": scfg.to_dict(),
                                         "steps": hist[-1]["step"], "cpu_seconds_this_call": time.process_time() - t0})


def stage_run(a) -> None:
    data = load_images(a.data, 0.2, 0)
    fid = fid_for(data, a.out / f"fid_lenet_{a.data}.pt")
    sets = {t: prepare_teacher(a, data, fid, t) for t in a.teacher_steps}
    configs = student_configs(teacher_config(data, a.teacher_size))
    for t, n in a.conditions:  # in the order given: a stopped study has whole conditions, all seeds
        for seed in a.seeds:
            for name in STUDENTS:
                run_student(a, data, fid, sets[t], t, n, name, configs[name], seed)
        log(f"{condition_name(t, n)} done, process CPU {time.process_time():.0f} s")


# ------------------------------------------------------------------ report


def summarise_run(hist: list[dict], entropy: float, at_step: int) -> dict:
    """Scalars of one student's history: final/best validation excess over the entropy, FIDs
    at the best-validation step and at the end, how much each got worse after it, and the
    validation excess and FID at step ``at_step`` (for comparisons across conditions)."""
    best = min(hist, key=lambda e: e["test_bpd"])
    last = hist[-1]
    at = min(hist, key=lambda e: abs(e["step"] - at_step))
    return {"val_excess_at": at["test_bpd"] - entropy, "fid_at": at["fid_lenet"],
            "final_train_excess": last["train_bpd"] - entropy, "final_val_excess": last["test_bpd"] - entropy,
            "best_val_excess": best["test_bpd"] - entropy, "best_val_step": best["step"],
            "fid_at_best_val": best["fid_lenet"], "fid_final": last["fid_lenet"],
            "fid_min": min(e["fid_lenet"] for e in hist),
            "val_rise_after_best": last["test_bpd"] - best["test_bpd"],
            "val_rise_rel": (last["test_bpd"] - best["test_bpd"]) / (best["test_bpd"] - entropy),
            "fid_rise_rel": (last["fid_lenet"] - best["fid_lenet"]) / best["fid_lenet"]}


def stage_report(a) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    conds = [c for c in a.conditions if (a.out / condition_name(*c)).exists()]
    summary: dict = {"conditions": {}}
    lines = [f"# Misspecification study ({a.data}): {a.steps} steps per student, batch {a.batch_size}, "
             f"seeds {a.seeds}", ""]
    fig, axes = plt.subplots(2, len(conds), figsize=(3.6 * len(conds), 6.2), squeeze=False)
    for j, (t, n) in enumerate(conds):
        info = json.loads((a.out / f"teacher{t}" / "synthetic.json").read_text())
        h = info["entropy_bpd"]
        cname = condition_name(t, n)
        rows: dict = {}
        runs_all: list = []
        for name in STUDENTS:
            runs = []
            for seed in a.seeds:
                p = a.out / cname / name / f"seed{seed}"
                if (p / "metrics.json").exists():
                    runs.append((json.loads((p / "history.json").read_text()),
                                 json.loads((p / "metrics.json").read_text())))
            if not runs:
                continue
            runs_all.append((name, runs))
        # equal steps within a condition: a partly extended condition is cut at the step all its runs reached
        common = min(hh[-1]["step"] for _, runs in runs_all for hh, _ in runs) if runs_all else 0
        for name, runs in runs_all:
            runs = [([e for e in hh if e["step"] <= common], {**m, "steps": common}) for hh, m in runs]
            sums = [summarise_run(hh, h, a.compare_step) for hh, _ in runs]
            rows[name] = {"seeds": len(runs), "parameters": runs[0][1]["parameters"],
                          "steps": [m["steps"] for _, m in runs],
                          "cpu_seconds": [m["cpu_seconds_this_call"] for _, m in runs],
                          **{k: [sm[k] for sm in sums] for k in sums[0]}}
            steps = np.array([e["step"] for e in runs[0][0]])
            k = min(len(hh) for hh, _ in runs)
            val = np.array([[e["test_bpd"] - h for e in hh[:k]] for hh, _ in runs])
            fd = np.array([[e["fid_lenet"] for e in hh[:k]] for hh, _ in runs])
            for r, arr in ((0, val), (1, fd)):
                mu, sd = arr.mean(0), arr.std(0)
                axes[r, j].plot(steps[:k], mu, label=name, color=f"C{STUDENTS.index(name)}")
                axes[r, j].fill_between(steps[:k], mu - sd, mu + sd, alpha=0.2, color=f"C{STUDENTS.index(name)}")
        summary["conditions"][cname] = {"teacher": info, "students": rows}
        axes[0, j].set_title(f"teacher {t} steps, {n} samples", fontsize=9)
        axes[0, j].set_ylabel("val bits/dim − entropy") if j == 0 else None
        axes[1, j].set_ylabel("FID-LeNet vs teacher samples") if j == 0 else None
        axes[1, j].set_xlabel("student step")
        axes[0, j].set_yscale("log")
        axes[1, j].set_yscale("log")
        axes[1, j].axhline(info["fid_fresh_teacher_vs_ref"], color="k", lw=0.8, ls=":")
        lines += [f"## teacher {t} steps (real-test bits/dim {info['teacher']['test_bpd']:.3f}, FID-LeNet vs real "
                  f"{info['teacher']['fid_lenet']:.1f}), {n} training samples; "
                  f"entropy {h:.4f} ± {info['entropy_se']:.4f};"
                  f" FID floor (teacher vs teacher) {info['fid_fresh_teacher_vs_ref']:.2f}", "",
                  f"| student | params | steps × seeds | val − H @{a.compare_step} | FID @{a.compare_step} | "
                  "final train − H | final val − H | best val − H (step) | "
                  "FID at best val | FID final | val rise after best (rel.) | FID rise after best (rel.) |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for name, r in rows.items():
            lines.append(f"| {name} | {r['parameters']:,} | {'/'.join(str(v) for v in sorted(set(r['steps'])))} × "
                         f"{r['seeds']} | {mean_std(r['val_excess_at'])} | {mean_std(r['fid_at'])} | "
                         f"{mean_std(r['final_train_excess'])} | "
                         f"{mean_std(r['final_val_excess'])} | {mean_std(r['best_val_excess'])} "
                         f"({'/'.join(str(s) for s in r['best_val_step'])}) | {mean_std(r['fid_at_best_val'])} | "
                         f"{mean_std(r['fid_final'])} | {mean_std(r['val_rise_rel'])} | "
                         f"{mean_std(r['fid_rise_rel'])} |")
        lines.append("")
    axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    a.docs.mkdir(parents=True, exist_ok=True)
    fig.savefig(a.docs / f"misspec_{a.data}.png", dpi=100)
    plt.close(fig)
    write_json(a.out / "summary.json", summary)
    (a.out / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("stage", choices=["run", "report"])
    p.add_argument("--data", choices=["digits", "mnist"], default="digits")
    p.add_argument("--out", type=Path, default=None, help="default: outputs/images/misspec_<data>")
    p.add_argument("--docs", type=Path, default=REPO / "docs" / "results_images")
    p.add_argument("--teacher-size", default="small")
    p.add_argument("--conditions", nargs="+", default=["200:200", "1500:200", "200:4000", "1500:4000"],
                   help="TEACHER_STEPS:TRAIN_SIZE, run in this order")
    p.add_argument("--val-size", type=int, default=1000)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--steps", type=int, default=400, help="optimiser steps of every student")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--eval-every", type=int, default=25)
    p.add_argument("--fid-n", type=int, default=500, help="student samples and teacher samples per FID-LeNet")
    p.add_argument("--compare-step", type=int, default=150, help="report: the step compared across conditions")
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args(argv)
    a.conditions = [tuple(int(v) for v in c.split(":")) for c in a.conditions]
    a.teacher_steps = sorted({t for t, _ in a.conditions})
    a.train_sizes = sorted({n for _, n in a.conditions})
    a.out = a.out or REPO / "outputs" / "images" / f"misspec_{a.data}"
    torch.set_num_threads(a.threads)
    a.out.mkdir(parents=True, exist_ok=True)
    stage_run(a) if a.stage == "run" else stage_report(a)
    return 0


if __name__ == "__main__":
    sys.exit(main())
