"""Synthetic images with a known density: a frozen "teacher" Real NVP and its samples.

A teacher (an :class:`ImageFlow` fitted briefly to real images, then frozen) generates
continuous images ``u`` in the scaled dequantised space; for every one of them the
teacher's exact log-density ``log p_u(u)`` is known. On the bits/dim scale of
:meth:`ImageFlow.bits_per_dim_u` (``−(log p_u − D log L) / (D ln 2)``), the teacher's
**entropy** ``H = E_teacher[bits/dim]`` is the best expected test value any student can
reach (the cross-entropy ``E_teacher[−log q] ≥ H`` with equality only for ``q = p``).

Students are trained by NLL on a finite set of teacher samples (continuous: no
dequantisation) and measured on fresh held-out samples; :func:`student_configs` gives the
well-specified (same architecture), misspecified (smaller; single-scale, differently
shaped) and over-parameterised (larger) variants.

Samples whose logit-space value lies so far out that float32 cannot represent it
(``sigmoid(y)`` rounds to 0 or 1, or the density is not finite) are dropped and counted.
The synthetic distribution is then the teacher's truncated to the representable set: its
log-density differs from the teacher's by ``−log(1 − dropped mass)``, about the dropped
fraction (reported with every result; for a briefly trained teacher it can be ~1 %).
"""
from __future__ import annotations

from dataclasses import replace

import torch
from torch import Tensor

from .model import ImageFlow, ImageFlowConfig


def freeze(model: ImageFlow) -> ImageFlow:
    """Eval mode and ``requires_grad=False`` for every parameter; returns ``model``."""
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


@torch.no_grad()
def sample_with_density(teacher: ImageFlow, n: int, seed: int = 0, batch_size: int = 500
                        ) -> tuple[Tensor, Tensor, int]:
    """``n`` teacher samples with their exact bits/dim.

    Returns:
        ``u (n, C, H, W)`` float32 continuous scaled images, ``bpd (n,)`` float64 the
        teacher's own bits/dim of each (its log-density, on the discrete-data scale), and
        the number of draws dropped as not representable in float32.
    """
    g = torch.Generator().manual_seed(seed)
    teacher.eval()
    us, bs, dropped = [], [], 0
    have, drawn = 0, 0
    while have < n:
        if drawn >= 10 * n + batch_size:
            raise RuntimeError(f"sample_with_density: {dropped} of {drawn} teacher draws were not representable "
                               "in float32; the teacher is degenerate")
        drawn += min(batch_size, n - have)
        u = teacher.sample_u(min(batch_size, n - have), generator=g)
        p = teacher.logit.alpha + (1 - 2 * teacher.logit.alpha) * u
        ok = (p > 0) & (p < 1) & torch.isfinite(u)
        ok = ok.flatten(1).all(1)
        dropped += int((~ok).sum())
        u = u[ok]
        b = teacher.bits_per_dim_u(u).double()
        keep = torch.isfinite(b)
        dropped += int((~keep).sum())
        us.append(u[keep])
        bs.append(b[keep])
        have += int(keep.sum())
    return torch.cat(us)[:n], torch.cat(bs)[:n], dropped


def entropy_bits(bpd: Tensor) -> tuple[float, float]:
    """Monte-Carlo estimate of the teacher's entropy (bits/dim) from its own samples'
    bits/dim: mean and standard error."""
    return float(bpd.mean()), float(bpd.std() / bpd.numel() ** 0.5)


def student_configs(teacher_cfg: ImageFlowConfig) -> dict[str, ImageFlowConfig]:
    """Student architectures relative to the teacher's.

    - ``"well-specified"``: the teacher's exact architecture (the teacher is in the family);
    - ``"smaller"``: quarter-width nets (misspecified: fewer parameters);
    - ``"single-scale"``: no squeeze / factor-out, checkerboard couplings only
      (misspecified: a different shape of model);
    - ``"larger"``: double width and one more residual block (over-parameterised).
    """
    hidden, blocks = teacher_cfg.net_size()
    return {
        "well-specified": replace(teacher_cfg),
        "smaller": replace(teacher_cfg, hidden=max(2, hidden // 4), blocks=blocks),
        "single-scale": replace(teacher_cfg, scales=1, couplings=2 * teacher_cfg.couplings, hidden=hidden,
                                blocks=blocks),
        "larger": replace(teacher_cfg, hidden=2 * hidden, blocks=blocks + 1),
    }


__all__ = ["freeze", "sample_with_density", "entropy_bits", "student_configs"]
