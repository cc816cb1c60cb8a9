"""One Glow step for vectors: ActNorm, invertible linear map (LU), coupling.

Example::

    >>> import torch
    >>> step = glow_step(6, cond_features=4, net="lstm", hidden=32, num_layers=2)
    >>> z, logdet, state = step.forward_stateful(torch.randn(2, 9, 6), torch.randn(2, 9, 4), None)
    >>> z.shape, logdet.shape                                    # (batch, time, features), (batch, time)
    (torch.Size([2, 9, 6]), torch.Size([2, 9]))
"""
from __future__ import annotations

from typing import Any

from moglow.flows.actnorm import ActNorm
from moglow.flows.base import Compose
from moglow.flows.coupling import Coupling
from moglow.flows.linear import LULinear
from moglow.flows.transforms import TransformFamily


def glow_step(dim: int, cond_features: int = 0, net: str = "lstm", hidden: int = 512, num_layers: int = 2,
              transform: str | TransformFamily = "affine", transform_options: dict[str, Any] | None = None,
              swap: bool = False, net_options: dict[str, Any] | None = None) -> Compose:
    """``Compose([ActNorm(dim), LULinear(dim), Coupling(dim, cond_features, ...)])`` acting on
    ``(..., dim)`` (recurrent nets: ``(batch, time, dim)``); see :class:`Coupling` for the arguments."""
    return Compose([
        ActNorm(dim),
        LULinear(dim),
        Coupling(dim, cond_features, net=net, hidden=hidden, num_layers=num_layers,
                 transform=transform, swap=swap, transform_options=transform_options, net_options=net_options),
    ])


def glow_flow(dim: int, num_steps: int, cond_features: int = 0, **step_options) -> Compose:
    """``num_steps`` glow steps in a :class:`Compose` (options as for :func:`glow_step`)."""
    return Compose([glow_step(dim, cond_features, **step_options) for _ in range(num_steps)])


__all__ = ["glow_step", "glow_flow"]
