"""Activation normalisation (Glow, Kingma & Dhariwal 2018) with data-dependent initialisation.

``z = (x + bias) * exp(log_scale)`` per channel. The first forward pass in training mode
sets ``bias`` and ``log_scale`` so that the batch's output has zero mean and unit variance
per channel, then sets the ``initialized`` buffer. A channel with (near) zero variance gets
``log_scale = 0`` instead of an infinite scale.

Multi-process training: the initialisation must be the same on every rank. Run one forward
pass (``torch.no_grad()``, training mode) on rank 0's first batch *before* wrapping the
model in DistributedDataParallel — DDP's constructor broadcasts rank 0's parameters and
buffers, ``initialized`` included — or call :func:`broadcast_actnorm` after initialising
on every rank. ``initialized`` is a buffer, so DDP (``broadcast_buffers=True``, the
default) keeps it in sync and checkpoints restore it: a resumed run never re-initialises.

Example::

    >>> an = ActNorm(3)
    >>> z, ld = an(torch.randn(100, 3) * 5 + 2)   # initialises on this batch
    >>> bool(an.initialized)
    True
"""
from __future__ import annotations


import torch
from torch import Tensor, nn

from moglow.flows.base import Bijection


class ActNorm(Bijection):
    """Per-channel affine map with data-dependent initialisation.

    Args:
        num_features: channels ``C``.
        event_dims: 1 for vectors ``(..., C)`` (log-det shape ``x.shape[:-1]``), 3 for
            images ``(B, C, H, W)`` (per channel, log-det ``(B,)`` counts ``H*W`` positions).
        min_std: a channel whose batch std is at most this keeps scale 1 at initialisation.
    """

    def __init__(self, num_features: int, event_dims: int = 1, min_std: float = 1e-6):
        super().__init__()
        if event_dims not in (1, 3):
            raise ValueError(f"ActNorm: event_dims must be 1 (vectors) or 3 (images), got {event_dims}")
        self.num_features, self.event_dims, self.min_std = num_features, event_dims, min_std
        self.bias = nn.Parameter(torch.zeros(num_features))
        self.log_scale = nn.Parameter(torch.zeros(num_features))
        self.register_buffer("initialized", torch.tensor(0, dtype=torch.uint8))

    def extra_repr(self) -> str:
        return f"{self.num_features}, event_dims={self.event_dims}"

    def _shape(self, x: Tensor) -> tuple[list[int], int]:
        """Broadcast shape of the per-channel parameters and the positions per example."""
        c = self.num_features
        if self.event_dims == 1:
            if x.shape[-1] != c:
                raise ValueError(f"ActNorm({c}): expected (..., {c}), got {tuple(x.shape)}")
            return [c], 1
        if x.dim() != 4 or x.shape[1] != c:
            raise ValueError(f"ActNorm({c}, event_dims=3): expected (B, {c}, H, W), got {tuple(x.shape)}")
        return [c, 1, 1], x.shape[2] * x.shape[3]

    @torch.no_grad()
    def initialize(self, x: Tensor) -> None:
        """Set bias and scale from the batch ``x`` (statistics over every axis but the channel)."""
        xc = x.movedim(-3, -1) if self.event_dims == 3 else x
        flat = xc.reshape(-1, self.num_features).to(self.bias.dtype)
        mean = flat.mean(0)
        std = flat.std(0, unbiased=False) if flat.shape[0] > 1 else torch.zeros_like(mean)
        ok = torch.isfinite(std) & (std > self.min_std)
        self.bias.copy_(-mean)
        self.log_scale.copy_(torch.where(ok, -torch.log(torch.where(ok, std, torch.ones_like(std))),
                                         torch.zeros_like(std)))
        self.initialized.fill_(1)

    def _logdet(self, x: Tensor, positions: int, sign: float) -> Tensor:
        ld = self.log_scale.sum() * (sign * positions)
        return ld.expand(x.shape[: x.dim() - self.event_dims])

    def forward(self, x: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        shape, positions = self._shape(x)
        if self.training and not self.initialized:
            self.initialize(x)
        z = (x + self.bias.view(shape)) * torch.exp(self.log_scale).view(shape)
        return z, self._logdet(x, positions, 1.0)

    def inverse(self, z: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        shape, positions = self._shape(z)
        x = z * torch.exp(-self.log_scale).view(shape) - self.bias.view(shape)
        return x, self._logdet(z, positions, -1.0)


def actnorms(module: nn.Module) -> list[ActNorm]:
    """Every ActNorm inside ``module``."""
    return [m for m in module.modules() if isinstance(m, ActNorm)]


def all_initialized(module: nn.Module) -> bool:
    """True when every ActNorm in ``module`` has been initialised (or there is none)."""
    return all(bool(m.initialized) for m in actnorms(module))


@torch.no_grad()
def broadcast_actnorm(module: nn.Module, src: int = 0) -> None:
    """Copy rank ``src``'s ActNorm parameters and flags to every rank (no-op without a
    process group). Call on all ranks after a data-dependent initialisation."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return
    for m in actnorms(module):
        for t in (m.bias, m.log_scale, m.initialized):
            dist.broadcast(t.data, src)


__all__ = ["ActNorm", "actnorms", "all_initialized", "broadcast_actnorm"]
