"""Adversarial training pieces: a small CNN discriminator and the non-saturating GAN loss.

The generator is the Real NVP itself (:meth:`ImageFlow.sample_u`, reparameterised, so
gradients flow through the inverse flow). Real images enter the discriminator dequantised
and scaled, ``u = (x + ε) / L``, the same space as the generator's samples, so that the
discriminator cannot tell them apart by the quantisation alone.

Losses (Goodfellow et al. 2014, the "non-saturating" generator loss), with ``D`` returning
logits: ``L_D = softplus(−D(x_real)) + softplus(D(x_fake))``, ``L_G = softplus(−D(x_fake))``.
The hybrid objective (Flow-GAN, Grover et al. 2018) is ``L_G + λ · bits/dim(x_real)``.

Example::

    >>> import torch
    >>> d = Discriminator((1, 8, 8), width=8)
    >>> d(torch.rand(5, 1, 8, 8)).shape
    torch.Size([5])
"""
from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn


class Discriminator(nn.Module):
    """Small CNN: two stride-2 3×3 convs (LeakyReLU 0.2), global average pool, linear -> one
    logit per image.

    Args:
        shape: ``(C, H, W)`` of the images. width: channels of the first conv (the second has twice).
        spectral_norm: divide every layer's weight by its largest singular value (Miyato et al.
            2018, ``torch.nn.utils.parametrizations.spectral_norm``): a 1-Lipschitz-per-layer
            discriminator that cannot win by growing its logits, the usual cure for a
            discriminator that overpowers its generator.
    """

    def __init__(self, shape: tuple[int, int, int], width: int = 32, spectral_norm: bool = False):
        super().__init__()
        c = shape[0]
        sn = nn.utils.parametrizations.spectral_norm if spectral_norm else (lambda m: m)
        self.net = nn.Sequential(
            sn(nn.Conv2d(c, width, 3, stride=2, padding=1)), nn.LeakyReLU(0.2),
            sn(nn.Conv2d(width, 2 * width, 3, stride=2, padding=1)), nn.LeakyReLU(0.2),
            sn(nn.Conv2d(2 * width, 2 * width, 3, padding=1)), nn.LeakyReLU(0.2),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), sn(nn.Linear(2 * width, 1)))

    def forward(self, u: Tensor) -> Tensor:
        """``u (B, C, H, W)`` scaled images in about ``[0, 1]`` -> ``(B,)`` logits (real = high)."""
        return self.net(2.0 * u - 1.0).squeeze(1)


def discriminator_loss(d_real: Tensor, d_fake: Tensor) -> Tensor:
    """``mean(softplus(−d_real)) + mean(softplus(d_fake))`` (logits ``(B,)``); ``2 ln 2`` at chance."""
    return F.softplus(-d_real).mean() + F.softplus(d_fake).mean()


def generator_loss(d_fake: Tensor) -> Tensor:
    """Non-saturating generator loss ``mean(softplus(−d_fake))``."""
    return F.softplus(-d_fake).mean()


__all__ = ["Discriminator", "discriminator_loss", "generator_loss"]
