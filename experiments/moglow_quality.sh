#!/usr/bin/env bash
# Quality of configs/tiny_cpu.yaml on real data (Bandai Namco Research Motion Dataset 2,
# CC BY-NC 4.0, (c) Bandai Namco Research Inc.): train, sample along paths and held-out takes,
# render, compute per-clip numbers, run `moglow evaluate`, draw the figures of docs/results_moglow.md.
#
# Run from the repository root:   bash experiments/moglow_quality.sh
# Everything goes to outputs/quality/ (git-ignored) except the two figures in docs/img/.
# Training is skipped when outputs/quality/tiny/best.pt already exists (delete it to retrain).
# Needs ffmpeg and an off-screen OpenGL (EGL or OSMesa) for the renders. ~25 min on 2 shared CPU cores.
set -euo pipefail
export OMP_NUM_THREADS=1
DATA=${DATA:-../shared/mocap/bandai-namco/dataset-2}
Q=outputs/quality
RUN=$Q/tiny
S=$Q/samples
R=$Q/render
mkdir -p "$Q" "$S" "$R" docs/img

# ---------------------------------------------------------------- 1. train (~9 min here)
if [ ! -f "$RUN/best.pt" ]; then
  moglow train --config configs/tiny_cpu.yaml --out "$RUN" --no-progress 2>&1 | tee "$Q/train.log"
fi

# held-out takes: the test split of the run's own prepared manifest (never seen in training, not
# used for picking best.pt either), as a folder of symlinks for `moglow evaluate --data`
python - "$RUN" "$Q/heldout_test" <<'EOF'
import json, sys
from pathlib import Path
import torch
ckpt = torch.load(Path(sys.argv[1]) / "best.pt", map_location="cpu", weights_only=False)
man = json.loads((Path(ckpt["data"]["prepared_dir"]) / "manifest.json").read_text())
out = Path(sys.argv[2]); out.mkdir(parents=True, exist_ok=True)
test = [f["path"] for f in man["files"] if f["split"] == "test"]
for name in test:
    link = out / name
    if not link.exists():
        link.symlink_to(Path(man["data_dir"]) / name)
print(f"{len(test)} held-out test files linked in {out}")
EOF
WALK=dataset-2_walk_normal_013.bvh   # both in the test split
RUNTAKE=dataset-2_run_normal_023.bvh

# ---------------------------------------------------------------- 2. samples
for T in 1.0 0; do
  moglow sample --checkpoint "$RUN" --path circle:radius=3,speed=1.2 --num 3 --seconds 10 --temperature $T --out $S/circle_T$T --no-progress
  moglow sample --checkpoint "$RUN" --path line:speed=1.2 --num 3 --seconds 10 --temperature $T --out $S/line_T$T --no-progress
  moglow sample --checkpoint "$RUN" --path figure8:size=4,speed=1.0 --num 3 --seconds 10 --temperature $T --out $S/figure8_T$T --no-progress
  moglow sample --checkpoint "$RUN" --path "bvh:$DATA/$WALK" --num 3 --temperature $T --out $S/bvh_walk_T$T --no-progress
  moglow sample --checkpoint "$RUN" --path "bvh:$DATA/$RUNTAKE" --num 3 --temperature $T --out $S/bvh_run_T$T --no-progress
done
# extra diagnostic: an intermediate temperature
moglow sample --checkpoint "$RUN" --path line:speed=1.2 --num 3 --seconds 10 --temperature 0.7 --out $S/line_T0.7 --no-progress
moglow sample --checkpoint "$RUN" --path circle:radius=3,speed=1.2 --num 3 --seconds 10 --temperature 0.7 --out $S/circle_T0.7 --no-progress

# ---------------------------------------------------------------- 3. render and extract frames
for n in line_T0 line_T1.0 circle_T0 circle_T1.0 figure8_T1.0 bvh_walk_T0 bvh_walk_T1.0 bvh_run_T0 bvh_run_T1.0; do
  moglow render $S/$n/samples.npz --out $R/$n.mp4 --no-progress
done
# one full frame each (all panels), and strips of 8 frames of the first sample (bvh: renders put the
# ground truth in panel 0, so their first sample is panel 1): every 0.2 s, and 8 consecutive frames
for n in line_T0 line_T1.0 circle_T0 circle_T1.0 bvh_walk_T0 bvh_walk_T1.0; do
  x=0; case $n in bvh_*) x=360;; esac
  ffmpeg -loglevel error -y -ss 3 -i $R/$n.mp4 -frames:v 1 $R/${n}_t3.png
  ffmpeg -loglevel error -y -ss 4 -t 1.6 -i $R/$n.mp4 -vf "fps=5,crop=360:400:$x:40,scale=180:200,tile=8x1" -frames:v 1 $R/strip_$n.png
  ffmpeg -loglevel error -y -ss 4 -t 0.4 -i $R/$n.mp4 -vf "crop=360:400:$x:40,scale=180:200,tile=8x1" -frames:v 1 $R/consec_$n.png
done
ffmpeg -loglevel error -y -ss 1.5 -i $R/bvh_run_T1.0.mp4 -frames:v 1 $R/bvh_run_T1.0_t1.5.png
ffmpeg -loglevel error -y -ss 1.0 -t 0.4 -i $R/bvh_run_T1.0.mp4 -vf "crop=360:400:360:40,scale=180:200,tile=8x1" -frames:v 1 $R/consec_bvh_run_T1.0.png

# ---------------------------------------------------------------- 4. moglow evaluate on held-out takes
for T in 1.0 0 0.7; do
  for c in walk run; do
    moglow evaluate --checkpoint "$RUN" --data $Q/heldout_test --pattern "*_${c}_*.bvh" --num-samples 3 \
      --max-files 10 --temperature $T --out $Q/eval_${c}_T$T --no-progress | tee $Q/eval_${c}_T$T.log
  done
done

# ---------------------------------------------------------------- 5. per-clip numbers (samples vs real held-out takes)
python - "$RUN" "$Q" <<'EOF'
"""root speed (m/s), ankle/toe height range (cm), ankle-height periodicity, jerk, high-frequency share.

Periodicity: first peak of the (unbiased) autocorrelation of each ankle's height at a lag of
0.4-2.0 s (its value: 1 = perfectly periodic) and the lag (the stride period); lr_corr: correlation
of left and right ankle heights (negative: alternating feet). hf: share of ankle-height power above
4 Hz (jitter). Built-in paths skip their first 1 s (start-up from the mean pose); real takes skip their
first 0.5 s (the tau=10 context frames); bvh: samples start after that context already.
"""
import json, sys
from pathlib import Path
import numpy as np
import torch
from moglow.evaluation.evaluate import Pipeline, load_heldout, world_positions

run, q = Path(sys.argv[1]), Path(sys.argv[2])


def clip_numbers(pos, joints, fps, skip_s):
    pos = pos[int(round(skip_s * fps)):]
    j = {n: i for i, n in enumerate(joints)}
    root = pos[:, j["Hips"]][:, [0, 2]]
    ank = pos[:, [j["Foot_L"], j["Foot_R"]], 1]
    toe = pos[:, [j["Toes_L"], j["Toes_R"]], 1]
    rng = lambda h: float(np.mean(h.max(0) - h.min(0)) * 100)
    per, peak, hf = [], [], []
    for k in range(2):
        h = ank[:, k] - ank[:, k].mean()
        ac = np.correlate(h, h, "full")[len(h) - 1:]
        ac = ac / (ac[0] + 1e-12) * len(h) / (len(h) - np.arange(len(h)))
        lo, hi = int(0.4 * fps), min(int(2.0 * fps), len(h) // 2)
        i = int(np.argmax(ac[lo:hi]))
        per.append((lo + i) / fps); peak.append(float(ac[lo + i]))
        p = np.abs(np.fft.rfft(h)) ** 2; f = np.fft.rfftfreq(len(h), 1 / fps)
        hf.append(p[f > 4].sum() / (p[f > 0].sum() + 1e-12))
    jerk = np.linalg.norm(np.diff(pos, n=3, axis=0), axis=-1) * fps ** 3
    return {"root_speed_m_s": float(np.mean(np.linalg.norm(np.diff(root, axis=0), axis=-1) * fps)),
            "ankle_range_cm": rng(ank), "toe_range_cm": rng(toe), "period_s": float(np.mean(per)),
            "period_autocorr": float(np.mean(peak)), "lr_corr": float(np.corrcoef(ank[:, 0], ank[:, 1])[0, 1]),
            "jerk_m_s3": float(jerk.mean()), "hf_share": float(np.mean(hf))}


rows = []
ckpt = torch.load(run / "best.pt", map_location="cpu", weights_only=False)
pipe = Pipeline.from_checkpoint(ckpt)
files = sorted((q / "heldout_test").glob("*.bvh"))
seqs, fdef = load_heldout(files, pipe, progress=False)
for s in seqs:
    r = clip_numbers(world_positions(s.poses, s, fdef), list(fdef.file_joints), pipe.fps, 0.5)
    r.update(group="real " + Path(s.source).name.split("_")[1], clip=Path(s.source).name); rows.append(r)
for npz in sorted((q / "samples").glob("*/samples.npz")):
    z = np.load(npz)
    joints, fps, name = [str(n) for n in z["joints"]], float(z["fps"]), npz.parent.name
    bvh = "ground_truth" in z.files
    for i, p in enumerate(z["positions"]):
        r = clip_numbers(p, joints, fps, 0.0 if bvh else 1.0); r.update(group=name, clip=str(i)); rows.append(r)
    if bvh:
        r = clip_numbers(z["ground_truth"], joints, fps, 0.0); r.update(group=name + " (its real take)", clip="gt")
        rows.append(r)
(q / "numbers.json").write_text(json.dumps(rows, indent=1))
keys = ["root_speed_m_s", "ankle_range_cm", "toe_range_cm", "period_s", "period_autocorr", "lr_corr", "jerk_m_s3",
        "hf_share"]
print("| group | clips | " + " | ".join(keys) + " |")
print("|---|---:|" + "---:|" * len(keys))
for g in dict.fromkeys(r["group"] for r in rows):
    sub = [r for r in rows if r["group"] == g]
    print(f"| {g} | {len(sub)} | " + " | ".join(f"{np.median([r[k] for r in sub]):.3g}" for k in keys) + " |")
EOF

# ---------------------------------------------------------------- 6. figures for docs/results_moglow.md
python - "$RUN" "$R" <<'EOF'
import csv, sys
from pathlib import Path
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
from PIL import Image

run, r = Path(sys.argv[1]), Path(sys.argv[2])
CREDIT = "Data: Bandai Namco Research Motion Dataset 2 (CC BY-NC 4.0, © Bandai Namco Research Inc.)"
rows = list(csv.DictReader(open(run / "losses.csv")))
st = [int(x["step"]) for x in rows]
tr = [float(x["train_nats_per_frame_dropout"]) for x in rows]
vs = [(int(x["step"]), float(x["val_nats_per_frame"])) for x in rows if x["val_nats_per_frame"]]
fig, ax = plt.subplots(figsize=(6.4, 3.6), dpi=100)
ax.plot(st, tr, color="0.7", lw=1, label="train (data dropout ON, a training statistic)")
ax.plot(*zip(*vs), "o-", color="C0", lw=2, label="validation (dropout OFF, held-out files)")
ax.axhline(86.6, color="C3", ls=":", lw=1, label="unit Gaussian per normalised feature (+86.6)")
for s, v in vs[-1:]:
    ax.annotate(f"{v:.1f}", (s, v), textcoords="offset points", xytext=(-10, 8), ha="right")
ax.set_xlabel("training step (batch 32)"); ax.set_ylabel("NLL (nats/frame, lower is better)")
ax.set_title("tiny_cpu MoGlow on Bandai Namco dataset-2 (2-core shared CPU, 9 min)", fontsize=10)
ax.set_ylim(-110, 95); ax.grid(alpha=0.3); ax.legend(fontsize=7.5, loc="upper right")
fig.text(0.01, 0.01, CREDIT, fontsize=6.5, color="0.35")
fig.tight_layout(rect=(0, 0.03, 1, 1)); fig.savefig("docs/img/moglow_nll_curve.png"); plt.close(fig)

# contact sheet: one panel (360x400 below the label) of six renders, 3 s (run: 1.5 s) into the clip
picks = [("bvh_walk_T1.0_t3.png", 0, "real held-out walk\n(walk_normal_013)"),
         ("bvh_walk_T1.0_t3.png", 1, "re-synthesis of that walk\nT=1.0 (real context)"),
         ("bvh_walk_T0_t3.png", 1, "re-synthesis of that walk\nT=0"),
         ("bvh_run_T1.0_t1.5.png", 1, "re-synthesis of held-out run\nT=1.0 (run_normal_023)"),
         ("line_T0_t3.png", 0, "straight line 1.2 m/s\nT=0 (mean-pose start)"),
         ("line_T1.0_t3.png", 0, "straight line 1.2 m/s\nT=1.0 (mean-pose start)")]
fig, axes = plt.subplots(1, 6, figsize=(9.6, 3.0), dpi=100)
for ax, (f, panel, title) in zip(axes, picks):
    im = Image.open(r / f).convert("RGB").crop((panel * 360 + 60, 70, panel * 360 + 300, 420))
    ax.imshow(im); ax.set_title(title, fontsize=7); ax.axis("off")
fig.text(0.01, 0.01, CREDIT, fontsize=6.5, color="0.35")
fig.subplots_adjust(left=0.005, right=0.995, top=0.86, bottom=0.06, wspace=0.03)
fig.savefig("/tmp/moglow_frames_rgb.png"); plt.close(fig)
Image.open("/tmp/moglow_frames_rgb.png").convert("RGB").quantize(colors=192).save("docs/img/moglow_frames.png",
                                                                               optimize=True)
for f in ("docs/img/moglow_nll_curve.png", "docs/img/moglow_frames.png"):
    print(f, Path(f).stat().st_size // 1024, "KiB")
EOF
