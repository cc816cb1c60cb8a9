"""Sampling speed of MoGlow on the CPU: one character and 100 in parallel, paper-size and tiny.

For each model (randomly initialised; speed does not depend on the weights) and batch size it
times ``model.generate`` frame by frame and prints frames per second, the real-time factor at
20 fps (frames/s ÷ 20: above 1 is faster than real time; for a batch, the number of characters
that could run live), the same per CPU second of this process (divided by the threads; on a
shared machine this is closer to what an idle one gives), and a reference measured in the same
run, because the machine may be shared and only ratios are meaningful:

- one character is memory-bound (every weight is read once per frame): the reference is the
  rate at which this process streams a weight-sized buffer (``tensor.sum``), turned into the
  frames/s a perfect implementation would reach;
- a batch is compute-bound: the reference is the fp32 ``torch.mm`` rate of a product the size
  of the batch's first LSTM layer, turned into frames/s via the model's matmul FLOPs per frame.

Variants: ``as built`` (eval mode, the model's default LSTM implementation), ``optimised``
(:func:`moglow.sampling.optimise_for_sampling`), and ``+ cond cache col-major`` (optimised, plus
the stacked condition weight that ``MoGlow`` caches stored column-major: the change to
``moglow/model.py`` this benchmark argues for; applied here to the cached tensor only).

Run::

    python benchmarks/sample_speed.py                      # both models, 1 and 100 characters, 1 thread
    python benchmarks/sample_speed.py --threads 1 2 --frames 60
"""
from __future__ import annotations

import argparse
import time

import torch

from moglow.model import MoGlow
from moglow.model_config import ModelConfig
from moglow.sampling import optimise_for_sampling

POSE_DIM, CONTROL_DIM, FPS = 61, 3, 20.0
MODELS = {
    "paper": ModelConfig(num_steps=16, hidden=512, num_layers=2, tau=10),
    "tiny": ModelConfig(num_steps=4, hidden=64, num_layers=1, tau=10),
}


def matmul_flops_per_frame(cfg: ModelConfig, pose_dim: int = POSE_DIM, control_dim: int = CONTROL_DIM) -> float:
    """Matrix-multiply FLOPs of one generated frame (2 per multiply-add), LSTM couplings."""
    n_id, n_tr = pose_dim // 2, pose_dim - pose_dim // 2
    h, g = cfg.hidden, 4 * cfg.hidden
    per = (n_id + cfg.cond_dim(pose_dim, control_dim)) * g  # first layer on [x1, cond]
    per += h * g * cfg.num_layers + h * g * (cfg.num_layers - 1)  # recurrent maps, upper input maps
    per += h * 2 * n_tr + pose_dim * pose_dim  # output layer, LU map
    return 2.0 * cfg.num_steps * per


def weight_bytes(model: MoGlow) -> int:
    return sum(p.numel() * p.element_size() for p in model.parameters())


def stream_rate(nbytes: int, repeats: int = 5) -> float:
    """Bytes per second at which this process reads a buffer of ``nbytes`` (best of ``repeats``)."""
    buf = torch.ones(max(1, nbytes // 4))
    buf.sum()
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        buf.sum()
        best = min(best, time.perf_counter() - t)
    return nbytes / best


def mm_rate(batch: int, cfg: ModelConfig, repeats: int = 5) -> float:
    """fp32 FLOP/s of a (batch, hidden) @ (hidden, 4 hidden) product, the bulk of a batched frame."""
    a, b = torch.randn(batch, cfg.hidden), torch.randn(cfg.hidden, 4 * cfg.hidden)
    n = max(1, int(2e8 // (2 * batch * cfg.hidden * 4 * cfg.hidden)))
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(n):
            torch.mm(a, b)
        best = min(best, (time.perf_counter() - t) / n)
    return 2.0 * batch * cfg.hidden * 4 * cfg.hidden / best


def column_major_cond_cache(model: MoGlow) -> None:
    """Store MoGlow's cached stacked condition weight column-major (what model.py could do itself)."""
    with torch.inference_mode():
        model._stacked_cond_weight()
    cache = getattr(model, "_cond_weight_cache", None)
    if cache is not None:
        key, w, b = cache
        model._cond_weight_cache = (key, w.t().contiguous().t(), b)


def time_generate(model: MoGlow, batch: int, frames: int) -> tuple[float, float]:
    """Frames per second (characters × frames / s) of ``model.generate``: per wall-clock second
    and per CPU second of this process (on a shared machine the second is closer to what an idle
    machine gives with one thread)."""
    g = torch.Generator().manual_seed(0)
    context = torch.zeros(batch, model.tau, POSE_DIM)
    control = torch.randn(batch, model.tau + frames + model.lookahead, CONTROL_DIM, generator=g)
    with torch.inference_mode():
        model.generate(context, control[:, : model.tau + 3], generator=g)  # warm-up, caches
        t, c = time.perf_counter(), time.process_time()
        model.generate(context, control, generator=g)
        wall, cpu = time.perf_counter() - t, time.process_time() - c
    return batch * frames / wall, batch * frames / max(cpu, 1e-9)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 100])
    parser.add_argument("--frames", type=int, default=40, help="frames timed for one character")
    parser.add_argument("--batch-frames", type=int, default=8, help="frames timed for a batch")
    parser.add_argument("--threads", nargs="+", type=int, default=[1], help="torch CPU threads to try")
    args = parser.parse_args()

    print(f"torch {torch.__version__}, pose {POSE_DIM} dims, control {CONTROL_DIM}, real time = {FPS:g} fps")
    for threads in args.threads:
        torch.set_num_threads(threads)
        for name in args.models:
            cfg = MODELS[name]
            torch.manual_seed(0)
            base = MoGlow(cfg, POSE_DIM, CONTROL_DIM).eval()
            torch.manual_seed(0)
            opt = optimise_for_sampling(MoGlow(cfg, POSE_DIM, CONTROL_DIM))
            torch.manual_seed(0)
            opt_cache = optimise_for_sampling(MoGlow(cfg, POSE_DIM, CONTROL_DIM))
            column_major_cond_cache(opt_cache)
            nbytes, flops = weight_bytes(base), matmul_flops_per_frame(cfg)
            print(f"\n== {name}: K={cfg.num_steps}, hidden {cfg.hidden}, {cfg.num_layers} LSTM layer(s), "
                  f"tau={cfg.tau}; "
                  f"{base.num_parameters() / 1e6:.2f} M parameters ({nbytes / 1e6:.0f} MB), "
                  f"{flops / 1e6:.0f} MFLOP per frame; {threads} thread(s)")
            for batch in args.batches:
                frames = args.frames if batch == 1 else args.batch_frames
                if batch == 1:
                    rate = stream_rate(nbytes)
                    ref = rate / nbytes
                    ref_text = f"memory floor {ref:.1f} frames/s (reads {rate / 1e9:.1f} GB/s)"
                else:
                    rate = mm_rate(batch, cfg)
                    ref = rate / flops
                    ref_text = f"matmul floor {ref:.0f} frames/s (mm {rate / 1e9:.1f} GFLOP/s)"
                print(f"  {batch} character(s), {frames} frames; {ref_text}")
                print(f"    {'variant':24s} {'frames/s':>9s}  {'real time':>9s}  {'of floor':>8s}   "
                      f"{'per CPU s':>9s}  {'real time':>9s}")
                for label, model in (("as built", base), ("optimised", opt), ("+ cond cache col-major", opt_cache)):
                    fps, fps_cpu = time_generate(model, batch, frames)
                    print(f"    {label:24s} {fps:9.1f}  {fps / FPS:8.2f}x  {fps / ref:8.2f}   {fps_cpu:9.1f}  "
                          f"{fps_cpu / FPS / threads:8.2f}x")


if __name__ == "__main__":
    main()
