"""Multi-scale Real NVP for discrete images, with dequantisation and the logit inside.

Architecture (Dinh, Sohl-Dickstein & Bengio 2017, "Density estimation using Real NVP"),
with ActNorm (the project's :class:`moglow.flows.ActNorm`) in place of batch norm: each
scale but the last runs 3 checkerboard couplings, a squeeze, 3 channel-wise couplings,
and factors out half of the channels; the last scale runs 4 checkerboard couplings. The
whole flow is one shape-preserving bijection ``y (B, C, H, W) -> z (B, C, H, W)`` with a
standard-normal base on all of ``z``.

:class:`ImageFlow` adds the :class:`~baselines.images.preprocess.LogitTransform` in
front and reports bits per dimension of the discrete data
(:func:`~baselines.images.preprocess.bits_per_dim`).

Sizes (:data:`SIZES`): ``"tiny"`` (tests/CI, tens of thousands of parameters on MNIST),
``"small"``, ``"medium"`` (CPU runs) and ``"large"`` (a few million, for a GPU).

Example::

    >>> model = ImageFlow(ImageFlowConfig(shape=(1, 8, 8), levels=17, size="tiny"))
    >>> x = torch.randint(0, 17, (4, 1, 8, 8))
    >>> model.bits_per_dim(x).shape
    torch.Size([4])
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import Tensor, nn

from moglow.flows import ActNorm, Compose, Inverse, LULinear, StandardNormal
from moglow.flows.base import Bijection

from .layers import ChannelCoupling, CheckerboardCoupling, SplitApply, Squeeze
from .preprocess import LogitTransform, bits_per_dim, dequantize, quantize
from data_pipeline.errors import InputError

#: size preset -> (hidden channels of the coupling nets, residual blocks per net)
SIZES = {"tiny": (8, 1), "small": (16, 1), "medium": (32, 2), "large": (64, 4)}


@dataclass
class ImageFlowConfig:
    """Configuration of a multi-scale Real NVP.

    Attributes:
        shape: ``(C, H, W)`` of the images.
        levels: discrete grey levels of the data (256 MNIST, 17 digits).
        size: a :data:`SIZES` preset; ``hidden``/``blocks`` override it when > 0.
        scales: number of scales (each but the last halves H and W; H must be divisible by
            ``2 ** (scales - 1)``).
        couplings: checkerboard (and channel-wise) couplings per scale; the last scale gets
            ``couplings + 1`` checkerboard ones (Real NVP: 3).
        scale: the affine transform's scale, ``"exp"`` (soft-clamped, Real NVP) or ``"sigmoid"`` (Glow).
        actnorm: an ActNorm before every coupling.
        lu: an invertible 1×1 convolution (LU form) before every channel-wise coupling.
        alpha: the logit's margin.
    """

    shape: tuple = (1, 28, 28)
    levels: int = 256
    size: str = "small"
    hidden: int = 0
    blocks: int = 0
    scales: int = 2
    couplings: int = 3
    scale: str = "exp"
    actnorm: bool = True
    lu: bool = False
    alpha: float = 0.05

    def net_size(self) -> tuple[int, int]:
        """``(hidden, blocks)`` after applying the preset and overrides."""
        if self.size not in SIZES:
            raise ValueError(f"unknown size {self.size!r}; known: {', '.join(SIZES)}")
        h, b = SIZES[self.size]
        return (self.hidden or h, self.blocks or b)

    def to_dict(self) -> dict:  # noqa: D102
        d = asdict(self)
        d["shape"] = list(self.shape)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "ImageFlowConfig":  # noqa: D102
        d = dict(d)
        d["shape"] = tuple(d["shape"])
        return cls(**d)


def _with_actnorm(cfg: ImageFlowConfig, channels: int, part: Bijection) -> list[Bijection]:
    return ([ActNorm(channels, event_dims=3)] if cfg.actnorm else []) + [part]


def build_scale(cfg: ImageFlowConfig, channels: int, height: int, remaining: int) -> Bijection:
    """The flow of one scale (and, recursively, of every smaller one): ``(B, C, H, W)`` in and out."""
    hidden, blocks = cfg.net_size()
    kw = dict(hidden=hidden, blocks=blocks, scale=cfg.scale)
    parts: list[Bijection] = []
    if remaining == 1:
        for i in range(cfg.couplings + 1):
            parts += _with_actnorm(cfg, channels, CheckerboardCoupling(channels, parity=i % 2, **kw))
        return Compose(parts)
    if height % 2:
        raise InputError(f"cannot squeeze height {height} (odd); use fewer scales")
    for i in range(cfg.couplings):
        parts += _with_actnorm(cfg, channels, CheckerboardCoupling(channels, parity=i % 2, **kw))
    parts.append(Squeeze())
    c4 = 4 * channels
    for i in range(cfg.couplings):
        if cfg.lu:
            parts.append(LULinear(c4, event_dims=3))
        parts += _with_actnorm(cfg, c4, ChannelCoupling(c4, swap=bool(i % 2), **kw))
    parts.append(SplitApply(c4 // 2, build_scale(cfg, c4 - c4 // 2, height // 2, remaining - 1)))
    parts.append(Inverse(Squeeze()))
    return Compose(parts)


class ImageFlow(nn.Module):
    """Real NVP on discrete images: dequantisation → logit → multi-scale flow → N(0, I).

    Args:
        cfg: :class:`ImageFlowConfig`.
    """

    def __init__(self, cfg: ImageFlowConfig):
        super().__init__()
        self.cfg = cfg
        c, h, w = cfg.shape
        self.dims = c * h * w
        self.logit = LogitTransform(cfg.alpha)
        self.flow = build_scale(cfg, c, h, cfg.scales)
        self.base = StandardNormal(self.dims)

    def num_parameters(self) -> int:
        """Parameters (frozen ones included)."""
        return sum(p.numel() for p in self.parameters())

    def log_prob_u(self, u: Tensor) -> Tensor:
        """``u (B, C, H, W)`` scaled continuous images (in ``[0, 1)`` for dequantised data)
        -> ``log p_u(u) (B,)`` nats."""
        y, ld_logit = self.logit(u)
        z, ld_flow = self.flow(y)
        return self.base.log_prob(z.flatten(1)) + ld_logit + ld_flow

    def bits_per_dim(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """``x (B, C, H, W)`` integer levels -> ``(B,)`` bits/dim of the discrete data
        (one dequantisation draw; an upper bound on −log2 P(x) / D in expectation)."""
        dtype = next(self.parameters()).dtype
        u = dequantize(x, self.cfg.levels, generator, dtype=dtype)
        return bits_per_dim(self.log_prob_u(u), self.dims, self.cfg.levels)

    def bits_per_dim_u(self, u: Tensor) -> Tensor:
        """Bits/dim of already continuous scaled images ``u (B, C, H, W)`` (e.g. samples of a
        teacher model): ``−(log p_u(u) − D log L) / (D ln 2)``, the same scale as
        :meth:`bits_per_dim`."""
        return bits_per_dim(self.log_prob_u(u), self.dims, self.cfg.levels)

    def sample_u(self, n: int, temperature: float = 1.0, generator: torch.Generator | None = None) -> Tensor:
        """``(n, C, H, W)`` continuous samples in the scaled space (differentiable: the GAN
        generator)."""
        z = self.base.sample((n,), temperature, generator).reshape(n, *self.cfg.shape)
        y, _ = self.flow.inverse(z)
        u, _ = self.logit.inverse(y)
        return u

    @torch.no_grad()
    def sample_images(self, n: int, temperature: float = 1.0, generator: torch.Generator | None = None) -> Tensor:
        """``(n, C, H, W)`` int64 discrete samples in ``[0, levels)``."""
        return quantize(self.sample_u(n, temperature, generator), self.cfg.levels)

    @torch.no_grad()
    def initialize(self, x: Tensor, generator: torch.Generator | None = None) -> None:
        """Run ActNorm's data-dependent initialisation on a batch of integer images ``x``
        (needed before pure-GAN training, which never runs the forward direction)."""
        was = self.training
        self.train()
        self.bits_per_dim(x, generator)
        self.train(was)


@torch.no_grad()
def evaluate_bits(model: ImageFlow, images: Tensor, batch_size: int = 500, repeats: int = 1,
                  seed: int = 0) -> float:
    """Mean bits/dim of ``images (N, C, H, W)`` (integer levels) in eval mode, averaged over
    ``repeats`` seeded dequantisation draws."""
    was = model.training
    model.eval()
    g = torch.Generator().manual_seed(seed)
    total, count = 0.0, 0
    for _ in range(repeats):
        for i in range(0, len(images), batch_size):
            b = model.bits_per_dim(images[i: i + batch_size], g)
            total += float(b.double().sum())
            count += len(b)
    model.train(was)
    return total / count


@torch.no_grad()
def evaluate_bits_u(model: ImageFlow, u: Tensor, batch_size: int = 500) -> float:
    """Mean bits/dim of continuous scaled images ``u (N, C, H, W)`` in eval mode."""
    was = model.training
    model.eval()
    vals = [model.bits_per_dim_u(u[i: i + batch_size]).double() for i in range(0, len(u), batch_size)]
    model.train(was)
    return float(torch.cat(vals).mean())


__all__ = ["SIZES", "ImageFlowConfig", "ImageFlow", "build_scale", "evaluate_bits", "evaluate_bits_u"]
