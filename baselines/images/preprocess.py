"""Uniform dequantisation, the logit transform and bits per dimension of discrete images.

The model's density lives on the continuous logit space ``y``; what is reported is always
the **bits per dimension of the discrete data**. For an image ``x`` of ``D`` pixels with
levels ``0 … L − 1``:

1. dequantise: ``v = x + ε``, ``ε ~ U[0, 1)^D``, and scale: ``u = v / L ∈ [0, 1)^D``;
2. logit (Real NVP): ``p = α + (1 − 2α) u``, ``y = log p − log(1 − p)``;
3. the flow maps ``y`` to a standard normal ``z``.

By the change of variables, ``log p_u(u) = log p_z(z) + log|det dz/dy| + log|det dy/du|``
with ``log|dy/du| = log(1 − 2α) − log p − log(1 − p)`` per pixel, and
``log p_v(v) = log p_u(u) − D log L``. Jensen's inequality makes ``E_ε[−log p_v(x + ε)]``
an upper bound on ``−log P(x)`` of the discrete data (Theis et al. 2016), so

    bits/dim = −(log p_u(u) − D log L) / (D ln 2)

with ``L = 256`` (the ``−log 256`` per dimension term) for MNIST and ``L = 17`` for the 8×8
digits. A density that is uniform on ``[0, 1)`` in ``u`` gives exactly ``log2 L`` (8 bits/dim
for 256 levels): a model that has learned nothing about uniform-noise images sits there,
and a sign error in any term shows up as a value below it (or negative).

Example::

    >>> t = LogitTransform(alpha=0.05)
    >>> u = torch.rand(2, 1, 4, 4)
    >>> y, ld = t(u)                      # ld: (2,) = log|det dy/du|
    >>> torch.allclose(t.inverse(y)[0], u, atol=1e-6)
    True
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from moglow.flows.base import Bijection

LN2 = math.log(2.0)


def dequantize(x: Tensor, levels: int, generator: torch.Generator | None = None,
               dtype: torch.dtype = torch.float32) -> Tensor:
    """Uniform dequantisation: ``(x + U[0,1)) / levels``.

    Args:
        x: ``(B, C, H, W)`` integer levels in ``[0, levels)``.
        levels: number of discrete levels ``L``.
    Returns:
        ``u (B, C, H, W)`` in ``[0, 1)``, dtype ``dtype``.
    """
    noise = torch.rand(x.shape, generator=generator, dtype=dtype, device=x.device)
    return (x.to(dtype) + noise) / levels


def quantize(u: Tensor, levels: int) -> Tensor:
    """Inverse of :func:`dequantize` up to the noise: ``floor(u · L)`` clipped to ``[0, L)``; int64."""
    return torch.clamp(torch.floor(u * levels), 0, levels - 1).long()


class LogitTransform(Bijection):
    """``u ∈ (0, 1)`` (dequantised, scaled pixels) ↔ ``y ∈ ℝ`` (Real NVP's logit space).

    ``y = logit(α + (1 − 2α) u)``; ``forward`` returns ``log|det dy/du|`` summed per image.
    ``α`` keeps the logit away from ±∞ at the boundary pixels (Real NVP: 0.05).

    Args:
        alpha: the margin ``α ∈ [0, 0.5)``.
    """

    event_dims = 3

    def __init__(self, alpha: float = 0.05):
        super().__init__()
        if not 0.0 <= alpha < 0.5:
            raise ValueError(f"LogitTransform: alpha must lie in [0, 0.5), got {alpha}")
        self.alpha = float(alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"

    def forward(self, u: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``u (B, C, H, W) -> (y, log|det dy/du| (B,))``."""
        p = self.alpha + (1.0 - 2.0 * self.alpha) * u
        y = torch.log(p) - torch.log1p(-p)
        ld = math.log(1.0 - 2.0 * self.alpha) - torch.log(p) - torch.log1p(-p)
        return y, ld.flatten(1).sum(1)

    def inverse(self, y: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``y (B, C, H, W) -> (u, log|det du/dy| (B,))``."""
        u = (torch.sigmoid(y) - self.alpha) / (1.0 - 2.0 * self.alpha)
        # log sigmoid(y) + log sigmoid(-y) = -softplus(-y) - softplus(y)
        ld = -F.softplus(-y) - F.softplus(y) - math.log(1.0 - 2.0 * self.alpha)
        return u, ld.flatten(1).sum(1)


def bits_per_dim(log_prob_u: Tensor, dims: int, levels: int) -> Tensor:
    """Bits per dimension of the discrete data from the log-density of the scaled,
    dequantised images.

    Args:
        log_prob_u: ``(...)`` nats, ``log p_u(u)`` with ``u = (x + ε) / levels`` in ``[0, 1)``.
        dims: pixels per image ``D``.
        levels: discrete levels ``L`` (256 for MNIST, 17 for the 8×8 digits).
    Returns:
        ``(...)`` bits/dim ``= −(log p_u(u) − D log L) / (D ln 2)``.
    """
    return -(log_prob_u - dims * math.log(levels)) / (dims * LN2)


__all__ = ["dequantize", "quantize", "LogitTransform", "bits_per_dim", "LN2"]
