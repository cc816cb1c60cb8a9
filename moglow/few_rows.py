"""The float32 frame decoder's path for a few characters (``B <= FEW_ROWS``): memory bound, then dispatch bound.

One character of the paper-size model reads 292 MB of weights per frame; at the memory
rate that takes ~14 ms on the 2-core box, and the ~500 small tensor operations of the chain
of couplings (a few microseconds of dispatch each) would add ~3 ms. This path
(:class:`FewRows`, used by :class:`moglow.frame_decoder.FrameDecoder`) therefore:

- reads most bytes at the frame's start, where they stream best: the condition's rows of
  every coupling's first LSTM layer as **one** product ``(B, C) x (C, K * 4H)`` (a copy of
  those rows, built on first use: ~85 MB for the paper-size model, 11 MB for the shipped
  one), then the previous frame's ``h`` rows of every layer as two batched products;
- runs the chain of couplings on a per-thread workspace whose views (gates, parameters,
  latent halves) are made once per batch size, so each coupling is ~17 operations with no
  slicing, concatenation or allocation: the transform's inverse writes ``x2`` over ``z2``,
  which leaves exactly the merged ``[z1 | x2]`` (or ``[x2 | z1]``) for the ActNorm/LU map.

The results equal the batch path's and ``MoGlow.decode``'s to float rounding (the same sums
in another order); ``benchmarks/sample_speed.py`` measures the speed against the memory floor.
"""
from __future__ import annotations

import threading
from types import SimpleNamespace

import torch
from torch import Tensor

from moglow.lstm_cell import lstm_cell_views


class FewRows:
    """The few-rows layout of a float32 :class:`moglow.frame_decoder.FrameDecoder`.

    Args:
        first: ``(K, C + H + n_id, 4H)`` first-layer rows (condition, recurrent, x1) per coupling.
        first_bias: ``(K, 1, 4H)``.
        upper: ``(K, L - 1, 2H, 4H)`` upper-layer rows (recurrent, layer below); empty for one layer.
        upper_bias: ``(K, L - 1, 1, 4H)``.
        steps: the decoder's prepared glow steps (``_Step``: output layer, transform, ActNorm/LU).
        cond_dim: C.
    """

    def __init__(self, first: Tensor, first_bias: Tensor, upper: Tensor, upper_bias: Tensor,
                 steps: list, cond_dim: int):
        K, _, G = first.shape
        H, L, C = steps[0].hidden, steps[0].num_layers, cond_dim
        self.K, self.L, self.H, self.G = K, L, H, G
        self.steps = steps
        with torch.no_grad():
            self.cond_rows = first[:, :C].permute(1, 0, 2).reshape(C, K * G).contiguous()  # (C, K * 4H)
        self.cond_bias = first_bias.reshape(K * G)
        self.rec0 = first[:, C: C + H]  # (K, H, 4H) view
        self.x1_rows = list(first[:, C + H:].unbind(0))  # K x (n_id, 4H)
        if L > 1:
            self.rec_up = upper[:, :, :H].reshape(K * (L - 1), H, G)  # view
            self.up_bias = upper_bias.reshape(K * (L - 1), 1, G)
            self.below_rows = [list(u[:, H:].unbind(0)) for u in upper.unbind(0)]  # K x (L - 1) x (H, 4H)
        # each affine step's eps as a 0-dim tensor (adding a Python float converts it on every call)
        self.eps = [first.new_tensor(s.eps) for s in steps]
        self._local = threading.local()

    def _workspace(self, B: int, like: Tensor) -> SimpleNamespace:
        """This thread's buffers for ``B`` rows, and their views (made once)."""
        cache = self._local.__dict__.setdefault("ws", {})
        key = (B, like.device)
        if key in cache:
            return cache[key]
        K, L, H, G = self.K, self.L, self.H, self.G
        D = like.shape[1]
        with torch.inference_mode(False), torch.no_grad():
            ws = SimpleNamespace(cond_out=like.new_empty(B, K * G) if B > 1 else None,  # B = 1 writes p0 directly
                                 p0=like.new_empty(K, B, G), pup=like.new_empty(max(K * (L - 1), 1), B, G),
                                 z=[like.new_empty(B, D) for _ in range(2)])
            widths = [2 * (D - s.n_id) if s.kind == "affine" else None for s in self.steps]
            ws.params = [like.new_empty(B, w) if w else None for w in widths]
            ws.a, ws.gates, ws.z1, ws.z2 = [], [], [], []
            for k, s in enumerate(self.steps):
                layers = [ws.p0[k]] + [ws.pup[k * (L - 1) + j] for j in range(L - 1)]
                ws.a.append(layers)
                ws.gates.append([(a[:, :H], a[:, H: 2 * H], a[:, 2 * H: 3 * H], a[:, 3 * H:]) for a in layers])
                ws.z1.append([zb[:, s.id_slice] for zb in ws.z])
                ws.z2.append([zb[:, s.tr_slice] for zb in ws.z])
            ws.b_s = [(p[:, : p.shape[1] // 2], p[:, p.shape[1] // 2:]) if p is not None else None for p in ws.params]
        cache[key] = ws
        return ws

    def decode(self, z: Tensor, cond: Tensor, h_prev: Tensor, c_prev: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``z (B, D)``, ``cond (B, C)``, previous states ``h_prev, c_prev (K, L, B, H)`` ->
        ``(x (B, D), h (K, L, B, H), c (K, L, B, H))`` (new tensors; the inputs are not modified)."""
        B = z.shape[0]
        K, L, H = self.K, self.L, self.H
        ws = self._workspace(B, z)
        # everything known at the frame's start: the condition's rows (one product), the h rows
        if B == 1:
            torch.addmm(self.cond_bias, cond, self.cond_rows, out=ws.p0.view(1, -1))
        else:
            torch.addmm(self.cond_bias, cond, self.cond_rows, out=ws.cond_out)
            ws.p0.copy_(ws.cond_out.view(B, K, self.G).transpose(0, 1))
        ws.p0.baddbmm_(h_prev[:, 0], self.rec0)
        if L > 1:
            torch.baddbmm(self.up_bias, h_prev[:, 1:].reshape(K * (L - 1), B, H), self.rec_up, out=ws.pup)
        h_all, c_all = z.new_empty(K, L, B, H), z.new_empty(K, L, B, H)
        hs, cs = h_all.view(K * L, B, H).unbind(0), c_all.view(K * L, B, H).unbind(0)
        cps = c_prev.reshape(K * L, B, H).unbind(0)
        ws.z[0].copy_(z)
        cur = 0
        for k in reversed(range(K)):
            step, a, gates = self.steps[k], ws.a[k], ws.gates[k]
            a[0].addmm_(ws.z1[k][cur], self.x1_rows[k])
            h = lstm_cell_views(a[0], gates[0], cps[k * L], hs[k * L], cs[k * L])
            for layer in range(1, L):
                a[layer].addmm_(h, self.below_rows[k][layer - 1])
                h = lstm_cell_views(a[layer], gates[layer], cps[k * L + layer], hs[k * L + layer], cs[k * L + layer])
            z2 = ws.z2[k][cur]
            if step.kind == "affine":  # x2 = z2 / s - b, s = sigmoid(h + 2) + eps, written over z2
                torch.addmm(step.out_bias, h, step.out_weight, out=ws.params[k])
                b, s = ws.b_s[k]
                z2.div_(s.sigmoid_().add_(self.eps[k])).sub_(b)
            else:
                z2.copy_(step.inverse_transform(z2, torch.addmm(step.out_bias, h, step.out_weight)))
            # z now holds the merged [z1 | x2] (or [x2 | z1]) in place: the ActNorm/LU map
            if k:
                torch.addmm(step.shift, ws.z[cur], step.affine, out=ws.z[1 - cur])
                cur = 1 - cur
            else:
                z = torch.addmm(step.shift, ws.z[cur], step.affine)
        return z, h_all, c_all


__all__ = ["FewRows"]
