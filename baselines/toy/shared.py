"""A shared-weight invertible network: one step reused at every depth.

Instead of K steps with K sets of weights (Glow), one invertible step — an invertible
linear layer in LU form, a bias (or an ActNorm) and an invertible activation — is applied
K times. The parameter count does not grow with depth: for D features it is about
``D² + D`` (plus the activation's) against Glow's K coupling networks.

Example::

    >>> flow = shared_inn(2, num_steps=8, activation="paaf", paaf_init="data")
    >>> z, logdet = flow(torch.randn(512, 2))
"""
from __future__ import annotations


import torch
from torch import Tensor, nn

from baselines.toy.paaf import LEAKY_SMOOTH_GRAD, PAAF, PAAF_SMOOTH_GRAD, LeakyReLU, smooth_grad_for
from moglow.flows.actnorm import ActNorm
from moglow.flows.base import Bijection, Compose
from moglow.flows.linear import LULinear
from data_pipeline.errors import InputError


class Shift(Bijection):
    """Learnable bias ``z = x + b`` on the last axis (log-det 0), zero-initialised."""

    def __init__(self, num_features: int):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(num_features))

    def forward(self, x: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        return x + self.bias, x.new_zeros(x.shape[:-1])

    def inverse(self, z: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        return z - self.bias, z.new_zeros(z.shape[:-1])


class SharedWeightFlow(Bijection):
    """Applies the same bijection ``step`` ``num_steps`` times (shared weights).

    ``forward``: ``x -> step(step(... step(x)))``; ``inverse`` undoes it with
    ``step.inverse`` as many times. Log-dets add up. ``step`` must be stateless.
    """

    def __init__(self, step: Bijection, num_steps: int):
        super().__init__()
        if num_steps < 1:
            raise InputError(f"SharedWeightFlow needs num_steps >= 1, got {num_steps}")
        if step.is_recurrent:
            raise ValueError("SharedWeightFlow takes a stateless step")
        self.step, self.num_steps = step, num_steps
        self.event_dims = step.event_dims

    def extra_repr(self) -> str:
        return f"num_steps={self.num_steps}"

    def forward(self, x: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``x (..., D)`` -> ``(z (..., D), logdet (...))``."""
        total = 0.0
        for _ in range(self.num_steps):
            x, ld = self.step.forward(x, cond)
            total = total + ld
        return x, total

    def inverse(self, z: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``z (..., D)`` -> ``(x (..., D), logdet (...))``, logdet = log|det dx/dz|."""
        total = 0.0
        for _ in range(self.num_steps):
            z, ld = self.step.inverse(z, cond)
            total = total + ld
        return z, total


def shared_step(dim: int, activation: str = "leaky", normalize: bool = False, negative_slope: float = 0.5,
                num_breakpoints: int = 8, paaf_init: str = "fixed", paaf_span: tuple[float, float] = (-2.0, 2.0),
                logdet_gradient: str = "smoothed") -> Compose:
    """One step ``LULinear -> (ActNorm | Shift) -> activation``.

    Args:
        dim: features D.
        activation: ``"leaky"`` (fixed Leaky ReLU) or ``"paaf"`` (learnable PAAF).
        normalize: ActNorm (data-initialised bias and scale) after the linear layer instead of
            a plain learnable bias: the activation then sees normalised inputs.
        negative_slope: the Leaky ReLU's slope for x < 0.
        num_breakpoints, paaf_init, paaf_span: the PAAF's options (see :class:`PAAF`).
        logdet_gradient: ``"smoothed"`` (the activation's log-det takes its gradient from the
            sigmoid surrogate) or ``"plain"`` (autograd of the exact log-det, ``smooth_grad=0``).
    """
    parts: list[Bijection] = [LULinear(dim), ActNorm(dim) if normalize else Shift(dim)]
    if activation == "leaky":
        parts.append(LeakyReLU(negative_slope, smooth_grad_for(logdet_gradient, LEAKY_SMOOTH_GRAD)))
    elif activation == "paaf":
        parts.append(PAAF(dim, num_breakpoints, init=paaf_init, span=paaf_span,
                          smooth_grad=smooth_grad_for(logdet_gradient, PAAF_SMOOTH_GRAD)))
    else:
        raise ValueError(f"unknown activation {activation!r}; choose 'leaky' or 'paaf'")
    return Compose(parts)


def shared_inn(dim: int, num_steps: int = 8, **step_options) -> SharedWeightFlow:
    """A :class:`SharedWeightFlow` of :func:`shared_step` (options passed through)."""
    return SharedWeightFlow(shared_step(dim, **step_options), num_steps)
