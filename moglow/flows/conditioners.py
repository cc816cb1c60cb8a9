"""Coupling networks ("conditioners"): MLP, LSTM and GRU, with a zero-initialised output layer.

Every net maps ``inp (..., in_features)`` to ``out (..., out_features)`` and threads an
explicit recurrent state: ``out, state = net(inp, state)`` (``state`` is ``None`` for a
fresh sequence; the MLP passes it through untouched). Recurrent nets take
``(batch, time, in_features)``; their state is ``(h, c)`` for the LSTM and ``h`` for the
GRU, each ``(num_layers, batch, hidden)`` as in :class:`torch.nn.LSTM`.

The first layer's input map is a plain :class:`torch.nn.Linear` named ``input_layer`` and
everything after it is :meth:`CouplingNet.forward_projected`. That split lets a model
compute the condition's share of the first layer (``cond @ W_cond``) for many couplings
in one large matrix product and add it here (see :mod:`moglow.model`); nets whose
``prefers_projection`` is True (MLP, GRU, ``LSTMNet(impl="stepwise")``) run fastest that way.

The LSTM has two implementations of the same maths (``torch.nn.LSTM``'s, gate order
i, f, g, o) with the same parameters: ``impl="fused"`` calls PyTorch's LSTM kernel
(oneDNN on CPU, cuDNN on CUDA) and ``impl="stepwise"`` runs :class:`LSTMLayerFunction`,
a loop over time with a hand-written backward pass whose recurrent weight gradient is one
product over the whole sequence. The tests check both against ``torch.nn.LSTM``.

Example::

    >>> net = LSTMNet(5, 4, hidden=8, num_layers=2)
    >>> out, state = net(torch.randn(3, 7, 5))        # (B, T, in) -> (B, T, out)
    >>> out.abs().max().item()                        # zero-initialised output layer
    0.0
"""
from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.autograd.function import once_differentiable


class LSTMLayerFunction(torch.autograd.Function):
    """One LSTM layer over a whole sequence, time-major.

    ``forward(gin (T, B, 4H), w_hh (4H, H), h0 (B, H), c0 (B, H)) -> (hs (T, B, H), c_T (B, H))``
    where ``gin`` already holds the input projection and every bias. Gates ``i, f, g, o``:
    ``a = gin[t] + h @ w_hh.T``; ``c = σ(f) c + σ(i) tanh(g)``; ``h = σ(o) tanh(c)``.
    """

    @staticmethod
    def forward(ctx, gin: Tensor, w_hh: Tensor, h0: Tensor, c0: Tensor):  # noqa: D102
        # The recurrence runs in at least float32, outside autocast (its out= products and the
        # cell state would lose too much in bf16); autograd casts gradients back to the inputs' dtypes.
        dtype = torch.promote_types(gin.dtype, torch.float32)
        with torch.autocast(gin.device.type, enabled=False):
            return LSTMLayerFunction._forward(ctx, gin.to(dtype), w_hh.to(dtype), h0.to(dtype), c0.to(dtype))

    @staticmethod
    def _forward(ctx, gin: Tensor, w_hh: Tensor, h0: Tensor, c0: Tensor):
        T, B, G = gin.shape
        H = G // 4
        gates = gin.new_empty(T, B, G)  # activated gates
        cs = gin.new_empty(T, B, H)
        hs = gin.new_empty(T, B, H)
        w_t = w_hh.t()
        h, c = h0, c0
        for t in range(T):
            a = gates[t]
            torch.addmm(gin[t], h, w_t, out=a)
            a[:, : 2 * H].sigmoid_()
            a[:, 2 * H: 3 * H].tanh_()
            a[:, 3 * H:].sigmoid_()
            c = torch.addcmul(a[:, H: 2 * H] * c, a[:, :H], a[:, 2 * H: 3 * H], out=cs[t])
            h = torch.mul(a[:, 3 * H:], torch.tanh(c), out=hs[t])
        ctx.save_for_backward(gates, cs, hs, w_hh, h0, c0)
        return hs, cs[-1].clone()

    @staticmethod
    @once_differentiable
    def backward(ctx, d_hs: Tensor, d_cT: Tensor):  # noqa: D102
        gates, cs, hs, w_hh, h0, c0 = ctx.saved_tensors
        d_hs, d_cT = d_hs.to(gates.dtype), d_cT.to(gates.dtype)
        T, B, G = gates.shape
        H = G // 4
        i, f, g, o = gates[..., :H], gates[..., H: 2 * H], gates[..., 2 * H: 3 * H], gates[..., 3 * H:]
        # Everything that does not depend on the backward recurrence, for all steps at once.
        tc = torch.tanh(cs)
        c_prev = torch.cat([c0.unsqueeze(0), cs[:-1]], 0)
        dh_to_dc = o * (1 - tc * tc)
        dc_to_ifg = torch.cat([g * i * (1 - i), c_prev * f * (1 - f), i * (1 - g * g)], -1)  # (T, B, 3H)
        dh_to_o = tc * o * (1 - o)
        dgates = gates.new_empty(T, B, G)
        dh_rec = torch.zeros_like(h0)
        dc = d_cT.clone()
        for t in range(T - 1, -1, -1):
            dh = d_hs[t] + dh_rec
            dc = torch.addcmul(dc, dh, dh_to_dc[t])
            dg = dgates[t]
            torch.mul(dc.unsqueeze(1), dc_to_ifg[t].view(B, 3, H), out=dg[:, : 3 * H].view(B, 3, H))
            torch.mul(dh, dh_to_o[t], out=dg[:, 3 * H:])
            dc = dc * f[t]
            dh_rec = dg @ w_hh
        d_w = None
        if ctx.needs_input_grad[1]:
            d_w = dgates[0].t() @ h0
            if T > 1:
                d_w = torch.addmm(d_w, dgates[1:].reshape(-1, G).t(), hs[:-1].reshape(-1, H))
        return dgates, d_w, dh_rec, dc


class CouplingNet(nn.Module):
    """Base class: ``input_layer`` (``nn.Linear(in_features, first_width)``) followed by
    :meth:`forward_projected`. ``recurrent`` says whether the net carries state."""

    recurrent: bool = False

    @property
    def prefers_projection(self) -> bool:
        """True when :meth:`forward_projected` is this net's fast path (a model should then
        hand it the precomputed condition projection rather than the raw condition)."""
        return True

    def __init__(self, in_features: int, out_features: int, hidden: int, num_layers: int, first_width: int):
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"{type(self).__name__}: num_layers must be >= 1, got {num_layers}")
        self.in_features, self.out_features = in_features, out_features
        self.hidden, self.num_layers = hidden, num_layers
        self.input_layer = nn.Linear(in_features, first_width)
        self.output_layer = nn.Linear(hidden, out_features)
        nn.init.zeros_(self.output_layer.weight)
        nn.init.zeros_(self.output_layer.bias)

    def extra_repr(self) -> str:
        return f"in={self.in_features}, out={self.out_features}, hidden={self.hidden}, num_layers={self.num_layers}"

    def forward(self, inp: Tensor, state: Any = None) -> tuple[Tensor, Any]:
        """``inp (..., in_features)`` (recurrent: ``(B, T, in_features)``) -> ``(out, state)``."""
        if inp.shape[-1] != self.in_features:
            raise ValueError(f"{type(self).__name__}: expected {self.in_features} input features, got {inp.shape[-1]}")
        return self.forward_projected(self.input_layer(inp), state)

    def forward_projected(self, gin: Tensor, state: Any = None) -> tuple[Tensor, Any]:
        """The net after its input map: ``gin (..., first_width)`` is ``input_layer(inp)``."""
        raise NotImplementedError


class MLPNet(CouplingNet):
    """``num_layers`` hidden layers of width ``hidden`` with ReLU; stateless."""

    def __init__(self, in_features: int, out_features: int, hidden: int = 64, num_layers: int = 2):
        super().__init__(in_features, out_features, hidden, num_layers, hidden)
        self.hidden_layers = nn.ModuleList(nn.Linear(hidden, hidden) for _ in range(num_layers - 1))

    def forward_projected(self, gin: Tensor, state: Any = None) -> tuple[Tensor, Any]:
        h = torch.relu(gin)
        for layer in self.hidden_layers:
            h = torch.relu(layer(h))
        return self.output_layer(h), state


def _check_sequence(net: CouplingNet, gin: Tensor) -> None:
    if gin.dim() != 3:
        raise ValueError(f"{type(net).__name__} needs (batch, time, features) input, got shape {tuple(gin.shape)}")


class LSTMNet(CouplingNet):
    """Stacked LSTM (``num_layers`` layers of ``hidden`` units) and a linear output layer.

    State: ``(h, c)``, each ``(num_layers, B, hidden)``. Initialised like ``nn.LSTM``
    (uniform ±1/√hidden); one bias per layer (``nn.LSTM``'s two biases only ever appear summed).

    ``impl`` picks how the recurrence runs (same parameters, same maths):

    - ``"fused"`` (default): PyTorch's own LSTM kernel (oneDNN on CPU in float32, cuDNN on
      CUDA) on the whole input ``[x1, cond]``; fastest where measured
      (``benchmarks/train_throughput.py``).
    - ``"stepwise"``: :class:`LSTMLayerFunction`, a Python loop over time with a
      hand-written backward; it accepts a precomputed first-layer input
      (:meth:`forward_projected`), which lets a model share one product of the condition
      across all couplings.
    """

    recurrent = True

    def __init__(self, in_features: int, out_features: int, hidden: int = 512, num_layers: int = 2,
                 impl: str = "fused"):
        super().__init__(in_features, out_features, hidden, num_layers, 4 * hidden)
        if impl not in ("fused", "stepwise"):
            raise ValueError(f"LSTMNet: impl must be 'fused' or 'stepwise', got {impl!r}")
        self.impl = impl
        self.upper_input_layers = nn.ModuleList(nn.Linear(hidden, 4 * hidden) for _ in range(num_layers - 1))
        self.weight_hh = nn.ParameterList(nn.Parameter(torch.empty(4 * hidden, hidden)) for _ in range(num_layers))
        self.register_buffer("_zero_bias", torch.zeros(4 * hidden), persistent=False)
        k = 1.0 / math.sqrt(hidden)
        with torch.no_grad():
            for p in [self.input_layer.weight, self.input_layer.bias, *self.weight_hh,
                      *self.upper_input_layers.parameters()]:
                p.uniform_(-k, k)

    @property
    def prefers_projection(self) -> bool:
        return self.impl == "stepwise"

    def initial_state(self, batch: int, like: Tensor) -> tuple[Tensor, Tensor]:
        """Zero ``(h, c)`` for ``batch`` sequences (dtype/device of ``like``)."""
        z = like.new_zeros(self.num_layers, batch, self.hidden)
        return z, z

    def forward(self, inp: Tensor, state: Any = None) -> tuple[Tensor, Any]:
        """``inp (B, T, in_features)`` -> ``(out (B, T, out_features), (h, c))``."""
        if self.impl == "stepwise":
            return super().forward(inp, state)
        if inp.shape[-1] != self.in_features:
            raise ValueError(f"LSTMNet: expected {self.in_features} input features, got {inp.shape[-1]}")
        _check_sequence(self, inp)
        h0, c0 = self.initial_state(inp.shape[0], inp) if state is None else state
        flat = []
        for layer in range(self.num_layers):
            lin = self.input_layer if layer == 0 else self.upper_input_layers[layer - 1]
            flat += [lin.weight, self.weight_hh[layer], lin.bias, self._zero_bias]
        hs, h, c = torch.lstm(inp, (h0, c0), flat, True, self.num_layers, 0.0, self.training, False, True)
        return self.output_layer(hs), (h, c)

    def forward_projected(self, gin: Tensor, state: Any = None) -> tuple[Tensor, Any]:
        _check_sequence(self, gin)
        h0, c0 = self.initial_state(gin.shape[0], gin) if state is None else state
        x = gin.transpose(0, 1)  # (T, B, 4H), time-major view
        h_last, c_last = [], []
        for layer in range(self.num_layers):
            hs, c_t = LSTMLayerFunction.apply(x, self.weight_hh[layer], h0[layer], c0[layer])
            h_last.append(hs[-1])
            c_last.append(c_t)
            if layer + 1 < self.num_layers:
                up = self.upper_input_layers[layer]
                x = F.linear(hs, up.weight, up.bias)
        out = self.output_layer(hs).transpose(0, 1)
        return out, (torch.stack(h_last), torch.stack(c_last))


class GRUNet(CouplingNet):
    """Stacked GRU (``torch.nn.GRU`` maths, gate order r, z, n) and a linear output layer.

    State: ``h (num_layers, B, hidden)``.
    """

    recurrent = True

    def __init__(self, in_features: int, out_features: int, hidden: int = 512, num_layers: int = 2):
        super().__init__(in_features, out_features, hidden, num_layers, 3 * hidden)
        self.upper_input_layers = nn.ModuleList(nn.Linear(hidden, 3 * hidden) for _ in range(num_layers - 1))
        self.hidden_layers = nn.ModuleList(nn.Linear(hidden, 3 * hidden) for _ in range(num_layers))  # W_hh, b_hh
        k = 1.0 / math.sqrt(hidden)
        with torch.no_grad():
            for p in [self.input_layer.weight, self.input_layer.bias, *self.hidden_layers.parameters(),
                      *self.upper_input_layers.parameters()]:
                p.uniform_(-k, k)

    def initial_state(self, batch: int, like: Tensor) -> Tensor:
        """Zero ``h`` for ``batch`` sequences."""
        return like.new_zeros(self.num_layers, batch, self.hidden)

    def forward_projected(self, gin: Tensor, state: Any = None) -> tuple[Tensor, Any]:
        _check_sequence(self, gin)
        h0 = self.initial_state(gin.shape[0], gin) if state is None else state
        H = self.hidden
        x = gin.transpose(0, 1)
        h_last = []
        for layer in range(self.num_layers):
            rec = self.hidden_layers[layer]
            h, outs = h0[layer], []
            for t in range(x.shape[0]):
                hh = F.linear(h, rec.weight, rec.bias)
                rz = torch.sigmoid(x[t, :, : 2 * H] + hh[:, : 2 * H])
                n = torch.tanh(x[t, :, 2 * H:] + rz[:, :H] * hh[:, 2 * H:])
                h = torch.lerp(n, h, rz[:, H:])  # (1 - z) n + z h
                outs.append(h)
            hs = torch.stack(outs)
            h_last.append(h)
            if layer + 1 < self.num_layers:
                up = self.upper_input_layers[layer]
                x = F.linear(hs, up.weight, up.bias)
        return self.output_layer(hs).transpose(0, 1), torch.stack(h_last)


NETS: dict[str, type[CouplingNet]] = {"mlp": MLPNet, "lstm": LSTMNet, "gru": GRUNet}


def make_net(kind: str, in_features: int, out_features: int, hidden: int, num_layers: int,
             **options: Any) -> CouplingNet:
    """Build a coupling network by name: ``"mlp"``, ``"lstm"`` or ``"gru"`` (``options``:
    extra keyword arguments of that class, e.g. ``impl="stepwise"`` for the LSTM)."""
    if kind not in NETS:
        raise ValueError(f"unknown coupling network {kind!r}; choose one of {', '.join(NETS)}")
    return NETS[kind](in_features, out_features, hidden, num_layers, **options)


__all__ = ["CouplingNet", "MLPNet", "LSTMNet", "GRUNet", "LSTMLayerFunction", "make_net", "NETS"]
