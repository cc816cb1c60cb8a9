"""One prepared check of the package on an accelerator: the figures a GPU session should record.

Runs, on ``--device`` (``auto``: CUDA when present), each part in its own try block so one
failure does not hide the others, and prints one line per figure plus a JSON summary:

1. ``matmul``: the device's matrix-multiply rate, fp32 and (CUDA) bf16, on a product shaped like
   the model's largest ones: the reference the training figures are divided by.
2. ``train``: paper-size MoGlow (K=16, hidden 512, 2 LSTM layers, tau=10, batch 100 x 70 frames)
   training steps (forward + backward + Adam): frames/s and the share of the matmul rate, in fp32,
   bf16 autocast (CUDA) and ``torch.compile``.
3. ``sample``: frames/s of the streaming sampler for 1 and 100 characters.
4. ``ddp``: ``torchrun`` with one process per GPU (two gloo processes on the CPU) training
   ``tiny_cpu`` for a few steps on procedural takes: the multi-process path runs end to end.
5. ``recipe``: a short training of the default shipped model's recipe (``configs/bandai2_small.yaml``
   with McMoGlow couplings) on Bandai Namco dataset-2 (``../shared/mocap``), steps/s.

``--quick`` shrinks every part (a tiny model, a few steps, compile skipped on the CPU) so the
whole check runs in well under a minute on a CPU: CI runs ``--device cpu --quick`` to keep the
script working; a GPU session runs ``bash benchmarks/gpu_check.sh`` (at most 8 minutes).

Run::

    python benchmarks/gpu_check.py                       # on the GPU, full sizes
    python benchmarks/gpu_check.py --device cpu --quick  # what CI runs
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
MOCAP = REPO.parent / "shared" / "mocap" / "bandai-namco" / "dataset-2"


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(fn: Callable[[], object], device: torch.device, repeats: int) -> float:
    """Best wall seconds of ``fn`` over ``repeats`` calls (after one warm-up call)."""
    fn()
    _sync(device)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        _sync(device)
        best = min(best, time.perf_counter() - t0)
    return best


def check_matmul(device: torch.device, quick: bool) -> dict:
    """TFLOP/s of ``(frames x 1100) @ (1100 x 4H)`` in fp32 and (CUDA) bf16."""
    m, k, n = (700, 1100, 512) if quick else (7000, 1100, 2048)
    out = {}
    for dtype in [torch.float32] + ([torch.bfloat16] if device.type == "cuda" else []):
        a, b = torch.randn(m, k, device=device, dtype=dtype), torch.randn(k, n, device=device, dtype=dtype)
        seconds = _timed(lambda a=a, b=b: torch.mm(a, b), device, 3 if quick else 20)
        out[str(dtype).replace("torch.", "")] = 2 * m * k * n / seconds / 1e12
    return {f"matmul_{k}_tflops": v for k, v in out.items()}


def check_train(device: torch.device, quick: bool) -> dict:
    """Training frames/s of the paper-size model and its share of the matmul rate."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    from train_throughput import matmul_flops_per_frame

    from moglow.model import MoGlow
    from moglow.model_config import ModelConfig

    D, C = 63, 3
    cfg = (ModelConfig(num_steps=2, hidden=32, num_layers=1, tau=10) if quick else
           ModelConfig(num_steps=16, hidden=512, num_layers=2, tau=10))
    B, T = (8, 10) if quick else (100, 70)
    torch.manual_seed(0)
    batch = {"poses": torch.randn(B, cfg.tau + T, D, device=device),
             "control": torch.randn(B, cfg.tau + T, C, device=device),
             "keep": torch.rand(B, T, cfg.tau, device=device) > 0.1}
    rates = check_matmul(device, quick)
    out: dict = {"train_batch": f"{B}x{T}", "train_params": None}
    modes = ["fp32"] + (["bf16"] if device.type == "cuda" else []) + ([] if quick and device.type == "cpu"
                                                                       else ["compile"])
    for mode in modes:
        model = MoGlow(cfg, D, C).to(device)
        out["train_params"] = model.num_parameters()
        flops = 3 * matmul_flops_per_frame(cfg, D, C, model.couplings()[0].net.out_features) * B * T
        seconds = _timed(_training_step(model, batch, mode, device), device, 2 if quick else 5)
        ref = rates.get("matmul_bfloat16_tflops" if mode == "bf16" else "matmul_float32_tflops")
        out[f"train_{mode}_frames_per_s"] = B * T / seconds
        out[f"train_{mode}_share_of_matmul"] = flops / seconds / 1e12 / ref
    return out


def _training_step(model: torch.nn.Module, batch: dict, mode: str, device: torch.device) -> Callable[[], None]:
    """One Adam step on ``batch`` in ``mode`` (``fp32``, ``bf16`` autocast or ``compile``)."""
    def loss_of() -> torch.Tensor:
        return -model.log_prob(batch).mean()

    loss_fn = torch.compile(loss_of) if mode == "compile" else loss_of
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)

    def step() -> None:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=mode == "bf16"):
            loss = loss_fn()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return step


def _stream(streamer, n: int, tau: int, dims: tuple[int, int], frames: int, device: torch.device) -> None:
    """``frames`` frames of ``n`` characters from a fresh start (zero context and control)."""
    D, C = dims
    with torch.inference_mode():
        state = streamer.start(torch.zeros(n, tau, D, device=device), torch.zeros(n, tau, C, device=device))
        for _ in range(frames):
            _, state = streamer.step(torch.zeros(n, C, device=device), state)


def check_sample(device: torch.device, quick: bool) -> dict:
    """Streaming sampler frames/s (frames x characters per second) for 1 and 100 characters."""
    from moglow.model import MoGlow
    from moglow.model_config import ModelConfig
    from moglow.streaming import MotionStreamer

    D, C = 63, 3
    cfg = ModelConfig(num_steps=2, hidden=32, tau=10) if quick else ModelConfig(num_steps=16, hidden=512,
                                                                                   num_layers=2, tau=10)
    model = MoGlow(cfg, D, C).to(device).eval()
    out = {}
    frames = 5 if quick else 50
    for n in (1, 100):
        streamer = MotionStreamer(model, temperature=1.0, generator=torch.Generator(device).manual_seed(0))
        seconds = _timed(lambda s=streamer, n=n: _stream(s, n, cfg.tau, (D, C), frames, device), device,
                         1 if quick else 3)
        out[f"sample_{n}_frames_per_s"] = n * frames / seconds
    return out


def _moglow(*args: str, env: dict | None = None, launcher: list[str] | None = None, timeout: int = 600) -> float:
    """Run ``moglow ARGS`` (under ``launcher``, e.g. torchrun, if given); wall seconds; raises on failure."""
    cmd = (launcher or [sys.executable]) + ["-m", "moglow", *args]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, env={**os.environ, **(env or {})}, capture_output=True, text=True,
                          timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stderr[-2000:]}")
    return time.perf_counter() - t0


def check_ddp(device: torch.device, quick: bool, work: Path) -> dict:
    """torchrun, one process per GPU (two gloo processes on a CPU), a few steps of tiny_cpu."""
    gpus = torch.cuda.device_count() if device.type == "cuda" else 0
    nproc = max(gpus, 1) if device.type == "cuda" else 2
    data = work / "takes"
    _moglow("generate-data", "--out", str(data), "--takes", "4", "--seconds", "6", "--no-progress")
    steps = 4 if quick else 50
    seconds = _moglow("train", "--config", "tiny_cpu", "--data", str(data), "--out", str(work / "ddp"),
                      "--device", device.type, "--no-progress", "--set", f"train.steps={steps}",
                      "train.val_every=1000", f"train.checkpoint_every={steps}", "train.plot_every=null",
                      "train.tensorboard=false", "train.batch_size=8",
                      launcher=[sys.executable, "-m", "torch.distributed.run", "--standalone",
                                f"--nproc_per_node={nproc}"], env={"OMP_NUM_THREADS": "1"})
    return {"ddp_processes": nproc, "ddp_steps": steps, "ddp_seconds": seconds}


def check_recipe(device: torch.device, quick: bool, work: Path) -> dict:
    """A short training of the default shipped model's recipe (configs/bandai2_small.yaml with McMoGlow
    couplings: pretrained:bandai2_mcmoglow) on dataset-2: steps/s on this device."""
    if not MOCAP.is_dir():
        raise FileNotFoundError(f"Bandai Namco dataset-2 not found at {MOCAP}")
    steps = 2 if quick else 200
    extra = ["--set", "model.coupling=matrix", "model.matrix_variant=ldu", f"train.steps={steps}", "train.val_every=1000", f"train.checkpoint_every={steps}",
             "train.plot_every=null", "train.tensorboard=false"]
    if quick:  # a handful of files: the recipe's code path, not its cost
        extra += ["data.split.val_fraction=0.3", "data.split.test_fraction=0.3"]
        data = work / "recipe_takes"
        data.mkdir()
        for f in sorted(MOCAP.glob("*_walk_normal_*.bvh"))[:4]:
            shutil.copy(f, data)
    else:
        data = MOCAP
    seconds = _moglow("train", "--config", "bandai2_small", "--data", str(data), "--out", str(work / "recipe"),
                      "--device", device.type, "--no-progress", *extra, timeout=900)
    return {"recipe_steps": steps, "recipe_seconds": seconds, "recipe_steps_per_s": steps / seconds}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, cuda:N")
    p.add_argument("--quick", action="store_true", help="tiny sizes: checks that every part runs (CI)")
    p.add_argument("--parts", nargs="+", default=["matmul", "train", "sample", "ddp", "recipe"])
    p.add_argument("--json", type=Path, default=None, help="also write the summary here")
    args = p.parse_args(argv)
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          ("cpu" if args.device == "auto" else args.device))
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU ({os.cpu_count()} cores)"
    summary: dict = {"device": name, "torch": torch.__version__, "quick": args.quick,
                     "date": time.strftime("%Y-%m-%d %H:%M"), "failed": []}
    print(f"gpu_check on {name}, torch {torch.__version__}{' (quick)' if args.quick else ''}", flush=True)
    with tempfile.TemporaryDirectory(prefix="gpu_check_") as tmp:
        parts = {"matmul": lambda: check_matmul(device, args.quick), "train": lambda: check_train(device, args.quick),
                 "sample": lambda: check_sample(device, args.quick),
                 "ddp": lambda: check_ddp(device, args.quick, Path(tmp)),
                 "recipe": lambda: check_recipe(device, args.quick, Path(tmp))}
        for part in args.parts:
            t0 = time.perf_counter()
            try:
                result = parts[part]()
            except Exception:  # noqa: BLE001 - one failed part must not hide the others' figures
                summary["failed"].append(part)
                print(f"[{part}] FAILED\n{traceback.format_exc()}", flush=True)
                continue
            summary.update(result)
            figures = ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in result.items())
            print(f"[{part}] {figures} ({time.perf_counter() - t0:.0f} s)", flush=True)
    print(json.dumps(summary, indent=1))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=1))
    return 1 if summary["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
