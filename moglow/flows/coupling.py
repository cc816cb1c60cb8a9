"""Coupling layer (NICE/RealNVP/Glow) with a pluggable transform family and network.

The input ``x (..., D)`` splits on the last axis into ``x1`` (``D // 2`` features, left
unchanged) and ``x2`` (the rest, transformed). The network reads ``[x1, cond]`` per frame
and outputs the transform's parameters; the transform family (``"affine"``,
``"additive"``, McMoGlow's ``"matrix"``, or any :class:`TransformFamily` instance) maps
``x2``. ``swap=True`` exchanges the roles (the last ``D // 2`` features condition the
first ones).

With a recurrent network (``net="lstm"`` or ``"gru"``) the input must be
``(batch, time, D)`` and the condition ``(batch, time, C)``; the network state is passed in
and handed back by :meth:`Coupling.forward_stateful` / :meth:`Coupling.inverse_stateful`
(``None`` = start of the sequence). Running a sequence in one call or frame by frame
with the state carried over gives the same result.

Example::

    >>> c = Coupling(6, cond_features=3, net="lstm", hidden=16, num_layers=1)
    >>> x, cond = torch.randn(2, 5, 6), torch.randn(2, 5, 3)
    >>> z, logdet, state = c.forward_stateful(x, cond, None)   # logdet (2, 5)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from moglow.flows.base import State, StatefulBijection
from moglow.flows.conditioners import make_net
from moglow.flows.transforms import TransformFamily, get_transform


@dataclass(frozen=True)
class ProjectedCondition:
    """A coupling's condition already mapped by its first layer: ``proj (..., first_width)`` =
    :meth:`Coupling.cond_projection` of the condition, passed where the condition goes (a model
    may compute it for many couplings in one product; :class:`moglow.flows.base.PerPart` hands
    each coupling its own)."""

    proj: Tensor


class Coupling(StatefulBijection):
    """Vector coupling on the last axis.

    Args:
        num_features: ``D`` (at least 2).
        cond_features: ``C``, features of the condition (0: unconditional; a condition
            passed anyway is ignored, as Compose hands it to every part).
        net: ``"mlp"``, ``"lstm"`` or ``"gru"``.
        hidden, num_layers: network width and depth (LSTM/GRU layers, MLP hidden layers).
        transform: a registered name or a :class:`TransformFamily` instance.
        swap: condition on the last ``D // 2`` features instead of the first.
        transform_options: keyword options for ``get_transform`` (e.g. ``{"scale": "exp"}``).
        net_options: extra keyword options of the network class (e.g. ``{"impl": "stepwise"}``).
    """

    def __init__(self, num_features: int, cond_features: int = 0, net: str = "mlp", hidden: int = 64,
                 num_layers: int = 2, transform: str | TransformFamily = "affine", swap: bool = False,
                 transform_options: dict[str, Any] | None = None, net_options: dict[str, Any] | None = None):
        super().__init__()
        if num_features < 2:
            raise ValueError(f"Coupling needs at least 2 features, got {num_features}")
        self.num_features, self.cond_features, self.swap = num_features, cond_features, swap
        self.n_id = num_features // 2
        self.n_tr = num_features - self.n_id
        if isinstance(transform, str):
            transform = get_transform(transform, **(transform_options or {}))
        elif not isinstance(transform, TransformFamily):
            raise TypeError(f"Coupling: transform must be a name or a TransformFamily, got {type(transform).__name__}")
        self.transform = transform
        self.net = make_net(net, self.n_id + cond_features, transform.num_params(self.n_tr), hidden, num_layers,
                            **(net_options or {}))

    def extra_repr(self) -> str:
        return f"{self.num_features}, cond_features={self.cond_features}, swap={self.swap}"

    @property
    def is_recurrent(self) -> bool:
        return self.net.recurrent

    # ---- splitting -------------------------------------------------------------------
    def split(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``x (..., D) -> (x1 (..., D//2) unchanged part, x2 (..., D - D//2) transformed part)``."""
        if x.shape[-1] != self.num_features:
            raise ValueError(f"Coupling({self.num_features}): expected (..., {self.num_features}), "
                             f"got {tuple(x.shape)}")
        if self.swap:
            return x[..., self.n_tr:], x[..., : self.n_tr]
        return x[..., : self.n_id], x[..., self.n_id:]

    def merge(self, x1: Tensor, x2: Tensor) -> Tensor:
        """Inverse of :meth:`split`."""
        return torch.cat([x2, x1] if self.swap else [x1, x2], -1)

    # ---- the condition's share of the first layer --------------------------------------
    def cond_weight(self) -> tuple[Tensor, Tensor]:
        """``(W_cond (first_width, C), bias (first_width,))``: the first layer's map of the
        condition and its bias, so ``cond_projection(cond) = cond @ W_cond.T + bias``."""
        layer = self.net.input_layer
        return layer.weight[:, self.n_id:], layer.bias

    def cond_projection(self, cond: Tensor) -> Tensor:
        """``cond (..., C) -> (..., first_width)``: what :meth:`forward_stateful` accepts
        as a :class:`ProjectedCondition` (a model may compute it for many couplings in one product)."""
        w, b = self.cond_weight()
        return F.linear(cond, w, b)

    def _params(self, x1: Tensor, cond: Tensor | ProjectedCondition | None, state: State):
        """The network on ``[x1, cond]`` (or on ``x1`` plus a precomputed projection of the condition)."""
        layer = self.net.input_layer
        cond_proj = None
        if isinstance(cond, ProjectedCondition):
            cond, cond_proj = None, cond.proj
        if cond_proj is None and self.cond_features:
            if cond is None:
                raise ValueError(f"this coupling needs a condition of {self.cond_features} features")
            cond = _match_condition(cond, x1, self.cond_features)
            if not self.net.prefers_projection:
                return self.net(torch.cat([x1, cond], -1), state)
            cond_proj = self.cond_projection(cond)
        if cond_proj is None:
            return self.net(x1, state)
        return self.net.forward_projected(F.linear(x1, layer.weight[:, : self.n_id]) + cond_proj, state)

    # ---- the bijection -----------------------------------------------------------------
    def forward_stateful(self, x: Tensor, cond: Tensor | ProjectedCondition | None,
                         state: State) -> tuple[Tensor, Tensor, State]:
        """``x (..., D)``, ``cond (..., C)`` (or its :class:`ProjectedCondition`) ->
        ``(z (..., D), logdet (...), state)``."""
        x1, x2 = self.split(x)
        params, state = self._params(x1, cond, state)
        y2, logdet = self.transform(x2, params)
        return self.merge(x1, y2), logdet, state

    def inverse_stateful(self, z: Tensor, cond: Tensor | ProjectedCondition | None,
                         state: State) -> tuple[Tensor, Tensor, State]:
        """``z (..., D)`` -> ``(x (..., D), logdet (...) = log|det dx/dz|, state)``."""
        z1, z2 = self.split(z)
        params, state = self._params(z1, cond, state)
        x2, logdet = self.transform.inverse(z2, params)
        return self.merge(z1, x2), logdet, state


def _match_condition(cond: Tensor, x: Tensor, features: int) -> Tensor:
    """Check ``cond``'s feature count; a per-sequence condition ``(B, C)`` for ``(B, T, ·)``
    input is repeated over time."""
    if cond.shape[-1] != features:
        raise ValueError(f"condition has {cond.shape[-1]} features, the coupling expects {features}")
    if cond.dim() == x.dim() - 1 and x.dim() == 3:
        cond = cond.unsqueeze(1).expand(-1, x.shape[1], -1)
    if cond.shape[:-1] != x.shape[:-1]:
        raise ValueError(f"condition shape {tuple(cond.shape)} does not match input shape {tuple(x.shape)}")
    return cond


__all__ = ["Coupling", "ProjectedCondition"]
