"""Invertible linear map in LU form (Glow's invertible 1×1 convolution).

``W = P @ L @ (U + diag(sign * exp(log_s)))`` with ``P`` a fixed permutation, ``L`` unit
lower-triangular and ``U`` strictly upper-triangular; ``log|det W| = sum(log_s)``.
Initialised from a random rotation, so the map starts orthogonal. ``forward`` is
``z = W x`` per position; ``inverse`` solves two triangular systems. In eval mode with
gradients off (sampling), the inverse weight is computed once and cached; the cache is
dropped in training mode and rebuilt whenever a parameter or buffer changes (an optimiser
step, ``load_state_dict``, ``.to()``).

Example::

    >>> lin = LULinear(4)
    >>> x = torch.randn(10, 4)
    >>> z, ld = lin(x)
    >>> torch.allclose(lin.inverse(z)[0], x, atol=1e-5)
    True
"""
from __future__ import annotations


import torch
from torch import Tensor, nn

from moglow.flows.base import Bijection


class LULinear(Bijection):
    """Invertible ``C × C`` linear map on channels, parameterised by its LU decomposition.

    Args:
        num_features: channels ``C``.
        event_dims: 1 for vectors ``(..., C)``; 3 for images ``(B, C, H, W)`` (a 1×1
            convolution; the log-det counts ``H*W`` positions).
        generator: optional RNG for the random initial rotation.
    """

    def __init__(self, num_features: int, event_dims: int = 1, generator: torch.Generator | None = None):
        super().__init__()
        if event_dims not in (1, 3):
            raise ValueError(f"LULinear: event_dims must be 1 (vectors) or 3 (images), got {event_dims}")
        self.num_features, self.event_dims = num_features, event_dims
        c = num_features
        q, _ = torch.linalg.qr(torch.randn(c, c, generator=generator, dtype=torch.float64))
        p, lower, upper = torch.linalg.lu(q)
        diag = torch.diagonal(upper)
        self.register_buffer("perm", p.to(torch.get_default_dtype()))
        self.register_buffer("sign", torch.sign(diag).to(torch.get_default_dtype()))
        self.register_buffer("lower_mask", torch.tril(torch.ones(c, c), -1), persistent=False)
        self.lower = nn.Parameter(torch.tril(lower, -1).to(torch.get_default_dtype()))
        self.upper = nn.Parameter(torch.triu(upper, 1).to(torch.get_default_dtype()))
        self.log_s = nn.Parameter(torch.log(diag.abs()).to(torch.get_default_dtype()))
        self._inv_cache: tuple[tuple, Tensor] | None = None

    def extra_repr(self) -> str:
        return f"{self.num_features}, event_dims={self.event_dims}"

    def _factors(self) -> tuple[Tensor, Tensor]:
        """Unit-lower ``L`` and upper ``U`` (with its diagonal), both ``(C, C)``."""
        eye = torch.eye(self.num_features, dtype=self.lower.dtype, device=self.lower.device)
        lower = self.lower * self.lower_mask + eye
        upper = self.upper * self.lower_mask.t() + torch.diag(self.sign * torch.exp(self.log_s))
        return lower, upper

    def weight(self) -> Tensor:
        """``W (C, C)``, with ``z = W @ x``."""
        lower, upper = self._factors()
        return self.perm @ lower @ upper

    def _inverse_weight_uncached(self) -> Tensor:
        """``W^{-1} = U^{-1} L^{-1} P^T`` by two triangular solves."""
        lower, upper = self._factors()
        y = torch.linalg.solve_triangular(lower, self.perm.t(), upper=False, unitriangular=True)
        return torch.linalg.solve_triangular(upper, y, upper=True)

    def inverse_weight(self) -> Tensor:
        """``W^{-1} (C, C)``; cached in eval mode when gradients are off."""
        if self.training or torch.is_grad_enabled():
            self._inv_cache = None
            return self._inverse_weight_uncached()
        key = tuple((p.data_ptr(), p._version, p.dtype, p.device)
                    for p in (self.lower, self.upper, self.log_s, self.perm, self.sign))
        if self._inv_cache is None or self._inv_cache[0] != key:
            self._inv_cache = (key, self._inverse_weight_uncached())
        return self._inv_cache[1]

    def train(self, mode: bool = True):  # noqa: D102
        self._inv_cache = None
        return super().train(mode)

    def _apply_matrix(self, x: Tensor, w: Tensor) -> Tensor:
        if self.event_dims == 1:
            if x.shape[-1] != self.num_features:
                raise ValueError(f"LULinear({self.num_features}): expected (..., {self.num_features}), "
                                 f"got {tuple(x.shape)}")
            return x @ w.t()
        if x.dim() != 4 or x.shape[1] != self.num_features:
            raise ValueError(f"LULinear({self.num_features}, event_dims=3): expected (B, C, H, W), "
                             f"got {tuple(x.shape)}")
        return torch.einsum("ij,bjhw->bihw", w, x)

    def _logdet(self, x: Tensor, sign: float) -> Tensor:
        positions = 1 if self.event_dims == 1 else x.shape[2] * x.shape[3]
        return (self.log_s.sum() * (sign * positions)).expand(x.shape[: x.dim() - self.event_dims])

    def forward(self, x: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        return self._apply_matrix(x, self.weight()), self._logdet(x, 1.0)

    def inverse(self, z: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        return self._apply_matrix(z, self.inverse_weight()), self._logdet(z, -1.0)


__all__ = ["LULinear"]
