"""Where the time of a 100-character frame of the paper-size model goes, against ``sample_speed.py``'s floor.

Each run (``--frames`` frames, CPU time, 1 thread) is divided by the floor ``sample_speed.py``
uses, measured right after it (the fp32 ``torch.mm`` rate of one ``(100, 512) x (512, 2048)``
product, best of 5), and expressed as a share of it:

- ``full decode``: the float32 frame decoder, frame after frame (what ``precision="auto"`` runs);
- ``products only``: the same frames' matrix products on the decoder's own weights (every LSTM
  layer of every coupling in :mod:`moglow.many_rows`' block layout, the output layers and
  ActNorm/LU maps), nothing else;
- ``products, (in, 4H) layout``: the same products with each LSTM layer one ``addmm`` on the
  ``(inputs, 4H)`` weights (the batch path's layout before the block layout);
- ``floor product in a row``: the floor's own product, repeated for as many FLOPs as a run.

``products only / full decode`` is the share of a frame spent in the products; ``floor product
in a row`` is what the floor's product itself scores when timed over a run's length rather than
as the best of 5 single products (on a shared machine, a long run meets more contention).

Run::

    python benchmarks/sample_batch_breakdown.py --rounds 16
"""
from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

import torch

from moglow.frame_decoder import FrameDecoder
from moglow.model import MoGlow
from moglow.sampling import optimise_for_sampling
from sample_speed import CONTROL_DIM, MODELS, POSE_DIM, matmul_flops_per_frame, mm_rate, nontrivial


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=16, help="runs of each kind, interleaved")
    parser.add_argument("--frames", type=int, default=4, help="frames per run")
    args = parser.parse_args()
    torch.set_num_threads(1)
    cfg, B, frames = MODELS["paper"], 100, args.frames
    torch.manual_seed(0)
    model = nontrivial(optimise_for_sampling(MoGlow(cfg, POSE_DIM, CONTROL_DIM)).eval())
    dec = FrameDecoder(model, "fp32")
    with torch.inference_mode():
        dec.decode(torch.randn(B, POSE_DIM), torch.randn(B, dec.cond_dim))  # builds the batch layout
    many = dec._many
    assert many is not None
    J = many.first.shape[1]
    blocks = torch.empty(J, B, many.nb)
    flops = matmul_flops_per_frame(cfg)
    z, cond = torch.randn(B, POSE_DIM), torch.randn(B, dec.cond_dim)
    x_first, x_upper = torch.randn(B, dec.first.shape[1]), torch.randn(B, 2 * cfg.hidden)
    h, x_pose, out = torch.randn(B, cfg.hidden), torch.randn(B, POSE_DIM), torch.empty(B, 4 * cfg.hidden)

    def full() -> None:
        state = None
        for _ in range(frames):
            _, state = dec.decode(z, cond, state)

    def products() -> None:
        first_rows, upper_rows = x_first.expand(J, B, -1), x_upper.expand(J, B, -1)
        for _ in range(frames):
            for k, s in enumerate(dec.steps):
                torch.baddbmm(many.first_bias[k].expand(J, B, -1), first_rows, many.first[k].transpose(1, 2),
                              out=blocks)
                for layer in range(cfg.num_layers - 1):
                    torch.baddbmm(many.upper_bias[k, layer].expand(J, B, -1), upper_rows,
                                  many.upper[k, layer].transpose(1, 2), out=blocks)
                torch.addmm(s.out_bias, h, s.out_weight)
                torch.addmm(s.shift, x_pose, s.affine)

    def products_in_out() -> None:
        for _ in range(frames):
            for k, s in enumerate(dec.steps):
                torch.addmm(dec.first_bias[k, 0], x_first, dec.first[k], out=out)
                for layer in range(cfg.num_layers - 1):
                    torch.addmm(dec.upper_bias[k, layer, 0], x_upper, dec.upper[k, layer], out=out)
                torch.addmm(s.out_bias, h, s.out_weight)
                torch.addmm(s.shift, x_pose, s.affine)

    a, b = torch.randn(B, cfg.hidden), torch.randn(cfg.hidden, 4 * cfg.hidden)
    n_floor = round(frames * B * flops / (2 * B * cfg.hidden * 4 * cfg.hidden))

    def floor_in_a_row() -> None:
        for _ in range(n_floor):
            torch.mm(a, b)

    kinds: dict[str, tuple[Callable[[], None], float]] = {
        "full decode": (full, B * frames * flops), "products only": (products, B * frames * flops),
        "products, (in, 4H) layout": (products_in_out, B * frames * flops),
        f"floor product x{n_floor} in a row": (floor_in_a_row, n_floor * 2.0 * B * cfg.hidden * 4 * cfg.hidden)}
    shares: dict[str, list[float]] = {k: [] for k in kinds}
    with torch.inference_mode():
        for fn, _ in kinds.values():
            fn()
        for r in range(args.rounds):
            for name, (fn, work) in (list(kinds.items()) if r % 2 else list(kinds.items())[::-1]):
                t = time.process_time()
                fn()
                shares[name].append(work / (time.process_time() - t) / mm_rate(B, cfg, repeats=5))
    print(f"paper-size model, {B} characters, {frames} frames per run, 1 thread; load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    for name, v in shares.items():
        print(f"  {name:28s} {100 * statistics.median(v):5.1f} % of the floor (median of {len(v)}; best "
              f"{100 * max(v):.1f} %)")


if __name__ == "__main__":
    main()
