"""Augmentation: k extra Gaussian noise dimensions appended to the data.

A flow on ``D + k`` dimensions models the joint density ``p(x, ε)`` of the data and
independent noise ``ε ~ q = N(0, σ² I_k)``; hidden widths then no longer follow the data
dimension (Huang, Dinh & Courville, "Augmented Normalizing Flows", 2020; Chen et al.,
"VFlow", 2020). The joint NLL is *not* an NLL of the data. The correct quantities are

- the lower bound ``log p(x) ≥ E_q[log p(x, ε)] + H(q)`` with ``H(q) = (k/2) log(2πeσ²)``,
  i.e. the NLL bound ``−mean log p(x, ε) − H(q)``;
- the importance-sampled estimate ``log p(x) ≈ log (1/S) Σ_s p(x, ε_s) / q(ε_s)``, which
  tends to ``log p(x)`` from below as S grows (and whose exp is unbiased for ``p(x)``).

:class:`Augmentation` is the bijection part: it acts on the joint vector ``[x, ε]`` and
whitens the noise coordinates (``ε/σ``) before the inner flow. The sampling of ``ε``, the
bound and the importance-sampled estimate live in
:class:`baselines.toy.models.AugmentedFlowModel`.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

from moglow.flows.base import Bijection
from data_pipeline.errors import InputError


class Augmentation(Bijection):
    """Bijection on ``[x, ε] (..., D + k)``: ``[x, ε/σ]`` then ``inner``.

    Args:
        inner: a bijection on ``D + k`` features (last axis).
        data_dim: D.
        extra_dims: k ≥ 1, the number of appended noise dimensions.
        noise_std: σ, the std of the appended noise, in data units.
    """

    def __init__(self, inner: Bijection, data_dim: int, extra_dims: int, noise_std: float = 1.0):
        super().__init__()
        if extra_dims < 1:
            raise ValueError(f"Augmentation needs extra_dims >= 1, got {extra_dims}")
        if not noise_std > 0:
            raise InputError(f"noise_std must be positive, got {noise_std}")
        self.inner, self.data_dim, self.extra_dims, self.noise_std = inner, data_dim, extra_dims, float(noise_std)

    @property
    def total_dim(self) -> int:
        return self.data_dim + self.extra_dims

    def _check(self, v: Tensor) -> None:
        if v.shape[-1] != self.total_dim:
            raise ValueError(f"Augmentation expects {self.data_dim} data + {self.extra_dims} noise = "
                             f"{self.total_dim} features, got shape {tuple(v.shape)}")

    def forward(self, v: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``[x, ε] (..., D+k)`` -> ``(z (..., D+k), logdet (...))``."""
        self._check(v)
        scale = torch.ones(self.total_dim, dtype=v.dtype, device=v.device)
        scale[self.data_dim:] = 1.0 / self.noise_std
        z, logdet = self.inner.forward(v * scale, cond)
        return z, logdet - self.extra_dims * math.log(self.noise_std)

    def inverse(self, z: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``z (..., D+k)`` -> ``([x, ε] (..., D+k), logdet (...))``."""
        self._check(z)
        u, logdet = self.inner.inverse(z, cond)
        scale = torch.ones(self.total_dim, dtype=z.dtype, device=z.device)
        scale[self.data_dim:] = self.noise_std
        return u * scale, logdet + self.extra_dims * math.log(self.noise_std)

    # --------------------------------------------------------------- the noise q(ε)
    def sample_noise(self, shape: tuple[int, ...], generator: torch.Generator | None = None,
                     dtype: torch.dtype = torch.float32) -> Tensor:
        """``ε ~ N(0, σ² I_k)`` of shape ``(*shape, k)``."""
        return torch.randn(*shape, self.extra_dims, generator=generator, dtype=dtype) * self.noise_std

    def noise_log_prob(self, eps: Tensor) -> Tensor:
        """``log q(ε)`` in nats, ``eps (..., k)`` -> ``(...)``."""
        var = self.noise_std**2
        return -0.5 * (eps.pow(2).sum(-1) / var + self.extra_dims * math.log(2 * math.pi * var))

    def noise_entropy(self) -> float:
        """``H(q) = (k/2) log(2πeσ²)`` in nats."""
        return 0.5 * self.extra_dims * math.log(2 * math.pi * math.e * self.noise_std**2)
