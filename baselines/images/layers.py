"""Image-shaped bijections for Real NVP, built on the project's bijection core.

All act on ``(B, C, H, W)`` images (``event_dims = 3``) and return one log-det per image
``(B,)``. The affine maps themselves come from :mod:`moglow.flows.transforms` (the
coupling's transform family, applied per pixel on the channel axis); ActNorm and the LU
1×1 convolution are :class:`moglow.flows.ActNorm` / :class:`moglow.flows.LULinear`
with ``event_dims=3``. This module adds only what is image-specific:

- :class:`ResNetConditioner` — the small residual conv net that outputs coupling parameters;
- :class:`CheckerboardCoupling` — spatial checkerboard mask (Real NVP, Dinh et al. 2017);
- :class:`ChannelCoupling` — channel-wise mask (half the channels condition the rest);
- :class:`Squeeze` — space-to-depth ``(C, H, W) → (4C, H/2, W/2)``;
- :class:`SplitApply` — multi-scale "factor-out": the first channels leave the flow (they
  are latent variables from here on), the rest go through an inner bijection. Shapes are
  kept, so a whole multi-scale model is one shape-preserving :class:`Bijection` whose output
  is the full latent ``z``.

Example::

    >>> c = CheckerboardCoupling(1, hidden=8, blocks=1, parity=0)
    >>> z, ld = c(torch.randn(2, 1, 8, 8))     # ld: (2,)
"""
from __future__ import annotations


import torch
import torch.nn.functional as F
from torch import Tensor, nn

from moglow.flows.base import Bijection
from moglow.flows.transforms import TransformFamily, get_transform


def _check_image(x: Tensor, channels: int, who: str) -> None:
    if x.dim() != 4 or x.shape[1] != channels:
        raise ValueError(f"{who}: expected images (B, {channels}, H, W), got {tuple(x.shape)}")


def _make_transform(transform: str | TransformFamily, scale: str) -> TransformFamily:
    return transform if isinstance(transform, TransformFamily) else get_transform(transform, scale=scale)


class ResNetConditioner(nn.Module):
    """Small residual conv net: ``(B, in, H, W) -> (B, out, H, W)``, 3×3 convolutions,
    ``blocks`` residual blocks of two convs with ReLU, zero-initialised output conv (so every
    coupling starts as the transform at zero parameters). No batch statistics: examples in
    a batch never influence each other."""

    def __init__(self, in_channels: int, out_channels: int, hidden: int = 32, blocks: int = 2):
        super().__init__()
        self.input = nn.Conv2d(in_channels, hidden, 3, padding=1)
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.ReLU(), nn.Conv2d(hidden, hidden, 3, padding=1),
                          nn.ReLU(), nn.Conv2d(hidden, hidden, 3, padding=1))
            for _ in range(blocks))
        self.output = nn.Conv2d(hidden, out_channels, 3, padding=1)
        nn.init.zeros_(self.output.weight)
        nn.init.zeros_(self.output.bias)

    def forward(self, x: Tensor) -> Tensor:  # noqa: D102
        h = self.input(x)
        for block in self.blocks:
            h = h + block(h)
        return self.output(F.relu(h))


class _ImageCoupling(Bijection):
    """Shared parts: a transform family applied per pixel on the channel axis."""

    event_dims = 3

    def _transform_pixels(self, x2: Tensor, params: Tensor, inverse: bool) -> tuple[Tensor, Tensor]:
        """``x2 (B, d, H, W)``, ``params (B, P, H, W)`` -> ``(y2 (B, d, H, W), logdet (B, H, W))``."""
        a, p = x2.movedim(1, -1), params.movedim(1, -1)
        y, ld = (self.transform.inverse if inverse else self.transform)(a, p)
        return y.movedim(-1, 1), ld


class CheckerboardCoupling(_ImageCoupling):
    """Affine coupling with a spatial checkerboard mask.

    Pixels with ``(h + w) % 2 == parity`` stay unchanged and (with the mask itself as an
    extra input channel) feed the net; the others are transformed with the net's parameters.

    Args:
        channels: ``C``. hidden, blocks: size of the :class:`ResNetConditioner`.
        parity: 0 or 1, which half of the board is kept.
        transform: a registered family name (``"affine"``, ``"additive"``) or an instance.
        scale: the affine family's scale (``"sigmoid"`` or ``"exp"``).
    """

    def __init__(self, channels: int, hidden: int = 32, blocks: int = 2, parity: int = 0,
                 transform: str | TransformFamily = "affine", scale: str = "exp"):
        super().__init__()
        if parity not in (0, 1):
            raise ValueError(f"CheckerboardCoupling: parity must be 0 or 1, got {parity}")
        self.channels, self.parity = channels, parity
        self.transform = _make_transform(transform, scale)
        self.net = ResNetConditioner(channels + 1, self.transform.num_params(channels), hidden, blocks)

    def extra_repr(self) -> str:
        return f"{self.channels}, parity={self.parity}"

    def _mask(self, x: Tensor) -> Tensor:
        h, w = x.shape[2], x.shape[3]
        idx = torch.arange(h, device=x.device)[:, None] + torch.arange(w, device=x.device)[None, :]
        return ((idx % 2) == self.parity).to(x.dtype)  # (H, W), 1 = kept

    def _run(self, x: Tensor, inverse: bool) -> tuple[Tensor, Tensor]:
        _check_image(x, self.channels, type(self).__name__)
        mask = self._mask(x)
        kept = x * mask
        params = self.net(torch.cat([kept, mask.expand(x.shape[0], 1, *mask.shape)], 1))
        y, ld = self._transform_pixels(x, params, inverse)
        out = torch.where(mask.bool(), x, y)
        return out, (ld * (1.0 - mask)).flatten(1).sum(1)

    def forward(self, x: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:  # noqa: D102
        return self._run(x, inverse=False)

    def inverse(self, z: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:  # noqa: D102
        return self._run(z, inverse=True)


class ChannelCoupling(_ImageCoupling):
    """Affine coupling with a channel-wise mask: the first ``C // 2`` channels (the last
    ones with ``swap=True``) stay unchanged and condition the others.

    Args as for :class:`CheckerboardCoupling`; ``channels`` must be at least 2.
    """

    def __init__(self, channels: int, hidden: int = 32, blocks: int = 2, swap: bool = False,
                 transform: str | TransformFamily = "affine", scale: str = "exp"):
        super().__init__()
        if channels < 2:
            raise ValueError(f"ChannelCoupling needs at least 2 channels, got {channels}")
        self.channels, self.swap = channels, bool(swap)
        self.n_kept = channels - channels // 2 if swap else channels // 2
        n_changed = channels - self.n_kept
        self.transform = _make_transform(transform, scale)
        self.net = ResNetConditioner(self.n_kept, self.transform.num_params(n_changed), hidden, blocks)

    def extra_repr(self) -> str:
        return f"{self.channels}, swap={self.swap}"

    def _run(self, x: Tensor, inverse: bool) -> tuple[Tensor, Tensor]:
        _check_image(x, self.channels, type(self).__name__)
        if self.swap:
            x2, x1 = x[:, : self.channels - self.n_kept], x[:, self.channels - self.n_kept:]
        else:
            x1, x2 = x[:, : self.n_kept], x[:, self.n_kept:]
        y2, ld = self._transform_pixels(x2, self.net(x1), inverse)
        out = torch.cat([y2, x1] if self.swap else [x1, y2], 1)
        return out, ld.flatten(1).sum(1)

    def forward(self, x: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:  # noqa: D102
        return self._run(x, inverse=False)

    def inverse(self, z: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:  # noqa: D102
        return self._run(z, inverse=True)


class Squeeze(Bijection):
    """Space-to-depth: ``(B, C, H, W) -> (B, 4C, H/2, W/2)``, each 2×2 block becomes 4
    channels (channel ``4c + 2i + j`` holds pixel ``(2h + i, 2w + j)`` of channel ``c``).
    A permutation: log-det 0. ``H`` and ``W`` must be even."""

    event_dims = 3

    def forward(self, x: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:  # noqa: D102
        if x.dim() != 4 or x.shape[2] % 2 or x.shape[3] % 2:
            raise ValueError(f"Squeeze: expected (B, C, H, W) with even H and W, got {tuple(x.shape)}")
        b, c, h, w = x.shape
        z = x.reshape(b, c, h // 2, 2, w // 2, 2).permute(0, 1, 3, 5, 2, 4).reshape(b, 4 * c, h // 2, w // 2)
        return z, x.new_zeros(b)

    def inverse(self, z: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:  # noqa: D102
        if z.dim() != 4 or z.shape[1] % 4:
            raise ValueError(f"Squeeze.inverse: expected (B, 4C, H, W), got {tuple(z.shape)}")
        b, c4, h, w = z.shape
        x = z.reshape(b, c4 // 4, 2, 2, h, w).permute(0, 1, 4, 2, 5, 3).reshape(b, c4 // 4, 2 * h, 2 * w)
        return x, z.new_zeros(b)


class SplitApply(Bijection):
    """Multi-scale factor-out: channels ``[:factored]`` pass through unchanged (they are
    final latent variables), channels ``[factored:]`` go through ``inner``; the output is
    their concatenation, so the shape is kept and the log-det is ``inner``'s."""

    event_dims = 3

    def __init__(self, factored: int, inner: Bijection):
        super().__init__()
        self.factored, self.inner = factored, inner

    def extra_repr(self) -> str:
        return f"factored={self.factored}"

    def forward(self, x: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:  # noqa: D102
        z, ld = self.inner.forward(x[:, self.factored:], cond)
        return torch.cat([x[:, : self.factored], z], 1), ld

    def inverse(self, z: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:  # noqa: D102
        x, ld = self.inner.inverse(z[:, self.factored:], cond)
        return torch.cat([z[:, : self.factored], x], 1), ld


__all__ = ["ResNetConditioner", "CheckerboardCoupling", "ChannelCoupling", "Squeeze", "SplitApply"]
