"""Held-out negative log-likelihood of a checkpoint, data dropout off (``moglow evaluate``)."""
from __future__ import annotations

from typing import Any
from collections.abc import Sequence

import numpy as np
import torch

from data_pipeline.features import FeatureSequence
from moglow.units import nats_to_bits

from .heldout import EvaluationError, Pipeline


@torch.no_grad()
def heldout_nll(model: torch.nn.Module, seqs: Sequence[FeatureSequence], pipeline: Pipeline,
                window: int, batch_size: int = 32, device: torch.device | str = "cpu",
                style_ids: Sequence[int] | None = None) -> dict[str, Any]:
    """Negative log-likelihood per frame of the held-out takes, data dropout off.

    Args:
        model: a :class:`moglow.model.MoGlow` (eval mode).
        seqs: un-normalised held-out sequences. pipeline: gives the scalers.
        window: target frames per window (non-overlapping windows, each starting with fresh
            recurrent state, as the trainer's validation); 0: whole takes.
        style_ids: per sequence (-1: none).
    Returns:
        ``nats_per_frame`` and ``bits_per_frame`` (of the normalised features, as in the
        training logs), ``nats_per_frame_unnormalised`` (of the features in their own units:
        plus the sum of log scaler std), ``frames`` scored, ``windows``, ``window``.
    """
    tau, la = model.tau, model.lookahead
    style_ids = list(style_ids) if style_ids is not None else [-1] * len(seqs)
    items: list[tuple[np.ndarray, np.ndarray, int]] = []  # normalised (poses, control, style)
    for seq, sid in zip(seqs, style_ids, strict=True):
        poses = pipeline.scaler.transform(seq.poses.astype(np.float32))
        control = pipeline.control_scaler.transform(seq.control.astype(np.float32))
        f = seq.num_frames - la
        if window == 0:
            if f - tau >= 1:
                items.append((poses[:f], control[:f + la], sid))
            continue
        for s in range(0, f - tau - window + 1, window):
            items.append((poses[s:s + tau + window], control[s:s + tau + window + la], sid))
    if not items:
        raise EvaluationError(f"no held-out take is long enough for one NLL window (tau {tau} + {window or 1} "
                              f"frames + lookahead {la}); use a smaller nll_window or 0")
    items.sort(key=lambda it: -it[0].shape[0])
    total, frames = 0.0, 0
    for a in range(0, len(items), batch_size):
        group = items[a:a + batch_size]
        n = group[-1][0].shape[0]  # windows share one length; whole takes: score each on its own
        if any(g[0].shape[0] != n for g in group):
            group_sets = [[g] for g in group]
        else:
            group_sets = [group]
        for gs in group_sets:
            batch = {"poses": torch.as_tensor(np.stack([g[0] for g in gs]), device=device),
                     "control": torch.as_tensor(np.stack([g[1] for g in gs]), device=device),
                     "style": torch.as_tensor([g[2] for g in gs], dtype=torch.int64, device=device)}
            logp = model.log_prob(batch).double()
            total -= float(logp.sum())
            frames += logp.numel()
    nats = total / frames
    log_std = float(np.log(pipeline.scaler.std).sum())
    return {"nats_per_frame": nats, "bits_per_frame": float(nats_to_bits(nats)),
            "nats_per_frame_unnormalised": nats + log_std, "frames": frames, "windows": len(items),
            "window": window}


__all__ = ["heldout_nll"]
