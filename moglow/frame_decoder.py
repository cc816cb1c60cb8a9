"""Fast frame-by-frame inverse flow of a MoGlow with LSTM couplings, in float32 or with 16-bit weights.

Sampling one character on a CPU is limited by memory bandwidth: every frame reads every
weight of the K coupling LSTMs once (292 MB in float32 for the paper-size model). A
:class:`FrameDecoder` holds a copy of those weights laid out for this one job and runs the
inverse flow of one frame with as few tensor operations as possible:

- float32: the LSTM weights of all K couplings sit in two blocks whose rows put first what
  is known when a frame starts (the condition, the previous frame's h). For a few
  characters (memory bound) :class:`moglow.few_rows.FewRows` reads those rows of every
  coupling at the frame's start (the condition's as one product, most of the bytes, streamed
  best that way) and runs the chain of couplings, which reads only the x1 and layer-below
  rows, on buffers reused frame after frame. For a batch (compute bound)
  :class:`moglow.many_rows.ManyRows` runs each LSTM layer of a coupling as one product of the
  concatenated inputs ``[cond | h_prev | x1]``, on weights transposed and cut into blocks of
  output rows (a ``(B, C) x (C, K * 4H)`` product of the condition alone runs ~1.5x slower
  than K blocks; reusing one output buffer instead of a fresh result per product: no
  measurable gain);
- 16 bits: the condition's share of every coupling's first layer is one product for all K
  couplings (as :meth:`MoGlow.cond_projections`), each layer one product of
  ``[layer input, previous h]`` with the stacked ``[W_in | W_hh]``;
- the gate rows are reordered to i, f, o, g and the g rows scaled by -2 (exact), so one
  sigmoid covers the four gates (``tanh(g) = 1 - 2 sigmoid(-2g)``; a CPU ``tanh`` costs ~3x
  a sigmoid), and ``tanh(c)`` likewise for batches;
- the coupling's inverse skips the log-determinant (not needed to sample);
- ActNorm and the LU map of a step are folded into one affine map.

``precision`` picks the storage of the large matrices (the condition map, the LSTM input
and recurrent maps; about 99 % of the bytes):

- ``"fp32"``: float32; results equal ``MoGlow.decode`` to float rounding (sums in another
  order).
- ``"bf16"``: bfloat16 weights and matrix inputs (8-bit mantissa: products within ~0.5 %).
  One character on a CPU runs PyTorch's matrix-vector kernel (float32 accumulation; oneDNN,
  which PyTorch would pick, is ~1.7x slower there; see :class:`_Gemv`); batches run oneDNN's
  bf16 matrix products, about twice as fast as float32 on CPUs with bf16 instructions.
- ``"fp16"``: float16 weights and matrix inputs (11-bit mantissa: ~0.1 %), as fast as bf16
  for one character; on a CPU without native fp16 maths several times slower than float32
  for batches.

Everything else stays float32: the biases, every sum with the products, the gate
activations, the LSTM cell and hidden states carried between frames, the output layers, the
coupling transforms and the ActNorm/LU maps. The state has the same layout as
``MoGlow.decode``'s, so a stream may switch between the two.

``benchmarks/sample_speed.py`` measures the speed and the deviation from float32 samples.

Example::

    >>> from moglow.model import ModelConfig, MoGlow
    >>> model = MoGlow(ModelConfig(num_steps=2, hidden=16, tau=3), pose_dim=6, control_dim=3).eval()
    >>> decoder = frame_decoder(model, "bf16")
    >>> z, cond = torch.randn(2, 6), torch.randn(2, decoder.cond_dim)
    >>> x, state = decoder.decode(z, cond, None)                   # (B, D), (B, cond_dim) -> (B, D), state
    >>> x32, _ = model.decode(z[:, None], cond[:, None], None)     # the float32 model, one frame
    >>> bool((x - x32[:, 0]).abs().max() < 0.05)                   # bf16 products: within ~1 %
    True
"""
from __future__ import annotations

import weakref
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from moglow.cli_checks import UsageError
from moglow.few_rows import FewRows
from moglow.lstm_cell import FEW_ROWS, consecutive_views, lstm_cell
from moglow.many_rows import ManyRows

PRECISIONS = ("fp32", "bf16", "fp16")
_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def check_precision(precision: str) -> str:
    """``precision`` if it is one of :data:`PRECISIONS`, else a ValueError."""
    if precision not in PRECISIONS:
        raise UsageError(f"precision must be one of {', '.join(PRECISIONS)}; got {precision!r}")
    return precision


class _Product:
    """A weight ``W (out, in)`` prepared for ``bias + x @ W.T`` with ``x (B, in)`` float32.

    The result is float32 ``(B, out)``; the product itself runs in ``precision`` (16 bits:
    ``x`` is rounded to the weight's dtype and PyTorch accumulates in float32).
    """

    def __init__(self, weight: Tensor, precision: str):
        self.dtype = _DTYPES[precision]
        w = weight.detach()
        if self.dtype == torch.float32:
            self.weight = w.t().contiguous()  # (in, out): BLAS streams x @ W.T fastest this way
        else:
            self.weight = w.to(self.dtype).contiguous()  # (out, in): what the 16-bit gemv kernels stream

    def __call__(self, bias: Tensor, x: Tensor) -> Tensor:
        """``bias (out,) or (B, out)`` float32 + ``x (B, in) @ W.T`` -> ``(B, out)`` float32."""
        if self.dtype == torch.float32:
            return torch.addmm(bias, x, self.weight)
        return torch.add(bias, F.linear(x.to(self.dtype), self.weight))  # promotes to float32


class _Gemv:
    """Context in which one-row 16-bit products on the CPU take PyTorch's own matrix-vector
    kernel (about 1.7x faster for bf16 than oneDNN's, which PyTorch otherwise picks); larger
    batches keep oneDNN (fast bf16 matrix products). Sets ``torch.backends.mkldnn.enabled``,
    a process-wide switch, for the duration of a frame."""

    def __init__(self, active: bool):
        self.active = active

    def __enter__(self):
        if self.active:
            self.saved = torch.backends.mkldnn.enabled
            torch.backends.mkldnn.enabled = False

    def __exit__(self, *exc):
        if self.active:
            torch.backends.mkldnn.enabled = self.saved


def _gate_order(hidden: int, device: torch.device) -> tuple[Tensor, Tensor]:
    """Row permutation from PyTorch's LSTM gate order i, f, g, o to i, f, o, g, and the gain
    of each permuted row: 1 for i, f, o and -2 for g, so that one sigmoid covers all four gates
    (``tanh(g) = 1 - 2 sigmoid(-2 g)``; on a CPU ``tanh`` costs ~3x a ``sigmoid``). Scaling
    by -2 is exact in floating point: the products are the unscaled ones times -2."""
    H = hidden
    order = torch.cat([torch.arange(0, 2 * H), torch.arange(3 * H, 4 * H), torch.arange(2 * H, 3 * H)]).to(device)
    gain = torch.ones(4 * H, device=device)
    gain[3 * H:] = -2.0
    return order, gain


class _Step:
    """One glow step prepared for the inverse: coupling network, transform, ActNorm∘LU."""

    def __init__(self, step: nn.Module, precision: str):
        from moglow.flows.transforms import AdditiveTransform, AffineTransform

        actnorm, linear, coupling = step.parts
        net = coupling.net
        self.coupling, self.transform = coupling, coupling.transform
        self.n_id, self.hidden, self.num_layers = coupling.n_id, net.hidden, net.num_layers
        n_tr = coupling.num_features - coupling.n_id
        # split / merge as plain slices (Coupling.split / merge without the checks)
        self.id_slice = slice(n_tr, None) if coupling.swap else slice(0, self.n_id)
        self.tr_slice = slice(0, n_tr) if coupling.swap else slice(self.n_id, None)
        self.swap = bool(coupling.swap)
        order, gain = _gate_order(net.hidden, net.input_layer.weight.device)

        def gates(w: Tensor) -> Tensor:  # rows reordered to i, f, o, g and scaled by the gate gain
            return w.detach()[order] * (gain[:, None] if w.dim() == 2 else gain)

        w_in = gates(net.input_layer.weight)
        # layer 0: [x1 | h_prev] @ [W_x1 | W_hh]^T (+ the condition projection)
        self.first = _Product(torch.cat([w_in[:, : self.n_id], gates(net.weight_hh[0])], 1), precision)
        self.cond_weight, self.cond_bias = w_in[:, self.n_id:], gates(net.input_layer.bias)
        # upper layers: [h_below | h_prev] @ [W_up | W_hh]^T + b_up
        self.upper = []
        for layer in range(1, net.num_layers):
            up = net.upper_input_layers[layer - 1]
            w = torch.cat([gates(up.weight), gates(net.weight_hh[layer])], 1)
            self.upper.append((_Product(w, precision), gates(up.bias).contiguous()))
        self.out_weight = net.output_layer.weight.detach().t().contiguous()
        self.out_bias = net.output_layer.bias.detach().clone()
        # the transform's inverse without its log-determinant: "affine" (sigmoid scale, the
        # +2 of s = sigmoid(h + 2) + eps folded into the bias), "additive", or the family's own
        t = coupling.transform
        self.kind, self.eps = "generic", 0.0
        if type(t) is AffineTransform and t.scale == "sigmoid":
            self.kind, self.eps = "affine", t.eps
            self.out_bias[n_tr:] += 2.0
        elif type(t) is AdditiveTransform:
            self.kind = "additive"
        # ActNorm(LU(.)) inverse: x = (z @ W^-1.T) * exp(-log_scale) - bias = z @ M + shift
        inv = linear.inverse_weight().detach()
        self.affine = (inv.t() * torch.exp(-actnorm.log_scale.detach())[None, :]).contiguous()
        self.shift = -actnorm.bias.detach().clone()

    def inverse_transform(self, z2: Tensor, params: Tensor) -> Tensor:
        """``x2 (B, n_tr)`` from ``z2`` and the coupling network's output ``params`` (overwritten)."""
        if self.kind == "affine":  # x2 = z2 / s - b, s = sigmoid(h + 2) + eps (the +2 is in the bias)
            d = z2.shape[-1]
            s = params[:, d:].sigmoid_().add_(self.eps)
            return torch.div(z2, s).sub_(params[:, :d])
        if self.kind == "additive":
            return torch.sub(z2, params)
        return self.transform.inverse_sample(z2, params)


class FrameDecoder:
    """The inverse flow of one frame of a MoGlow with LSTM couplings (see the module docstring).

    Args:
        model: a :class:`moglow.model.MoGlow` whose coupling networks are
            :class:`moglow.flows.conditioners.LSTMNet` (any number of layers, any transform family).
        precision: ``"fp32"``, ``"bf16"`` or ``"fp16"``: storage of the large matrices.

    The decoder copies the weights when built (about half the model's size for 16-bit
    precisions); rebuild it after changing the model's parameters.
    """

    def __init__(self, model: nn.Module, precision: str = "fp32"):
        from moglow.flows.conditioners import LSTMNet

        self.precision = check_precision(precision)
        couplings = model.couplings()
        if not all(isinstance(c.net, LSTMNet) for c in couplings):
            raise UsageError(f"FrameDecoder supports LSTM couplings only (this model's are "
                             f"{type(couplings[0].net).__name__}); sample such a model with precision='fp32'")
        self.pose_dim, self.cond_dim = int(model.pose_dim), int(model.cond_dim)  # type: ignore[arg-type]
        with torch.no_grad():
            self.steps = [_Step(step, precision) for step in model.flow.parts]
            self.cond_map: _Product | None = _Product(torch.cat([s.cond_weight for s in self.steps], 0), precision)
            self.cond_bias = torch.cat([s.cond_bias for s in self.steps], 0)
            self.stacked = precision == "fp32"  # the float32 layout (_stack_fp32) instead of cond_map
            self._few: FewRows | None = None  # built on the first call with a few rows
            self._many: ManyRows | None = None  # and with a batch
            if self.stacked:
                self._stack_fp32()
        for s in self.steps:
            del s.cond_weight, s.cond_bias
        self.width = 4 * self.steps[0].hidden

    def _stack_fp32(self) -> None:
        """Float32 layout: the LSTM weights of all K couplings in two blocks, rows ordered so that
        the part known when a frame starts (the condition, the previous frame's h) comes first:

        - ``first (K, cond_dim + H + n_id, 4H)``: rows condition, recurrent, x1;
        - ``upper (K, L - 1, 2H, 4H)``: rows recurrent, h of the layer below.

        A few characters (memory bound) then read most of the bytes in two batched products at
        the start of the frame, which stream the weights best, and only the x1 and
        layer-below rows inside the chain of couplings; a batch (compute bound) runs one product
        per layer of each coupling on the concatenated inputs."""
        H, n = self.steps[0].hidden, self.steps[0].n_id
        self.first = torch.stack([torch.cat([s.cond_weight.t(), s.first.weight[n:], s.first.weight[:n]], 0)
                                  for s in self.steps]).contiguous()
        self.first_bias = torch.stack([s.cond_bias for s in self.steps])[:, None, :].contiguous()  # (K, 1, 4H)
        L = self.steps[0].num_layers
        self.upper = self.upper_bias = torch.empty(0)  # (one layer: none)
        if L > 1:
            self.upper = torch.stack([torch.stack([torch.cat([p.weight[H:], p.weight[:H]], 0) for p, _ in s.upper])
                                      for s in self.steps]).contiguous()  # (K, L - 1, 2H, 4H)
            self.upper_bias = torch.stack([torch.stack([b for _, b in s.upper]) for s in self.steps])[:, :, None]
        for s in self.steps:
            del s.first
            s.upper = []
        self.cond_map = None

    def nbytes(self) -> int:
        """Bytes of the prepared weights (what one frame reads)."""
        if self.stacked:
            tensors = [self.first, self.first_bias, self.upper, self.upper_bias]
        else:
            assert self.cond_map is not None
            tensors = [self.cond_map.weight, self.cond_bias] + [s.first.weight for s in self.steps]
        for s in self.steps:
            tensors += [s.out_weight, s.out_bias, s.affine, s.shift]
            for p, b in s.upper:
                tensors += [p.weight, b]
        return sum(t.numel() * t.element_size() for t in tensors)

    def decode(self, z: Tensor, cond: Tensor, state: Any = None) -> tuple[Tensor, Any]:
        """``z (B, D)`` latent, ``cond (B, cond_dim)`` condition -> ``(x (B, D) pose, state)``.

        ``state`` is the previous frame's (None: fresh), as ``MoGlow.decode`` returns it: per
        step ``(None, None, (h, c))`` with ``h, c (num_layers, B, hidden)`` float32. It is not
        modified; a new one is returned.
        """
        B = z.shape[0]
        if z.shape != (B, self.pose_dim) or cond.shape != (B, self.cond_dim):
            raise ValueError(f"z must be (B, {self.pose_dim}) and cond (B, {self.cond_dim}); "
                             f"got {tuple(z.shape)}, {tuple(cond.shape)}")
        if self.stacked:
            return self._decode_fp32(z, cond, state)
        with _Gemv(B == 1 and z.device.type == "cpu"):
            return self._decode(z, cond, state)

    def _decode(self, z: Tensor, cond: Tensor, state: Any) -> tuple[Tensor, Any]:
        """16-bit weights: the condition's share of all couplings in one product, then the chain."""
        B, G = z.shape[0], self.width
        assert self.cond_map is not None
        proj = self.cond_map(self.cond_bias, cond)  # (B, K * G)
        states: list = [None] * len(self.steps) if state is None else list(state)
        for k in reversed(range(len(self.steps))):
            step = self.steps[k]
            H, L = step.hidden, step.num_layers
            if states[k] is None:
                h_prev = c_prev = z.new_zeros(L, B, H)
            else:
                h_prev, c_prev = states[k][2]
            h_new, c_new = z.new_empty(L, B, H), z.new_empty(L, B, H)
            z1, z2 = z[:, step.id_slice], z[:, step.tr_slice]
            a = step.first(proj[:, k * G: (k + 1) * G], torch.cat([z1, h_prev[0]], -1))
            h = lstm_cell(a, c_prev[0], h_new[0], c_new[0])
            for layer, (product, bias) in enumerate(step.upper, start=1):
                a = product(bias, torch.cat([h, h_prev[layer]], -1))
                h = lstm_cell(a, c_prev[layer], h_new[layer], c_new[layer])
            x2 = step.inverse_transform(z2, torch.addmm(step.out_bias, h, step.out_weight))
            z = torch.addmm(step.shift, torch.cat([x2, z1] if step.swap else [z1, x2], -1), step.affine)
            states[k] = (None, None, (h_new, c_new))
        return z, tuple(states)

    def _previous(self, state: Any, B: int, like: Tensor) -> tuple[Tensor, Tensor]:
        """``(h, c)``, each ``(K, L, B, H)``: the previous frame's LSTM states of all couplings
        (zeros where none), without a copy when they are the views this decoder returned."""
        K, L, H = len(self.steps), self.steps[0].num_layers, self.steps[0].hidden
        if state is None:
            zeros = like.new_zeros(K, L, B, H)
            return zeros, zeros
        out = []
        for i in (0, 1):
            parts = [None if s is None else s[2][i] for s in state]
            base = consecutive_views(parts, (L, B, H), like)
            out.append(torch.stack([like.new_zeros(L, B, H) if p is None else p for p in parts])
                       if base is None else base)
        return out[0], out[1]

    def _decode_fp32(self, z: Tensor, cond: Tensor, state: Any) -> tuple[Tensor, Any]:
        """Float32 (see :meth:`_stack_fp32`); returns the states as views of two ``(K, L, B, H)`` tensors.
        A few characters take :class:`moglow.few_rows.FewRows`, a batch :class:`moglow.many_rows.ManyRows`."""
        B = z.shape[0]
        h_prev, c_prev = self._previous(state, B, z)
        if B <= FEW_ROWS:
            if self._few is None:
                self._few = FewRows(self.first, self.first_bias, self.upper, self.upper_bias, self.steps, self.cond_dim)
            z, h_all, c_all = self._few.decode(z, cond, h_prev, c_prev)
        else:
            if self._many is None:
                self._many = ManyRows(self.first, self.first_bias, self.upper, self.upper_bias, self.steps,
                                      self.cond_dim)
            z, h_all, c_all = self._many.decode(z, cond, h_prev, c_prev)
        return z, tuple((None, None, hc) for hc in zip(h_all.unbind(0), c_all.unbind(0), strict=True))


_DECODERS: "weakref.WeakKeyDictionary[nn.Module, dict]" = weakref.WeakKeyDictionary()


def frame_decoder(model: nn.Module, precision: str = "fp32") -> FrameDecoder:
    """The model's :class:`FrameDecoder` for ``precision``, built once and kept while the model
    lives (outside it: copying or saving the model is unaffected); rebuilt when a parameter or
    buffer changes (an optimiser step, ``load_state_dict``, ``.to()``)."""
    check_precision(precision)
    key = tuple((t.data_ptr(), t._version, t.dtype, t.device) for t in (*model.parameters(), *model.buffers()))
    cache = _DECODERS.get(model)
    if cache is None or cache.get("key") != key:
        cache = {"key": key}
        _DECODERS[model] = cache
    if precision not in cache:
        with torch.inference_mode(False), torch.no_grad():
            cache[precision] = FrameDecoder(model, precision)
    return cache[precision]


__all__ = ["FrameDecoder", "PRECISIONS", "check_precision", "frame_decoder"]
