#!/usr/bin/env bash
# The one prepared accelerator check (issue 14, item 6): at most 8 minutes on one CUDA GPU.
#   on a lent GPU machine:   bash benchmarks/gpu_check.sh            (figures -> gpu_check.json)
#   on a CPU (what CI runs): bash benchmarks/gpu_check.sh --device cpu --quick
# Parts and figures: benchmarks/gpu_check.py. Record the printed figures with the card's name.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! python -c "import moglow.cli" 2>/dev/null; then
    # a bare machine: the package and its core dependencies, keeping the torch (CUDA build) it has
    python -m pip install -q --root-user-action=ignore -e . >/dev/null
fi
exec timeout 480 python benchmarks/gpu_check.py --json "${GPU_CHECK_JSON:-gpu_check.json}" "$@"
