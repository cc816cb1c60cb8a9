"""Reproduce the image-flow findings (issue 8): NLL vs GAN vs hybrid Real NVP, GAN training
from a teacher's weights, and students of a known-density teacher.

Stages (each resumable: a killed run continues from its last checkpoint, finished runs
are skipped; every run has a training-time budget, so the whole script has a bounded cost):

- ``paradigms``: on ``--paradigm-data`` (default MNIST subset) train the same Real NVP by
  NLL, as a non-saturating GAN generator, and by the hybrid loss; report test bits/dim and
  FID-LeNet (+ the real-train-vs-real-test FID-LeNet floor); sample grids.
- ``synthetic``: on ``--synthetic-data`` fit a teacher briefly by NLL, freeze it, draw a
  finite training set and a validation set with known densities; train students
  (well-specified / smaller / single-scale / larger) by NLL and record train/validation
  bits/dim against the teacher's entropy; start a GAN (and, as control, NLL) from the
  teacher's weights on the teacher's samples and track validation bits/dim and FID-LeNet.
- ``report``: tables (Markdown + JSON) and plots into ``--out``; copies the plots and grids
  into ``--docs`` for the results document.

Usage (CPU, in the background)::

    nohup python experiments/images_results.py --stage paradigms > outputs/images/paradigms.log 2>&1 &
    nohup python experiments/images_results.py --stage synthetic > outputs/images/synthetic.log 2>&1 &
    nohup python experiments/images_results.py --stage synthetic --synthetic-data mnist --teacher-minutes 10 \
        --student-minutes 8 > outputs/images/synthetic_mnist.log 2>&1 &
    nohup python experiments/images_results.py --stage paradigms --spectral-norm-runs > outputs/images/sn.log 2>&1 &
    python experiments/images_results.py --stage report      # every synthetic dataset that has been run
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from baselines.images.data import load_images  # noqa: E402
from baselines.images.experiment import evaluate_model, fid_for, new_model, run_training, write_json  # noqa: E402
from baselines.images.model import ImageFlowConfig  # noqa: E402
from baselines.images.preprocess import quantize  # noqa: E402
from baselines.images.teacher import entropy_bits, freeze, sample_with_density, student_configs  # noqa: E402
from baselines.images.train import TrainConfig, load_checkpoint_model  # noqa: E402

PARADIGMS = ["nll", "gan", "hybrid"]
#: run name -> (paradigm, spectral norm in the discriminator); the *_sn runs with --spectral-norm-runs
RUNS = {"nll": ("nll", False), "gan": ("gan", False), "hybrid": ("hybrid", False),
        "gan_sn": ("gan", True), "hybrid_sn": ("hybrid", True)}


SCALE = "sigmoid"  # the affine coupling's scale; set from --scale in main()


def model_cfg(data, size: str) -> ImageFlowConfig:
    return ImageFlowConfig(shape=data.shape, levels=data.levels, size=size, scales=3 if data.shape[-1] == 28 else 2,
                           scale=SCALE)


def log(msg: str) -> None:
    print(msg, flush=True)


# ------------------------------------------------------------------ paradigms


def stage_paradigms(a) -> None:
    out = a.out / f"paradigms_{a.paradigm_data}"
    data = load_images(a.paradigm_data, 0.2, 0)
    fid = fid_for(data, a.out / f"fid_lenet_{a.paradigm_data}.pt")
    n = len(data.test)
    if not (out / "floor.json").exists():
        write_json(out / "floor.json", {"classifier_test_accuracy": fid.accuracy(data.test, data.test_labels),
                                        "fid_lenet_train_vs_test": fid.distance(data.train[:n], data.test),
                                        "n": n})
    log(f"floor: {json.loads((out / 'floor.json').read_text())}")
    names = PARADIGMS + (["gan_sn", "hybrid_sn"] if a.spectral_norm_runs else [])
    for name in names:
        par, sn = RUNS[name]
        folder = out / name
        if (folder / "metrics.json").exists():
            log(f"{name}: done")
            continue
        cfg = TrainConfig(paradigm=par, steps=a.max_steps, batch_size=a.batch_size, eval_every=a.eval_every,
                          eval_size=500, nll_weight=a.nll_weight, checkpoint_every=25,
                          lr=a.lr if par == "nll" else a.gan_lr, disc_spectral_norm=sn)
        model = new_model(model_cfg(data, a.size), seed=0)
        hist = run_training(folder, model, data.train, data.test, cfg, max_seconds=a.minutes * 60, progress=False,
                            on_eval=lambda e, p=name: log(f"{p} {e}"))
        m = evaluate_model(model, data, fid, folder)
        m.update(steps=hist[-1]["step"], train_seconds=hist[-1]["seconds"])
        write_json(folder / "metrics.json", m)
        log(f"{name}: {m}")


# ------------------------------------------------------------------ synthetic


def stage_synthetic(a) -> None:
    out = a.out / f"synthetic_{a.synthetic_data}"
    data = load_images(a.synthetic_data, 0.2, 0)
    fid = fid_for(data, a.out / f"fid_lenet_{a.synthetic_data}.pt")
    tcfg_model = model_cfg(data, a.teacher_size)
    # 1. teacher: brief NLL fit to the real images, then frozen
    tfolder = out / "teacher"
    if not (tfolder / "metrics.json").exists():
        teacher = new_model(tcfg_model, seed=1)
        cfg = TrainConfig(paradigm="nll", steps=a.max_steps, batch_size=a.batch_size, eval_every=a.eval_every,
                          checkpoint_every=25, seed=1, lr=a.lr)
        hist = run_training(tfolder, teacher, data.train, data.test, cfg, max_seconds=a.teacher_minutes * 60,
                            progress=False, on_eval=lambda e: log(f"teacher {e}"))
        m = evaluate_model(teacher, data, fid, tfolder)
        m.update(steps=hist[-1]["step"], train_seconds=hist[-1]["seconds"])
        write_json(tfolder / "metrics.json", m)
    teacher = freeze(load_checkpoint_model(tfolder / "checkpoint.pt"))
    # 2. synthetic data with known densities
    synth_path = out / "synthetic.pt"
    if not synth_path.exists():
        tr_u, tr_b, d1 = sample_with_density(teacher, a.synthetic_train, seed=100)
        va_u, va_b, d2 = sample_with_density(teacher, a.synthetic_val, seed=200)
        torch.save({"train_u": tr_u, "train_bpd": tr_b, "val_u": va_u, "val_bpd": va_b, "dropped": d1 + d2}, synth_path)
    s = torch.load(synth_path, weights_only=True)
    h_mean, h_se = entropy_bits(s["val_bpd"])
    n_fid = min(1000, len(s["val_u"]) // 2)
    val_q = quantize(s["val_u"], data.levels)
    info = {"teacher_entropy_bpd": h_mean, "teacher_entropy_se": h_se,
            "teacher_train_set_bpd": float(s["train_bpd"].mean()), "train_size": len(s["train_u"]),
            "val_size": len(s["val_u"]), "dropped_draws": int(s["dropped"]),
            "teacher_parameters": teacher.num_parameters(), "teacher_config": tcfg_model.to_dict(),
            "fid_lenet_teacher_vs_teacher": fid.distance(val_q[:n_fid], val_q[n_fid: 2 * n_fid]), "fid_n": n_fid}
    write_json(out / "synthetic.json", info)
    log(f"synthetic: {info}")
    # 3. students trained by NLL on the finite synthetic training set
    for name, scfg in student_configs(tcfg_model).items():
        folder = out / "students" / name
        if (folder / "metrics.json").exists():
            continue
        student = new_model(scfg, seed=2)
        cfg = TrainConfig(paradigm="nll", steps=a.max_steps, batch_size=a.batch_size, eval_every=a.student_eval_every,
                          eval_size=len(s["val_u"]), checkpoint_every=25, seed=2)
        hist = run_training(folder, student, s["train_u"], s["val_u"], cfg, continuous=True,
                            max_seconds=a.student_minutes * 60, progress=False,
                            on_eval=lambda e, n=name: log(f"student {n} {e}"))
        best = min(hist, key=lambda e: e["test_bpd"])
        write_json(folder / "metrics.json", {"parameters": student.num_parameters(), "config": scfg.to_dict(),
                                             "final": hist[-1], "best_val": best,
                                             "val_gap_to_entropy_final": hist[-1]["test_bpd"] - h_mean,
                                             "val_gap_to_entropy_best": best["test_bpd"] - h_mean})
    # 4. GAN (and NLL as control) started from the teacher's weights, on the teacher's samples
    for par in ("gan", "nll"):
        folder = out / f"{par}_from_teacher"
        if (folder / "metrics.json").exists():
            continue
        model = load_checkpoint_model(tfolder / "checkpoint.pt").train()
        g = torch.Generator().manual_seed(7)

        def add_fid(e, model=model, par=par, g=g):
            was = model.training
            model.eval()
            with torch.no_grad():
                smp = torch.cat([model.sample_images(250, generator=g) for _ in range(0, n_fid, 250)])[:n_fid]
            model.train(was)
            e["fid_lenet"] = fid.distance(smp, val_q[:n_fid])
            log(f"{par}_from_teacher {e}")

        cfg = TrainConfig(paradigm=par, steps=a.max_steps, batch_size=a.batch_size, eval_every=a.student_eval_every,
                          eval_size=len(s["val_u"]), checkpoint_every=25, seed=3,
                          lr=a.from_teacher_lr, disc_warmup=a.disc_warmup)
        hist = run_training(folder, model, s["train_u"], s["val_u"], cfg, continuous=True,
                            max_seconds=a.from_teacher_minutes * 60, progress=False, on_eval=add_fid)
        write_json(folder / "metrics.json", {"initial": hist[0], "final": hist[-1],
                                             "val_gap_to_entropy_final": hist[-1]["test_bpd"] - h_mean})


# ------------------------------------------------------------------ report


def _read(p: Path):
    return json.loads(p.read_text()) if p.exists() else None


def _read_run(folder: Path):
    """(metrics, history) of a finished run folder (None for a missing file)."""
    return _read(folder / "metrics.json"), _read(folder / "history.json")


def stage_report(a) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    a.docs.mkdir(parents=True, exist_ok=True)
    lines, summary = [], {}
    pd = a.out / f"paradigms_{a.paradigm_data}"
    floor = _read(pd / "floor.json")
    if floor:
        lines += [f"### Paradigms on `{a.paradigm_data}`", "",
                  "| training | steps | training time (min) | parameters | test bits/dim | FID-LeNet |",
                  "|---|---|---|---|---|---|"]
        for par in RUNS:
            m = _read(pd / par / "metrics.json")
            if m:
                summary[f"paradigm_{par}"] = m
                lines.append(f"| {par} | {m['steps']} | {m['train_seconds'] / 60:.1f} | {m['parameters']} | "
                             f"{m['test_bpd']:.3f} | {m['fid_lenet']:.2f} |")
                if (pd / par / "samples.png").exists():
                    shutil.copy(pd / par / "samples.png", a.docs / f"{a.paradigm_data}_{par}_samples.png")
        lines += [f"| real train vs real test (floor) | | | | | {floor['fid_lenet_train_vs_test']:.2f} |", "",
                  f"FID-LeNet classifier test accuracy: {floor['classifier_test_accuracy']:.3f}; "
                  f"{floor['n']} samples vs the {floor['n']} test images.", ""]
        summary["floor"] = floor
        fig, ax = plt.subplots(1, 1, figsize=(5, 3.5))
        for par in RUNS:
            h = _read(pd / par / "history.json")
            if h:
                ax.plot([e["step"] for e in h], [e["test_bpd"] for e in h], label=par)
        ax.set_xlabel("step"); ax.set_ylabel("test bits/dim"); ax.set_yscale("log"); ax.legend()
        ax.set_title(f"{a.paradigm_data}: test bits/dim during training")
        fig.tight_layout(); fig.savefig(a.out / "paradigms_curves.png", dpi=110); plt.close(fig)
        shutil.copy(a.out / "paradigms_curves.png", a.docs / "paradigms_curves.png")
    for synthetic_data in ("digits", "mnist"):
        sd = a.out / f"synthetic_{synthetic_data}"
        syn = _read(sd / "synthetic.json")
        if syn:
            h = syn["teacher_entropy_bpd"]
            summary[f"synthetic_{synthetic_data}"] = syn
            tm = _read(sd / "teacher" / "metrics.json")
            sdata = load_images(synthetic_data, 0.2, 0)
            fid_path = a.out / f"fid_lenet_{synthetic_data}.pt"
            floor_s = None
            if fid_path.exists():
                from baselines.images.fid import FIDLeNet
                fs = FIDLeNet.load(fid_path)
                nn_ = len(sdata.test)
                floor_s = fs.distance(sdata.train[:nn_], sdata.test)
                syn["fid_lenet_floor_real"] = floor_s
            lines += [f"### Teacher (`{synthetic_data}`, fitted by NLL, then frozen)", "",
                      f"{tm['parameters']} parameters, {tm['steps']} steps ({tm['train_seconds'] / 60:.1f} min): "
                      f"test bits/dim on the real held-out images {tm['test_bpd']:.3f}; FID-LeNet of {tm['samples']} "
                      f"samples vs the real test images {tm['fid_lenet']:.2f}"
                      + (f" (floor, real train vs real test: {floor_s:.2f})." if floor_s is not None else "."), ""]
            lines += [f"### Students of a known-density teacher (`{synthetic_data}`)", "",
                      f"Teacher entropy (best achievable): {h:.4f} ± {syn['teacher_entropy_se']:.4f} bits/dim "
                      f"({syn['val_size']} samples); training set: {syn['train_size']} teacher samples "
                      f"(their mean teacher bits/dim {syn['teacher_train_set_bpd']:.4f}); draws dropped: "
                      f"{syn['dropped_draws']}.", "",
                      "| student | parameters | steps | final train bits/dim | final val bits/dim | best val (step) "
                      "| val − entropy (final) | best val − entropy |", "|---|---|---|---|---|---|---|---|"]
            fig, ax = plt.subplots(1, 1, figsize=(6, 4))
            for i, name in enumerate(student_configs(model_cfg(sdata, a.teacher_size))):
                m, hist = _read_run(sd / "students" / name)
                if not (m and hist):
                    continue
                summary[f"{synthetic_data}_student_{name}"] = m
                f, b = m["final"], m["best_val"]
                lines.append(f"| {name} | {m['parameters']} | {f['step']} | {f['train_bpd']:.4f} | {f['test_bpd']:.4f} | "
                             f"{b['test_bpd']:.4f} ({b['step']}) | {m['val_gap_to_entropy_final']:+.4f} | "
                             f"{m['val_gap_to_entropy_best']:+.4f} |")
                col = f"C{i}"
                st = [e["step"] for e in hist][1:]
                ax.plot(st, [e["train_bpd"] for e in hist][1:], "--", color=col)
                ax.plot(st, [e["test_bpd"] for e in hist][1:], "-", color=col, label=name)
            ax.axhline(h, color="k", lw=1, label="teacher entropy")
            ax.set_xlabel("step"); ax.set_ylabel("bits/dim (dashed: train, solid: val)"); ax.legend(fontsize=8)
            lo = h - 0.15
            ax.set_ylim(lo, h + 0.6)
            ax.set_title("students of a known teacher")
            fig.tight_layout(); fig.savefig(a.out / f"students_curves_{synthetic_data}.png", dpi=110); plt.close(fig)
            shutil.copy(a.out / f"students_curves_{synthetic_data}.png", a.docs / f"students_curves_{synthetic_data}.png")
            lines += ["", "### Training from the teacher's weights (on its samples)", "",
                      f"FID-LeNet teacher samples vs teacher samples ({syn['fid_n']} each): "
                      f"{syn['fid_lenet_teacher_vs_teacher']:.3f}.", "",
                      "| objective | steps | val bits/dim start → end | val − entropy (end) | FID-LeNet start → end |",
                      "|---|---|---|---|---|"]
            fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
            for par in ("gan", "nll"):
                m, hist = _read_run(sd / f"{par}_from_teacher")
                if not (m and hist):
                    continue
                summary[f"{synthetic_data}_{par}_from_teacher"] = m
                i, f = m["initial"], m["final"]
                lines.append(f"| {par} | {f['step']} | {i['test_bpd']:.4f} → {f['test_bpd']:.4f} | "
                             f"{m['val_gap_to_entropy_final']:+.4f} | {i.get('fid_lenet', float('nan')):.3f} → "
                             f"{f.get('fid_lenet', float('nan')):.3f} |")
                st = [e["step"] for e in hist]
                axes[0].plot(st, [e["test_bpd"] for e in hist], label=par)
                axes[1].plot(st, [e.get("fid_lenet", float("nan")) for e in hist], label=par)
            axes[0].axhline(h, color="k", lw=1, label="teacher entropy")
            axes[0].set_ylabel("val bits/dim"); axes[1].set_ylabel("FID-LeNet vs teacher samples")
            for ax in axes:
                ax.set_xlabel("step"); ax.set_yscale("log"); ax.legend(fontsize=8)
            axes[1].axhline(syn["fid_lenet_teacher_vs_teacher"], color="k", lw=1)
            fig.suptitle("starting at the teacher's weights (the Nash equilibrium)")
            fig.tight_layout(); fig.savefig(a.out / f"from_teacher_{synthetic_data}.png", dpi=110); plt.close(fig)
            shutil.copy(a.out / f"from_teacher_{synthetic_data}.png", a.docs / f"from_teacher_{synthetic_data}.png")
            if (sd / "teacher" / "samples.png").exists():
                shutil.copy(sd / "teacher" / "samples.png", a.docs / f"{synthetic_data}_teacher_samples.png")
    (a.out / "results.md").write_text("\n".join(lines) + "\n")
    write_json(a.out / "results.json", summary)
    print("\n".join(lines))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--stage", choices=["paradigms", "synthetic", "report", "all"], default="all")
    p.add_argument("--out", type=Path, default=REPO / "outputs" / "images")
    p.add_argument("--docs", type=Path, default=REPO / "docs" / "results_images")
    p.add_argument("--paradigm-data", choices=["mnist", "digits"], default="mnist")
    p.add_argument("--synthetic-data", choices=["mnist", "digits"], default="digits")
    p.add_argument("--size", default="small", help="model size of the paradigm runs")
    p.add_argument("--teacher-size", default="small")
    p.add_argument("--minutes", type=float, default=12.0, help="training-time budget per paradigm run")
    p.add_argument("--teacher-minutes", type=float, default=6.0)
    p.add_argument("--student-minutes", type=float, default=5.0)
    p.add_argument("--from-teacher-minutes", type=float, default=5.0)
    p.add_argument("--from-teacher-lr", type=float, default=2e-4)
    p.add_argument("--synthetic-train", type=int, default=500, help="finite training set of teacher samples")
    p.add_argument("--synthetic-val", type=int, default=2000)
    p.add_argument("--max-steps", type=int, default=100000, help="step cap (the time budget usually ends a run)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--eval-every", type=int, default=100)
    p.add_argument("--student-eval-every", type=int, default=50)
    p.add_argument("--nll-weight", type=float, default=0.1)
    p.add_argument("--spectral-norm-runs", action="store_true",
                   help="paradigms: also train GAN and hybrid against a spectrally normalised discriminator "
                        "(gan_sn, hybrid_sn)")
    p.add_argument("--lr", type=float, default=1e-3, help="learning rate of NLL training")
    p.add_argument("--gan-lr", type=float, default=2e-4, help="generator learning rate of GAN/hybrid training")
    p.add_argument("--disc-warmup", type=int, default=100,
                   help="discriminator-only steps before a GAN started from the teacher moves")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--scale", choices=["sigmoid", "exp"], default="sigmoid",
                   help="affine coupling scale (sigmoid: Glow's, bounded; kept GAN training from diverging)")
    a = p.parse_args()
    global SCALE
    SCALE = a.scale
    torch.set_num_threads(a.threads)
    a.out.mkdir(parents=True, exist_ok=True)
    if a.stage in ("paradigms", "all"):
        stage_paradigms(a)
    if a.stage in ("synthetic", "all"):
        stage_synthetic(a)
    if a.stage in ("report", "all"):
        stage_report(a)
    return 0


if __name__ == "__main__":
    sys.exit(main())
