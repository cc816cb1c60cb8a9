"""The float32 frame decoder's path for a batch of characters (``B > FEW_ROWS``): compute bound.

A batch of 100 characters of the paper-size model runs ~14.6 GFLOP of matrix products per
frame, one product per LSTM layer of each coupling on the concatenated inputs
``[cond | h_prev | x1]`` and ``[h_prev | h_below]``. The products read 292 MB of distinct
weights per frame, which no cache holds, and how the weights lie in memory decides how well
the reads overlap the arithmetic. This path (:class:`ManyRows`, used by
:class:`moglow.frame_decoder.FrameDecoder`) keeps a copy of the LSTM weights (built on first
use: as many bytes again as the decoder's own, 292 MB for the paper-size model, 14 MB for the
shipped one) transposed to ``(4H, inputs)`` and cut into blocks of ``block`` output rows,
and runs each layer as one batched product over the blocks, ``(B, in) x (J, in, block) ->
(J, B, block)``. On the 2-core EPYC box this ran the products ~5 % faster than the
``(in, 4H)`` layout's single product (interleaved runs, ``python
benchmarks/sample_batch_breakdown.py``; with 2 threads the blocks also split between the
threads instead of one product splitting its rows).

The gates stay in the block layout: gate ``i`` is blocks ``0 .. J/4``, and so on, and the
LSTM cell reads and writes ``c`` and ``h`` through ``(J/4, B, block)`` views of the
``(B, H)`` states, so the state carried between frames is ``MoGlow.decode``'s. The results
equal the few-rows path's and ``MoGlow.decode``'s to float rounding.
"""
from __future__ import annotations

import torch
from torch import Tensor

from moglow.lstm_cell import lstm_cell_views

#: output rows per block of the batched products (when it divides the hidden size; else one block per gate)
BLOCK = 256


class ManyRows:
    """The batch layout of a float32 :class:`moglow.frame_decoder.FrameDecoder`.

    Args:
        first, first_bias, upper, upper_bias, steps, cond_dim: the decoder's stacked float32
            weights and prepared steps, as for :class:`moglow.few_rows.FewRows`.
        block: output rows per block (``BLOCK``; the hidden size when it does not divide it).
    """

    def __init__(self, first: Tensor, first_bias: Tensor, upper: Tensor, upper_bias: Tensor,
                 steps: list, cond_dim: int, block: int = BLOCK):
        K, width, _ = first.shape
        H, L = steps[0].hidden, steps[0].num_layers
        nb = block if H % block == 0 else H
        self.K, self.L, self.H, self.C, self.nb, self.per_gate = K, L, H, cond_dim, nb, H // nb
        J = 4 * self.per_gate
        self.steps = steps
        with torch.no_grad():
            self.first = first.transpose(1, 2).contiguous().view(K, J, nb, width)
            self.first_bias = first_bias.reshape(K, J, 1, nb)
            self.upper = self.upper_bias = first.new_empty(0)
            if L > 1:
                self.upper = upper.transpose(2, 3).contiguous().view(K, L - 1, J, nb, 2 * H)
                self.upper_bias = upper_bias.reshape(K, L - 1, J, 1, nb)

    def _blocks(self, state: Tensor) -> Tensor:
        """``(B, H)`` -> the ``(H / block, B, block)`` view the cell reads and writes."""
        return state.unflatten(-1, (self.per_gate, self.nb)).transpose(0, 1)

    def decode(self, z: Tensor, cond: Tensor, h_prev: Tensor, c_prev: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``z (B, D)``, ``cond (B, C)``, previous states ``h_prev, c_prev (K, L, B, H)`` ->
        ``(x (B, D), h (K, L, B, H), c (K, L, B, H))`` (new tensors; the inputs are not modified)."""
        B = z.shape[0]
        K, L, H, C, nb, P = self.K, self.L, self.H, self.C, self.nb, self.per_gate
        J = 4 * P
        h_all, c_all = z.new_empty(K, L, B, H), z.new_empty(K, L, B, H)
        # the inputs of each layer's product, [cond | h_prev | x1] and [h_prev | h_below], filled in place
        first_in = z.new_empty(B, self.first.shape[-1])
        first_in[:, :C] = cond
        upper_in = z.new_empty(B, 2 * H)
        first_rows, upper_rows = first_in.expand(J, B, -1), upper_in.expand(J, B, -1)
        a = z.new_empty(J, B, nb)
        gates = (a[:P], a[P: 2 * P], a[2 * P: 3 * P], a[3 * P:])
        for k in reversed(range(K)):
            step = self.steps[k]
            z1, z2 = z[:, step.id_slice], z[:, step.tr_slice]
            first_in[:, C: C + H] = h_prev[k, 0]
            first_in[:, C + H:] = z1
            torch.baddbmm(self.first_bias[k].expand(J, B, nb), first_rows, self.first[k].transpose(1, 2), out=a)
            lstm_cell_views(a, gates, self._blocks(c_prev[k, 0]), self._blocks(h_all[k, 0]), self._blocks(c_all[k, 0]))
            for layer in range(1, L):
                upper_in[:, :H] = h_prev[k, layer]
                upper_in[:, H:] = h_all[k, layer - 1]
                torch.baddbmm(self.upper_bias[k, layer - 1].expand(J, B, nb), upper_rows,
                              self.upper[k, layer - 1].transpose(1, 2), out=a)
                lstm_cell_views(a, gates, self._blocks(c_prev[k, layer]), self._blocks(h_all[k, layer]),
                                self._blocks(c_all[k, layer]))
            x2 = step.inverse_transform(z2, torch.addmm(step.out_bias, h_all[k, L - 1], step.out_weight))
            z = torch.addmm(step.shift, torch.cat([x2, z1] if step.swap else [z1, x2], -1), step.affine)
        return z, h_all, c_all


__all__ = ["BLOCK", "ManyRows"]
