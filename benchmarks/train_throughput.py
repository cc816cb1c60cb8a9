"""Training throughput of the paper-size MoGlow, as a fraction of this machine's matmul rate.

Prints training frames per second (forward + backward + Adam step), the GFLOP/s this
achieves measured against the model's own matrix-multiply FLOP count (2·m·n·k per product,
×3 for forward + backward), and the fp32 ``torch.mm`` rate of a model-sized product
measured in the same run, interleaved with the training steps (the machine may be shared,
so only the ratio is meaningful). ``--baseline`` also times the same flow built the
straightforward way (``torch.nn.LSTM`` reading ``[x1, cond]`` in every coupling).

Run::

    python benchmarks/train_throughput.py                       # batch 100 x 70 frames
    python benchmarks/train_throughput.py --batch 100 --frames 20 --steps 2 --baseline
"""
from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace

import torch
from torch import nn

from moglow.flows.actnorm import ActNorm
from moglow.flows.linear import LULinear
from moglow.flows.transforms import AffineTransform
from moglow.model import MoGlow
from moglow.model_config import ModelConfig


def matmul_flops_per_frame(cfg: ModelConfig, pose_dim: int, control_dim: int, num_params: int) -> float:
    """Forward matrix-multiply FLOPs per frame: 2·(in)·(out) for every linear map."""
    n_id = pose_dim // 2
    cond = cfg.cond_dim(pose_dim, control_dim)
    h = cfg.hidden
    gates = {"lstm": 4, "gru": 3, "mlp": 1}[cfg.net]
    per_step = 2 * pose_dim * pose_dim  # LU linear map
    per_step += 2 * (n_id + cond) * gates * h  # first layer reads [x1, cond]
    if cfg.net == "mlp":
        per_step += 2 * h * h * (cfg.num_layers - 1)
    else:
        per_step += 2 * h * gates * h * cfg.num_layers  # recurrent maps
        per_step += 2 * h * gates * h * (cfg.num_layers - 1)  # input maps of upper layers
    per_step += 2 * h * num_params  # output layer
    return cfg.num_steps * per_step


class NNLSTMFlow(nn.Module):
    """The same flow written the straightforward way: each coupling runs ``torch.nn.LSTM``
    on ``[x1, cond]``. Only for timing (same FLOPs, same maths)."""

    def __init__(self, cfg: ModelConfig, pose_dim: int, cond_dim: int):
        super().__init__()
        self.n_id = pose_dim // 2
        n_tr = pose_dim - self.n_id
        self.affine = AffineTransform(cfg.scale)
        self.steps = nn.ModuleList()
        for _ in range(cfg.num_steps):
            out = nn.Linear(cfg.hidden, 2 * n_tr)
            nn.init.zeros_(out.weight), nn.init.zeros_(out.bias)
            self.steps.append(nn.ModuleList([
                ActNorm(pose_dim), LULinear(pose_dim),
                nn.LSTM(self.n_id + cond_dim, cfg.hidden, cfg.num_layers, batch_first=True), out]))

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        logdet = 0.0
        for actnorm, linear, lstm, out in self.steps:
            x, ld1 = actnorm(x)
            x, ld2 = linear(x)
            x1, x2 = x[..., : self.n_id], x[..., self.n_id:]
            h, _ = lstm(torch.cat([x1, cond], -1))
            x2, ld3 = self.affine(x2, out(h))
            x = torch.cat([x1, x2], -1)
            logdet = logdet + ld1 + ld2 + ld3
        return -0.5 * x.pow(2).sum(-1) + logdet  # log-density up to a constant


class Clock:
    """Wall time and this process's CPU time of a block (CPU time is what counts on a
    machine shared with other jobs: it excludes the time the OS gave to someone else)."""

    def __enter__(self):
        self.wall0, self.cpu0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.wall0
        self.cpu = time.process_time() - self.cpu0


def reference_rate(a: torch.Tensor, b: torch.Tensor, repeats: int = 3) -> tuple[float, float]:
    """fp32 GFLOP/s of ``a @ b`` by wall time and by CPU time per thread (best of ``repeats``)."""
    flops = 2 * a.shape[0] * a.shape[1] * b.shape[1]
    wall = cpu = float("inf")
    for _ in range(repeats):
        with Clock() as c:
            torch.mm(a, b)
        wall, cpu = min(wall, c.wall), min(cpu, c.cpu / torch.get_num_threads())
    return flops / wall / 1e9, flops / cpu / 1e9


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--frames", type=int, default=70, help="target frames per sequence")
    p.add_argument("--steps", type=int, default=2, help="timed training steps")
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--num-steps", type=int, default=16, help="K flow steps")
    p.add_argument("--hidden", type=int, default=512)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--tau", type=int, default=10)
    p.add_argument("--pose-dim", type=int, default=63)
    p.add_argument("--control-dim", type=int, default=3)
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads for the model and the reference alike (default 1: on a shared, "
                        "oversubscribed machine OpenMP barriers make multi-threaded timings meaningless)")
    p.add_argument("--impls", default="fused,stepwise", help="comma-separated lstm_impl values to time")
    p.add_argument("--baseline", action="store_true",
                   help="also time the flow written with torch.nn.LSTM modules reading [x1, cond]")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    impls = [i for i in args.impls.split(",") if i]
    D, C, B, T = args.pose_dim, args.control_dim, args.batch, args.frames
    cfg = ModelConfig(num_steps=args.num_steps, hidden=args.hidden, num_layers=args.layers, tau=args.tau)
    batch = {"poses": torch.randn(B, cfg.tau + T, D), "control": torch.randn(B, cfg.tau + T, C),
             "keep": torch.rand(B, T, cfg.tau) > 0.1}

    def make_step(module, loss_fn):
        opt = torch.optim.Adam(module.parameters(), lr=1e-4)

        def step():
            loss = loss_fn()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        return step

    rows = []
    for impl in impls:
        model = MoGlow(replace(cfg, lstm_impl=impl), D, C)
        rows.append((f"MoGlow, lstm_impl={impl!r}", make_step(model, lambda m=model: -m.log_prob(batch).mean())))
    num_params_out = model.couplings()[0].net.out_features
    flops_step = 3 * matmul_flops_per_frame(cfg, D, C, num_params_out) * B * T
    if args.baseline:
        base = NNLSTMFlow(cfg, D, model.cond_dim)
        cond = model.condition(batch["poses"], batch["control"], batch["keep"]).detach()
        x = batch["poses"][:, cfg.tau:]
        rows.append(("torch.nn.LSTM modules on [x1, cond] (straightforward formulation)",
                     make_step(base, lambda: -base(x, cond).mean())))
    # reference product shaped like the model's big ones: (frames x ~cond) @ (~cond x 4H)
    ref_a = torch.randn(B * T, 1100)
    ref_b = torch.randn(1100, 4 * cfg.hidden)

    print(f"MoGlow K={cfg.num_steps} hidden={cfg.hidden} layers={cfg.num_layers} tau={cfg.tau} "
          f"pose_dim={D} control_dim={C} cond_dim={model.cond_dim} params={model.num_parameters():,}")
    print(f"batch {B} x {T} frames ({B * T} frames/step), torch threads {torch.get_num_threads()}, "
          f"{args.steps} timed steps after {args.warmup} warm-up")
    if (B, T) != (100, 70):
        print(f"NOTE: reduced from the paper's batch 100 x 70 frames to {B} x {T} for this machine")
    print(f"model matmul FLOPs per training step (fwd+bwd = 3x fwd): {flops_step / 1e9:.1f} GFLOP")
    print(f"reference: torch.mm ({B * T} x 1100) @ (1100 x {4 * cfg.hidden}), fp32, interleaved with the steps")

    threads = torch.get_num_threads()
    for _, fn in rows:
        for _ in range(args.warmup):
            fn()
    # Interleave: reference product, training step, reference product, for each implementation in turn.
    results: dict[str, list[tuple[Clock, float, float]]] = {name: [] for name, _ in rows}
    for _ in range(args.steps):
        for name, fn in rows:
            ref_before = reference_rate(ref_a, ref_b)
            with Clock() as c:
                fn()
            ref_after = reference_rate(ref_a, ref_b)
            results[name].append((c, *[(x + y) / 2 for x, y in zip(ref_before, ref_after)]))
    for name, res in results.items():
        wall = statistics.median(c.wall for c, _, _ in res)
        cpu = statistics.median(c.cpu / threads for c, _, _ in res)
        ratio_cpu = statistics.median(flops_step / (c.cpu / threads) / 1e9 / r for c, _, r in res)
        ratio_wall = statistics.median(flops_step / c.wall / 1e9 / r for c, r, _ in res)
        print(f"\n[{name}]")
        print(f"  step time        {wall:8.2f} s wall, {cpu:.2f} s CPU per thread "
              f"(wall: {', '.join(f'{c.wall:.2f}' for c, _, _ in res)})")
        print(f"  training speed   {B * T / wall:8.1f} frames/s wall, {B * T / cpu:.1f} frames/s of CPU time")
        print(f"  achieved         {flops_step / wall / 1e9:8.1f} GFLOP/s wall, "
              f"{flops_step / cpu / 1e9:.1f} by CPU time")
        print(f"  reference mm     {statistics.median(r for _, r, _ in res):8.1f} GFLOP/s wall, "
              f"{statistics.median(r for _, _, r in res):.1f} by CPU time (measured before and after each step)")
        print(f"  RATIO            {ratio_cpu:8.1%} of the matmul rate by CPU time "
              f"({ratio_wall:.1%} by wall time; medians of per-step ratios)")

if __name__ == "__main__":
    main()
