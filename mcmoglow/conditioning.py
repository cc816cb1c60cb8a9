"""Condition numbers of a McMoGlow model's coupling matrices, for training logs.

Example::

    >>> stats = model_condition_stats(model, batch)          # doctest: +SKIP
    >>> stats["cond_max"], stats["cond_median"]              # doctest: +SKIP
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch
from torch import Tensor, nn

from mcmoglow.transform import MatrixAffineTransform, condition_numbers, mixing_condition_bound


def matrix_transforms(model: nn.Module) -> list[MatrixAffineTransform]:
    """Every :class:`MatrixAffineTransform` inside ``model``, in module order."""
    return [m for m in model.modules() if isinstance(m, MatrixAffineTransform)]


@contextmanager
def recorded_params(model: nn.Module) -> Iterator[list[tuple[MatrixAffineTransform, list[Tensor]]]]:
    """While active, every call of a matrix transform in ``model`` appends its ``params``
    (detached) to that transform's list: yields ``[(transform, [params, ...]), ...]``."""
    records = [(t, []) for t in matrix_transforms(model)]
    handles = []
    for t, store in records:
        handles.append(t.register_forward_hook(lambda mod, inp, out, store=store: store.append(inp[1].detach())))
    try:
        yield records
    finally:
        for h in handles:
            h.remove()


def _spread(x: Tensor, n: int) -> Tensor:
    """``x (N, P)`` -> at most ``n`` rows, evenly spaced."""
    if x.shape[0] <= n:
        return x
    idx = torch.linspace(0, x.shape[0] - 1, n, device=x.device).round().long()
    return x[idx]


@torch.no_grad()
def model_condition_stats(model: nn.Module, batch: dict[str, Tensor], max_frames: int = 256) -> dict[str, float]:
    """Condition numbers of every coupling matrix on the frames of ``batch``.

    Args:
        model: a :class:`moglow.model.MoGlow` with ``coupling: matrix`` (or any module whose
            ``log_prob(batch)`` runs :class:`MatrixAffineTransform` couplings).
        batch: a dataset batch (``"poses" (B, tau+T, D)``, ``"control"``, ...).
        max_frames: frames per coupling used (evenly spread; SVDs are not free).

    Returns:
        Flat dict of floats (empty if the model has no matrix couplings):
        ``cond_max`` / ``cond_median``: ``cond_2(A)`` over couplings and frames;
        ``cond_diag_max``: largest ``max s / min s``, what MoGlow's elementwise scale alone
        would give; ``offdiag_row_l1_max``: largest row L1 norm of the triangles, as a
        fraction of the bound ``ρ`` (near 1: the soft clamp is saturated);
        ``cond_bound_mixing``: the guaranteed bound on the off-diagonal factor (∞-norm).
    """
    was_training = model.training
    model.eval()
    try:
        with recorded_params(model) as records:
            if not records:
                return {}
            model.log_prob(batch)
    finally:
        model.train(was_training)
    conds, diag, row = [], [], []
    bound = 0.0
    for t, store in records:
        if not store:
            continue
        params = _spread(torch.cat([p.reshape(-1, p.shape[-1]) for p in store]), max_frames).double()
        d = t.dim_from_params(params.shape[-1])
        conds.append(condition_numbers(t, params, d))
        _, s, _, n_lo, n_up = t.factors(params, d)
        diag.append(s.amax(-1) / s.amin(-1))
        tri = n_lo if n_up is None else torch.cat([n_lo, n_up], -2)
        row.append(tri.abs().sum(-1).amax(-1) / t.offdiag_bound)
        bound = max(bound, mixing_condition_bound(d, t.variant, t.offdiag_bound))
    c = torch.cat(conds)
    return {"cond_max": float(c.max()), "cond_median": float(c.median()),
            "cond_diag_max": float(torch.cat(diag).max()), "offdiag_row_l1_max": float(torch.cat(row).max()),
            "cond_bound_mixing": bound}


__all__ = ["matrix_transforms", "recorded_params", "model_condition_stats"]
