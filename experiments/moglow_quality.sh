#!/usr/bin/env bash
# Quality of configs/tiny_cpu.yaml on real data (Bandai Namco Research Motion Dataset 2,
# CC BY-NC 4.0, (c) Bandai Namco Research Inc.): train, sample along paths and held-out takes,
# render, compute per-clip numbers, run `moglow evaluate`, draw the figures of docs/results_moglow.md.
#
# Run from the repository root:   bash experiments/moglow_quality.sh
# The larger CPU model (docs/results_moglow.md, "small_cpu"):
#   CONFIG=configs/small_cpu.yaml Q=outputs/quality_small RUN=outputs/quality_small/run FIGURES=0 \
#       bash experiments/moglow_quality.sh
# Everything goes to $Q (default outputs/quality/, git-ignored) except the three figures in docs/img/.
# Training is skipped when $RUN/best.pt already exists (delete it to retrain).
# Needs ffmpeg and an off-screen OpenGL (EGL or OSMesa) for the renders. ~25 min on 2 CPU cores (tiny_cpu; small_cpu ~45 min).
set -euo pipefail
export OMP_NUM_THREADS=1
DATA=${DATA:-../shared/mocap/bandai-namco/dataset-2}
CONFIG=${CONFIG:-configs/tiny_cpu.yaml}
Q=${Q:-outputs/quality}
RUN=${RUN:-$Q/tiny}
FIGURES=${FIGURES:-1}   # 1: redraw docs/img/moglow_*.png from this run
S=$Q/samples
R=$Q/render
mkdir -p "$Q" "$S" "$R" docs/img

# ---------------------------------------------------------------- 1. train (~8 min on one quiet core)
if [ ! -f "$RUN/best.pt" ]; then
  moglow train --config "$CONFIG" --out "$RUN" --threads 1 --no-progress 2>&1 | tee "$Q/train.log"
fi

WALK=dataset-2_walk_normal_013.bvh   # both in the test split
RUNTAKE=dataset-2_run_normal_023.bvh

# ---------------------------------------------------------------- 2. samples
# built-in paths start from real training windows matched to the path's speed (the checkpoint's start
# bank, `--start bank`, the default); line_mean_* start from the mean pose instead, for comparison
for T in 1.0 0.7 0; do
  moglow sample --checkpoint "$RUN" --path line:speed=1.2 --num 3 --seconds 10 --temperature $T --out $S/line_T$T --no-progress
  moglow sample --checkpoint "$RUN" --path line:speed=1.2 --num 3 --seconds 10 --temperature $T --start mean --out $S/line_mean_T$T --no-progress
  moglow sample --checkpoint "$RUN" --path line:speed=2.8 --num 3 --seconds 10 --temperature $T --out $S/runline_T$T --no-progress
  moglow sample --checkpoint "$RUN" --path circle:radius=3,speed=1.2 --num 3 --seconds 10 --temperature $T --out $S/circle_T$T --no-progress
  moglow sample --checkpoint "$RUN" --path figure8:size=4,speed=1.0 --num 3 --seconds 10 --temperature $T --out $S/figure8_T$T --no-progress
  moglow sample --checkpoint "$RUN" --path "bvh:$DATA/$WALK" --num 3 --temperature $T --out $S/bvh_walk_T$T --no-progress
  moglow sample --checkpoint "$RUN" --path "bvh:$DATA/$RUNTAKE" --num 3 --temperature $T --out $S/bvh_run_T$T --no-progress
done

# ---------------------------------------------------------------- 3. render and extract frames
for n in line_T0 line_T1.0 line_mean_T0 runline_T1.0 circle_T1.0 figure8_T1.0 bvh_walk_T1.0 bvh_run_T1.0; do
  moglow render $S/$n/samples.npz --out $R/$n.mp4 --no-progress
done
# one full frame each (all panels) 3 s in, and strips of the first sample (bvh: renders put the ground
# truth in panel 0, so their first sample is panel 1): 8 frames every 0.2 s, and 8 frames 0.1 s apart
for n in line_T0 line_T1.0 line_mean_T0 runline_T1.0 circle_T1.0 figure8_T1.0 bvh_walk_T1.0 bvh_run_T1.0; do
  x=0; case $n in bvh_*) x=360;; esac
  a=3; b=4; case $n in bvh_run_*) a=1.5; b=0.6;; esac   # the run take lasts ~3 s
  ffmpeg -loglevel error -y -ss $a -i $R/$n.mp4 -frames:v 1 $R/${n}_t3.png
  ffmpeg -loglevel error -y -ss $b -t 1.6 -i $R/$n.mp4 -vf "fps=5,crop=360:400:$x:40,scale=180:200,tile=8x1" -frames:v 1 $R/strip_$n.png
  ffmpeg -loglevel error -y -ss $b -t 0.8 -i $R/$n.mp4 -vf "fps=10,crop=360:400:$x:40,scale=180:200,tile=8x1" -frames:v 1 $R/consec_$n.png
done

# ---------------------------------------------------------------- 4. moglow evaluate on held-out takes
for T in 1.0 0 0.7; do
  for c in walk run; do
    moglow evaluate --checkpoint "$RUN" --split test --pattern "*_${c}_*.bvh" --num-samples 3 \
      --max-files 10 --temperature $T --out $Q/eval_${c}_T$T --no-progress | tee $Q/eval_${c}_T$T.log
  done
done

# ---------------------------------------------------------------- 5. per-clip numbers (samples vs real held-out takes)
python experiments/clip_numbers.py "$RUN" $S $Q/numbers.json | tee $Q/numbers.md

# ---------------------------------------------------------------- 6. figures for docs/results_moglow.md
if [ "$FIGURES" = 1 ]; then
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
ax.set_title("tiny_cpu MoGlow on Bandai Namco dataset-2 (1 CPU thread, ~8 min)", fontsize=10)
ax.set_ylim(-125, 95); ax.grid(alpha=0.3); ax.legend(fontsize=7.5, loc="upper right")
fig.text(0.01, 0.01, CREDIT, fontsize=6.5, color="0.35")
fig.tight_layout(rect=(0, 0.03, 1, 1)); fig.savefig("docs/img/moglow_nll_curve.png"); plt.close(fig)

# contact sheet: one panel (360x400 below the label) of six renders, 3 s (run: 1.5 s) into the clip
picks = [("bvh_walk_T1.0_t3.png", 0, "real held-out walk\n(walk_normal_013)"),
         ("bvh_walk_T1.0_t3.png", 1, "re-synthesis of that walk\nT=1.0 (its real context)"),
         ("line_T1.0_t3.png", 0, "straight line 1.2 m/s\nT=1.0"),
         ("runline_T1.0_t3.png", 0, "straight line 2.8 m/s\nT=1.0"),
         ("circle_T1.0_t3.png", 0, "circle r=3 m, 1.2 m/s\nT=1.0"),
         ("line_mean_T0_t3.png", 0, "straight line 1.2 m/s\nT=0, mean-pose start")]
fig, axes = plt.subplots(1, 6, figsize=(9.6, 3.0), dpi=100)
for ax, (f, panel, title) in zip(axes, picks):
    im = Image.open(r / f).convert("RGB").crop((panel * 360 + 60, 70, panel * 360 + 300, 420))
    ax.imshow(im); ax.set_title(title, fontsize=7); ax.axis("off")
fig.text(0.01, 0.01, CREDIT, fontsize=6.5, color="0.35")
fig.subplots_adjust(left=0.005, right=0.995, top=0.86, bottom=0.06, wspace=0.03)
fig.savefig("/tmp/moglow_frames_rgb.png"); plt.close(fig)
Image.open("/tmp/moglow_frames_rgb.png").convert("RGB").quantize(colors=192).save("docs/img/moglow_frames.png",
                                                                               optimize=True)
# strips: 8 frames 0.1 s apart (4.0-4.7 s) of the first sample of four sets, one row each
rows = [("consec_line_T1.0.png", "line 1.2 m/s, T=1.0"), ("consec_runline_T1.0.png", "line 2.8 m/s, T=1.0"),
        ("consec_circle_T1.0.png", "circle, T=1.0"), ("consec_bvh_walk_T1.0.png", "held-out walk re-synthesis, T=1.0")]
fig, axes = plt.subplots(len(rows), 1, figsize=(9.6, 1.45 * len(rows)), dpi=100)
for ax, (f, title) in zip(axes, rows):
    ax.imshow(Image.open(r / f).convert("RGB")); ax.set_title(title + " (frames 0.1 s apart)", fontsize=7, loc="left")
    ax.axis("off")
fig.text(0.01, 0.005, CREDIT, fontsize=6.5, color="0.35")
fig.subplots_adjust(left=0.005, right=0.995, top=0.97, bottom=0.03, hspace=0.25)
fig.savefig("/tmp/moglow_strips_rgb.png"); plt.close(fig)
Image.open("/tmp/moglow_strips_rgb.png").convert("RGB").quantize(colors=128).save("docs/img/moglow_strips.png",
                                                                                optimize=True)
for f in ("docs/img/moglow_nll_curve.png", "docs/img/moglow_frames.png", "docs/img/moglow_strips.png"):
    print(f, Path(f).stat().st_size // 1024, "KiB")
EOF
fi
