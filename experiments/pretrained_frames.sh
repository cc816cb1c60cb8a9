#!/usr/bin/env bash
# Rendered frames of a model (default: the shipped pretrained:bandai2_mcmoglow) for docs/img/ (IMG=...):
# straight line, circle, stop-and-go, and two styles along the same line; one sample each at the default
# temperature (the model's own: 1.0 unless it names one), what the user gets (feet cleaned up). From the repository root:
#
#   bash experiments/pretrained_frames.sh            # CK=runs/x bash ... for another checkpoint
#
# Needs ffmpeg and an off-screen OpenGL (EGL or OSMesa). ~5 min on 2 CPU cores.
set -euo pipefail
CK=${CK:-pretrained:bandai2_mcmoglow}
O=${O:-outputs/pretrained_frames}
IMG=${IMG:-docs/img/pretrained_strips_mcmoglow.png}   # bandai2_small's: docs/img/pretrained_strips.png
mkdir -p "$O"
m() { python -m moglow "$@"; }
# name | path | extra sample options | first rendered frame (20 fps)
SETS=(
  "line|line:speed=1.2|--style normal|40"
  "circle|circle:radius=3,speed=1.2|--style normal|40"
  "stopgo|stop-and-go:speed=1.2,period=4|--style normal|30"
  "feminine|line:speed=1.2|--style feminine|40"
  "masculine|line:speed=1.2|--style masculine|40"
)
for s in "${SETS[@]}"; do
  IFS='|' read -r n p extra first <<< "$s"
  m sample --checkpoint "$CK" --path "$p" --num 1 --seconds 8 --seed 0 $extra --out "$O/$n" --no-progress > "$O/$n.log"
  m render "$O/$n/samples.npz" --out "$O/$n.mp4" --start "$first" --frames 64 --height 400 --width 360 --no-progress
  # 8 frames 0.4 s apart over the 3.2 s rendered
  ffmpeg -loglevel error -y -i "$O/$n.mp4" -vf "fps=2.5,scale=180:200,tile=8x1" -frames:v 1 "$O/strip_$n.png"
done
python - "$O" "$CK" "$IMG" <<'PY'
import sys
from pathlib import Path
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
from PIL import Image
o = Path(sys.argv[1])
rows = [("line", "straight line 1.2 m/s, style normal (2.0-5.2 s)"),
        ("circle", "circle r=3 m, 1.2 m/s, style normal (2.0-5.2 s)"),
        ("stopgo", "stop-and-go 1.2 m/s, 2 s walk / 2 s stand (1.5-4.7 s: walking, stopping at 2 s, standing)"),
        ("feminine", "straight line 1.2 m/s, style feminine (same seed)"),
        ("masculine", "straight line 1.2 m/s, style masculine (same seed)")]
fig, axes = plt.subplots(len(rows), 1, figsize=(9.6, 1.5 * len(rows)), dpi=100)
for ax, (n, title) in zip(axes, rows):
    ax.imshow(Image.open(o / f"strip_{n}.png").convert("RGB")); ax.set_title(title + ", frames 0.4 s apart",
                                                                           fontsize=7, loc="left")
    ax.axis("off")
fig.text(0.01, 0.004, sys.argv[2] + ", T=1.0, feet cleaned up. Trained on the Bandai Namco Research Motion "
         "Dataset (CC BY-NC 4.0, (c) Bandai Namco Research Inc.)", fontsize=6.5, color="0.35")
fig.subplots_adjust(left=0.005, right=0.995, top=0.97, bottom=0.03, hspace=0.3)
fig.savefig("/tmp/pretrained_strips_rgb.png"); plt.close(fig)
Image.open("/tmp/pretrained_strips_rgb.png").convert("RGB").quantize(colors=128).save(sys.argv[3], optimize=True)
print(sys.argv[3], Path(sys.argv[3]).stat().st_size // 1024, "KiB")
PY
