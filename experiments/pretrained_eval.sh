#!/usr/bin/env bash
# The numbers of the shipped models' cards (moglow/pretrained/NAME.md) and of
# docs/results_moglow.md: `moglow evaluate --split test` on the held-out walks and runs (mocap row,
# raw model row, what-the-user-gets row), and standing still on a stop-and-go path. From the
# repository root, with ../shared/mocap/bandai-namco (or DATA=... for another copy of dataset-2):
#
#   bash experiments/pretrained_eval.sh              # CK=runs/x bash ... for another checkpoint
#                                                    # T=0.6 bash ... at another sampling temperature
#                                                    # (default: the model's own, 1.0 unless it names one)
#
# ~10 min on 2 CPU cores.
set -euo pipefail
CK=${CK:-pretrained:bandai2_mcmoglow}
O=${O:-outputs/pretrained_eval}
T_ARG=${T:+--temperature $T}
DATA_ARG=${DATA:+--data $DATA}
mkdir -p "$O"
for what in walk run; do
  python -m moglow evaluate --checkpoint "$CK" --split test $DATA_ARG --pattern "*_${what}_*.bvh" --num-samples 4 \
      $T_ARG --out "$O/test_${what}s" --no-progress --force
done
python experiments/stop_and_go.py "$CK" --num 8 --style normal $T_ARG | tee "$O/stop_and_go.json"
