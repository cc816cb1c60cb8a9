"""Base distributions of the flows: standard normal and (heavier-tailed) Student-t.

Both are products over the ``dim`` latent features. ``log_prob(z (..., D)) -> (...)`` in
nats; ``sample(shape, temperature, generator) -> (*shape, D)`` draws the standard variate
and multiplies it by ``temperature`` (MoGlow's sampling temperature; 0 gives the mode, 0).

Example::

    >>> base = StandardNormal(3)
    >>> z = base.sample((4, 10), temperature=0.8)     # (4, 10, 3)
    >>> base.log_prob(z).shape
    torch.Size([4, 10])
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn


class BaseDistribution(nn.Module):
    """Common parts: ``dim`` and a dtype/device anchor buffer (follows ``.to()``/``.double()``)."""

    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim
        self.register_buffer("_anchor", torch.zeros(()), persistent=False)

    def extra_repr(self) -> str:
        return f"{self.dim}"

    def _check(self, z: Tensor) -> None:
        if z.shape[-1] != self.dim:
            raise ValueError(f"{type(self).__name__}({self.dim}): expected (..., {self.dim}), got {tuple(z.shape)}")

    def _standard(self, shape: tuple[int, ...], generator: torch.Generator | None) -> Tensor:
        raise NotImplementedError

    def sample(self, shape: Sequence[int] = (), temperature: float = 1.0,
               generator: torch.Generator | None = None) -> Tensor:
        """``(*shape, dim)`` draws scaled by ``temperature`` (dtype/device of the module;
        ``generator`` must live on that device)."""
        shape = (*tuple(shape), self.dim)
        if temperature == 0:
            return self._anchor.new_zeros(shape)
        return self._standard(shape, generator) * temperature

    def log_prob(self, z: Tensor) -> Tensor:  # noqa: D102
        raise NotImplementedError


class StandardNormal(BaseDistribution):
    """``N(0, I_dim)``."""

    def log_prob(self, z: Tensor) -> Tensor:
        """``z (..., dim) -> (...)`` log-density in nats."""
        self._check(z)
        return -0.5 * z.pow(2).sum(-1) - 0.5 * self.dim * math.log(2 * math.pi)

    def _standard(self, shape, generator):
        a = self._anchor
        return torch.randn(shape, generator=generator, dtype=a.dtype, device=a.device)


class StudentT(BaseDistribution):
    """Independent Student-t with ``df`` degrees of freedom (unit scale) per feature.

    Sampling uses Bailey's polar method (Math. Comp. 62, 1994), which needs only uniform
    draws, so it honours ``generator``.
    """

    def __init__(self, dim: int, df: float = 5.0):
        super().__init__(dim)
        if not df > 0:
            raise ValueError(f"StudentT: df must be positive, got {df}")
        self.df = float(df)

    def extra_repr(self) -> str:
        return f"{self.dim}, df={self.df}"

    def log_prob(self, z: Tensor) -> Tensor:
        """``z (..., dim) -> (...)`` log-density in nats."""
        self._check(z)
        v = self.df
        const = math.lgamma((v + 1) / 2) - math.lgamma(v / 2) - 0.5 * math.log(v * math.pi)
        return self.dim * const - 0.5 * (v + 1) * torch.log1p(z.pow(2) / v).sum(-1)

    def _standard(self, shape, generator):
        a = self._anchor
        n = math.prod(shape)
        out = a.new_empty(n)
        filled = 0
        while filled < n:
            m = max(16, int((n - filled) * 1.35) + 8)
            uv = torch.rand(2, m, generator=generator, dtype=a.dtype, device=a.device) * 2 - 1
            w = uv.pow(2).sum(0)
            ok = (w <= 1) & (w > 0)
            u, w = uv[0][ok], w[ok]
            t = u * torch.sqrt(self.df * (w.pow(-2.0 / self.df) - 1) / w)
            take = min(n - filled, t.numel())
            out[filled: filled + take] = t[:take]
            filled += take
        return out.view(shape)


def make_base(kind: str, dim: int, df: float = 5.0) -> BaseDistribution:
    """``"normal"`` -> :class:`StandardNormal`; ``"student_t"`` -> :class:`StudentT`."""
    if kind == "normal":
        return StandardNormal(dim)
    if kind == "student_t":
        return StudentT(dim, df)
    raise ValueError(f"unknown base distribution {kind!r}; choose 'normal' or 'student_t'")


__all__ = ["BaseDistribution", "StandardNormal", "StudentT", "make_base"]
