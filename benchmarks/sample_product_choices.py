"""The product layouts weighed for the paper-size frame decoder (docs/results_moglow.md, "Sampling speed
against the floors"), timed interleaved on one thread at the real shapes (K = 16 couplings, 643 condition
features, 512 LSTM units, 30 x1 features), random weights:

- one character: the condition's and h's rows of every coupling as 16 batched blocks
  (``baddbmm``) vs the condition's rows as one ``(1, 643) x (643, 32768)`` product (what
  ``moglow/few_rows.py`` does); GB/s, and the ratio to one thread's ``tensor.sum`` of as many bytes;
- 100 characters: per coupling ``(100, 1185) x (1185, 2048)`` (what the batch path does) vs the
  condition's product for all couplings at once, weights stored ``(in, out)`` vs ``(out, in)``,
  and MKL's packed-weight product (``torch.ops.mkl._mkl_linear``); GFLOP per CPU second.

Each figure: median over ``--rounds`` interleaved rounds, each the best of 3 CPU-time runs::

    python benchmarks/sample_product_choices.py --rounds 8
"""
from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

K, C, H, N_ID = 16, 643, 512, 30
G = 4 * H


def best_cpu(f: Callable[[], object], n: int = 3) -> float:
    f()
    best = float("inf")
    for _ in range(n):
        t = time.process_time()
        f()
        best = min(best, time.process_time() - t)
    return best


def rounds(cases: dict[str, tuple[Callable[[], object], float]], n: int) -> dict[str, list[float]]:
    """Work per CPU second of each case, ``n`` interleaved rounds."""
    out: dict[str, list[float]] = {k: [] for k in cases}
    for _ in range(n):
        for k, (f, work) in cases.items():
            out[k].append(work / best_cpu(f))
    return out


def one_character(n: int) -> None:
    g = torch.Generator().manual_seed(0)
    w = torch.randn(K, C + H, G, generator=g)
    x, b = torch.randn(K, 1, C + H, generator=g), torch.randn(K, 1, G, generator=g)
    w_cond = w[:, :C].permute(1, 0, 2).reshape(C, K * G).contiguous()
    w_h = w[:, C:].contiguous()
    cond, h, b_flat = torch.randn(1, C, generator=g), torch.randn(K, 1, H, generator=g), b.reshape(-1)
    nbytes = w.numel() * 4
    buf = torch.ones(nbytes // 4)
    res = rounds({"tensor.sum (the floor)": (lambda: buf.sum(), nbytes),
                  "16 batched blocks [cond | h]": (lambda: torch.baddbmm(b, x, w), nbytes),
                  "cond as one product + h blocks": (lambda: (torch.addmm(b_flat[None], cond, w_cond),
                                                              torch.baddbmm(b, h, w_h)), nbytes)}, n)
    floor = res["tensor.sum (the floor)"]
    print(f"one character, {nbytes / 1e6:.0f} MB of rows, 1 thread")
    for k, v in res.items():
        ratio = statistics.median([a / f for a, f in zip(v, floor, strict=True)])
        print(f"  {k:34s} {statistics.median(v) / 1e9:6.1f} GB/s   {ratio:.3f} of the sum")


def hundred_characters(n: int) -> None:
    g = torch.Generator().manual_seed(1)
    B, rows = 100, C + H + N_ID
    w_in = [torch.randn(rows, G, generator=g) for _ in range(K)]  # (in, out), as the decoder stores them
    w_out = [w.t().contiguous() for w in w_in]
    w_cond = torch.randn(C, K * G, generator=g)
    x, cond = torch.randn(B, rows, generator=g), torch.randn(B, C, generator=g)
    b, b_all, o = torch.randn(G, generator=g), torch.randn(K * G, generator=g), torch.empty(B, G)
    packed = [torch.ops.mkl._mkl_reorder_linear_weight(w, B) for w in w_out]
    per_k, cond_all = 2.0 * B * rows * G * K, 2.0 * B * C * G * K
    res = rounds({"per coupling, (in, out) [used]": (lambda: [torch.addmm(b, x, w, out=o) for w in w_in], per_k),
                  "per coupling, (out, in)": (lambda: [torch.addmm(b, x, w.t(), out=o) for w in w_out], per_k),
                  "per coupling, MKL packed": (lambda: [torch.ops.mkl._mkl_linear(x, p, w, b, B)
                                                        for p, w in zip(packed, w_out, strict=True)], per_k),
                  "condition for all couplings at once": (lambda: torch.addmm(b_all, cond, w_cond), cond_all)}, n)
    print(f"100 characters, 1 thread (first-layer products, K = {rows})")
    for k, v in res.items():
        print(f"  {k:36s} {statistics.median(v) / 1e9:6.1f} GFLOP/s")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=8)
    args = p.parse_args()
    torch.set_num_threads(1)
    with torch.inference_mode():
        one_character(args.rounds)
        hundred_characters(args.rounds)


if __name__ == "__main__":
    main()
