"""Training-step time of McMoGlow against MoGlow at paper size, measured interleaved.

Paper size: K = 16 flow steps, 2-layer LSTM couplings of 512 units, tau = 10, pose dim 63,
control dim 3. One training step = ``log_prob`` forward, backward and an Adam update, on
random normalised data (the timing does not depend on the values). The batch and window
are reduced for the CPU (default 8 windows of 35 frames instead of 100 × 70); say so when
quoting the numbers. The models run in turn (MoGlow, McMoGlow ldu, McMoGlow lower, MoGlow,
...) so that load from other processes hits all of them alike; the figure to quote is the
ratio of medians.

``--micro`` also times the implementation choices of the matrix transform alone (forward +
backward, and the inverse) at d = 32: the folded-rectangle product of
:mod:`mcmoglow.triangle` with the row clamp applied to the product vector (the one used);
batched matmul, einsum or broadcast multiply-sum with clamped ``d × d`` triangles;
gather/index_add on the packed entries (no matrices formed); and forming ``A = L D U`` first; inverse by two triangular solves vs a
general solve with ``A``, and the sampling inverse (``inverse_sample``, what the frame decoder
runs) against ``inverse`` for one frame of one character (CPU µs per call).

    OMP_NUM_THREADS=2 python benchmarks/mcmoglow_step_time.py                 # ~2 min on 2 cores
    OMP_NUM_THREADS=2 python benchmarks/mcmoglow_step_time.py --micro --rounds 5
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from mcmoglow.transform import MatrixAffineTransform, num_offdiag
from moglow.model import MoGlow
from moglow.model_config import ModelConfig


def make_model(coupling: str, variant: str, pose_dim: int, control_dim: int, args) -> MoGlow:
    cfg = ModelConfig(coupling=coupling, matrix_variant=variant, num_steps=args.steps, hidden=args.hidden,
                      num_layers=args.layers, tau=args.tau)
    torch.manual_seed(0)
    return MoGlow(cfg, pose_dim, control_dim)


def step_timer(model: MoGlow, batch: dict) -> callable:
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)

    def step() -> float:
        t0 = time.perf_counter()
        loss = -model.log_prob(batch).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return time.perf_counter() - t0

    return step


def bench_models(args) -> None:
    D, C = args.pose_dim, 3
    g = torch.Generator().manual_seed(0)
    batch = {"poses": torch.randn(args.batch, args.tau + args.seq_len, D, generator=g),
             "control": torch.randn(args.batch, args.tau + args.seq_len, C, generator=g)}
    names = ["MoGlow (affine)", "McMoGlow (ldu)", "McMoGlow (lower)"]
    models = [make_model("affine", "ldu", D, C, args), make_model("matrix", "ldu", D, C, args),
              make_model("matrix", "lower", D, C, args)]
    steps = [step_timer(m, batch) for m in models]
    for s in steps:  # warm-up (ActNorm init, allocator)
        s()
    times: list[list[float]] = [[] for _ in models]
    for _ in range(args.rounds):
        for i, s in enumerate(steps):
            times[i].append(s())
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; K={args.steps}, hidden={args.hidden}, "
          f"{args.layers} LSTM layers, tau={args.tau}, pose dim {D}; batch {args.batch} x {args.seq_len} frames "
          f"(paper: 100 x 70, reduced for CPU); {args.rounds} interleaved rounds")
    ref = statistics.median(times[0])
    for name, m, t in zip(names, models, times):
        med = statistics.median(t)
        paired = statistics.median(a / b for a, b in zip(t, times[0]))  # same round: same machine load
        print(f"  {name:18s} {m.num_parameters():>11,d} params   median {med * 1e3:8.1f} ms/step   "
              f"(min {min(t) * 1e3:7.1f})   ratio to MoGlow {med / ref:5.3f} (median of per-round ratios "
              f"{paired:5.3f})")


# ---- micro benchmark of the transform's implementation -----------------------------------------
def _tri_matmul(n: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    return (n @ v.unsqueeze(-1)).squeeze(-1)


def _tri_einsum(n: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    return torch.einsum("...ij,...j->...i", n, v)


def _tri_mulsum(n: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    return (n * v.unsqueeze(-2)).sum(-1)


def bench_micro(args) -> None:
    d, N = 32, args.micro_frames
    t = MatrixAffineTransform("ldu")
    g = torch.Generator().manual_seed(0)
    params0 = 0.1 * torch.randn(N, t.num_params(d), generator=g)
    x0 = torch.randn(N, d, generator=g)
    m = num_offdiag(d)
    tri = t.triangle(d)
    lo_r, lo_c = tri.rows, tri.cols  # d x d position of each packed entry
    up_r, up_c = d - 1 - tri.rows, d - 1 - tri.cols

    def via_matvec(matvec):  # clamped d x d triangles from factors()
        def f(x, p):
            b, s, log_s, n_lo, n_up = t.factors(p, d)
            v = x + b
            v = v + matvec(n_up, v)
            v = v * s
            return v + matvec(n_lo, v), log_s.sum(-1)
        return f

    def via_product(x, p):
        a = t.matrix(p, d)
        return _tri_matmul(a, x + p[:, :d]), t.factors(p, d)[2].sum(-1)

    def via_gather(x, p):  # packed entries, no matrices at all (row sums with index_add)
        b, s, log_s = t.diagonal.shift_logscale(p[:, : 2 * d], d)

        def tri(raw, rows, cols, v):
            r = raw.new_zeros(N, d).index_add(-1, rows, raw.abs())
            r_safe = r.clamp_min(1e-12)
            raw = raw * (torch.tanh(r_safe) / r_safe).index_select(-1, rows)
            return v + v.new_zeros(N, d).index_add(-1, rows, raw * v.index_select(-1, cols))

        v = tri(p[:, 2 * d + m:], up_r, up_c, x + b)
        return tri(p[:, 2 * d: 2 * d + m], lo_r, lo_c, v * s), log_s.sum(-1)

    used = "folded rectangle (used)"
    variants = {used: t.forward,
                "d x d clamped, matmul": via_matvec(_tri_matmul), "d x d clamped, einsum": via_matvec(_tri_einsum),
                "d x d clamped, mul-sum": via_matvec(_tri_mulsum), "packed, gather/index_add": via_gather,
                "form A = LDU, matmul": via_product}
    ref_y = t.forward(x0, params0)[0]

    def time_fwd_bwd(f) -> float:
        p, x = params0.clone().requires_grad_(), x0.clone().requires_grad_()
        t0 = time.perf_counter()
        y, ld = f(x, p)
        (y.square().sum() - ld.sum()).backward()
        return time.perf_counter() - t0

    def inv_triangular(y, p):
        return t.inverse(y, p)[0]

    def inv_general(y, p):
        a = t.matrix(p, d)
        return torch.linalg.solve(a, y) - p[:, :d]

    inverses = {"2 triangular solves (used)": inv_triangular, "general solve with A": inv_general,
                "inverse_sample (sampling: no log-det)": t.inverse_sample}
    with torch.no_grad():
        for name, f in variants.items():
            assert torch.allclose(f(x0, params0)[0], ref_y, atol=1e-4), name
        for f in inverses.values():
            assert torch.allclose(f(ref_y, params0), x0, atol=1e-3)
    fb = {k: [] for k in variants}
    inv = {k: [] for k in inverses}
    for _ in range(args.rounds * 4):
        for k, f in variants.items():
            fb[k].append(time_fwd_bwd(f))
        with torch.no_grad():
            for k, f in inverses.items():
                t0 = time.perf_counter()
                f(ref_y, params0)
                inv[k].append(time.perf_counter() - t0)
    print(f"\nmicro: matrix transform (ldu), d = {d}, {N} frames, float32, median of {args.rounds * 4}")
    ref = statistics.median(fb[used])
    for k, v in fb.items():
        print(f"  forward+backward  {k:34s} {statistics.median(v) * 1e3:8.2f} ms   ratio {statistics.median(v) / ref:5.2f}")
    ref = statistics.median(inv["2 triangular solves (used)"])
    for k, v in inv.items():
        print(f"  inverse           {k:34s} {statistics.median(v) * 1e3:8.2f} ms   ratio {statistics.median(v) / ref:5.2f}")
    # one frame of one character, as the frame decoder calls it: per-call cost is dispatch, not arithmetic
    y1, p1 = ref_y[:1], params0[:1]
    one = {"inverse()[0]": inv_triangular, "inverse_sample": t.inverse_sample}
    per_call: dict[str, list[float]] = {k: [] for k in one}
    with torch.inference_mode():
        for _ in range(args.rounds * 4):
            for k, f in one.items():
                t0 = time.process_time()
                for _ in range(200):
                    f(y1, p1)
                per_call[k].append((time.process_time() - t0) / 200)
    ref = statistics.median(per_call["inverse()[0]"])
    for k, v in per_call.items():
        print(f"  one frame, B = 1  {k:34s} {statistics.median(v) * 1e6:8.1f} µs (CPU)  ratio {statistics.median(v) / ref:5.2f}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch", type=int, default=8, help="windows per batch (paper: 100)")
    p.add_argument("--seq-len", type=int, default=35, help="target frames per window (paper: 70)")
    p.add_argument("--rounds", type=int, default=10, help="interleaved timed steps per model")
    p.add_argument("--steps", type=int, default=16, help="K flow steps")
    p.add_argument("--hidden", type=int, default=512)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--tau", type=int, default=10)
    p.add_argument("--pose-dim", type=int, default=63)
    p.add_argument("--micro", action="store_true", help="also time the transform's implementation choices")
    p.add_argument("--micro-frames", type=int, default=8 * 35, help="frames in the micro benchmark")
    p.add_argument("--skip-models", action="store_true", help="only the micro benchmark")
    args = p.parse_args()
    if not args.skip_models:
        bench_models(args)
    if args.micro:
        bench_micro(args)


if __name__ == "__main__":
    main()
