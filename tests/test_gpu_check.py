"""The prepared accelerator check runs end to end on the CPU (``--device cpu --quick``), every part of it,
so that a session lent a GPU can run it as it is."""
from __future__ import annotations

import json
import os
import subprocess

from conftest import BANDAI_NAMCO, REPO_ROOT, require_path


def test_gpu_check_runs_every_part_on_the_cpu(tmp_path):
    require_path(BANDAI_NAMCO / "dataset-2", "Bandai Namco mocap (dataset-2)")
    summary = tmp_path / "gpu_check.json"
    proc = subprocess.run(["bash", "benchmarks/gpu_check.sh", "--device", "cpu", "--quick"], cwd=REPO_ROOT,
                          env={**os.environ, "GPU_CHECK_JSON": str(summary), "OMP_NUM_THREADS": "1"},
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    result = json.loads(summary.read_text())
    assert result["failed"] == [] and result["quick"] is True and result["device"].startswith("CPU")
    for key in ("matmul_float32_tflops", "train_fp32_frames_per_s", "train_fp32_share_of_matmul",
                "sample_1_frames_per_s", "sample_100_frames_per_s", "ddp_seconds", "recipe_steps_per_s"):
        assert result[key] > 0, key
    assert 0 < result["train_fp32_share_of_matmul"] < 1.5  # a FLOP count that is off by orders fails here
    assert result["ddp_processes"] == 2
