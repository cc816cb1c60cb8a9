#!/usr/bin/env bash
# The four evaluations of experiments/heldout_style.py for a model trained without the feminine
# takes (outputs/style_split/nofem; docs/results_moglow.md, "A style held out of training"): its own
# test split (in-style) and every feminine take (held-out), walks and runs, 4 samples each.
#
#   bash experiments/heldout_style.sh runs/mc_nofem_sd outputs/mc_nofem_sd     # ~6 min on one core
set -euo pipefail
CK=$1
O=$2
FEM=${FEM:-outputs/style_split/fem}
mkdir -p "$O"
for gait in walk run; do
  python -m moglow evaluate --checkpoint "$CK" --split test --pattern "*_${gait}_*" --num-samples 4 \
      --threads 1 --out "$O/in_${gait}s" --no-progress --force
  python -m moglow evaluate --checkpoint "$CK" --data "$FEM" --pattern "*_${gait}_*" --num-samples 4 \
      --threads 1 --out "$O/fem_${gait}s" --no-progress --force
done
