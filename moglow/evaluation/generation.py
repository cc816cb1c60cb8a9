"""Generation along held-out paths: ``num_samples`` motions per take, driven by the take's own control.

Batching across takes of different lengths is this module's job; every frame is made by
:func:`moglow.sampling.generate_poses`.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from data_pipeline.features import FeatureSequence
from moglow.sampling import generate_poses

from .heldout import EvaluationError, Pipeline


@torch.no_grad()
def generate_along_paths(model: torch.nn.Module, seqs: Sequence[FeatureSequence], pipeline: Pipeline,
                         num_samples: int, temperature: float = 1.0, seed: int = 0, batch_size: int = 64,
                         style_ids: Sequence[int] | None = None, progress: bool = True) -> list[np.ndarray]:
    """``num_samples`` motions per take along the take's own control path.

    Each is seeded with the take's first ``tau`` real poses and generates frames ``tau ..
    F - lookahead - 1``. Takes of different lengths are generated in one batch: the control
    of shorter ones is padded at the end, which cannot change their frames because
    sampling is causal (frame t sees control up to t + lookahead only). Batch ``b`` draws its
    latents from a generator seeded with ``seed + b`` (:func:`moglow.sampling.generate_poses`),
    on the model's device.

    Returns:
        per take, (S, tau + T, D) un-normalised poses: the real context, then T generated frames.
    """
    tau, la = model.tau, model.lookahead
    style_ids = list(style_ids) if style_ids is not None else [-1] * len(seqs)
    lengths = [s.num_frames - tau - la for s in seqs]
    short = [s.source for s, n in zip(seqs, lengths, strict=True) if n < 1]
    if short:
        raise EvaluationError(f"{len(short)} take(s) too short to generate from (need more than tau {tau} + "
                              f"lookahead {la} frames), e.g. {short[0]}")
    poses_n = [pipeline.scaler.transform(s.poses.astype(np.float32)) for s in seqs]
    control_n = [pipeline.control_scaler.transform(s.control.astype(np.float32)) for s in seqs]
    jobs = sorted(((i, k) for i in range(len(seqs)) for k in range(num_samples)), key=lambda j: -lengths[j[0]])
    out = [np.zeros((num_samples, tau + lengths[i], seqs[i].poses.shape[1]), np.float32) for i in range(len(seqs))]
    batches = range(0, len(jobs), batch_size)
    if progress:
        from data_pipeline.progress import progress_bar
        batches = progress_bar(batches, desc=f"generating {len(jobs)} motions", unit="batch")
    for a in batches:
        group = jobs[a:a + batch_size]
        t_max = max(lengths[i] for i, _ in group)
        ctx = np.stack([poses_n[i][:tau] for i, _ in group])
        ctrl = np.stack([np.pad(control_n[i][: tau + lengths[i] + la], ((0, t_max - lengths[i]), (0, 0)), mode="edge")
                         for i, _ in group])
        style = torch.as_tensor([style_ids[i] for i, _ in group], dtype=torch.int64)
        x = generate_poses(model, torch.as_tensor(ctx), torch.as_tensor(ctrl), temperature,
                           seed=int(seed) + a // batch_size,
                           style=style if getattr(model, "style", None) is not None else None)
        x = x.float().cpu().numpy()
        for b, (i, k) in enumerate(group):
            out[i][k, :tau] = seqs[i].poses[:tau]
            out[i][k, tau:] = pipeline.scaler.inverse_transform(x[b, : lengths[i]])
    return out


__all__ = ["generate_along_paths"]
