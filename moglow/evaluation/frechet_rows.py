"""The Fréchet-distance entries of ``moglow evaluate``'s rows, measured like with like.

The distance itself is :mod:`moglow.evaluation.frechet`; this module chooses which windows
are compared (:func:`add_frechet_rows`).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .config import EvaluationConfig
from .frechet import feature_scale, frechet_between, frechet_parts
from .result import CLEANED, GENERATED, REFERENCE


def add_frechet_rows(rows: dict[str, dict], real_feats: list[np.ndarray], gen_feats: list[np.ndarray] | None,
                     cfg: EvaluationConfig, cleaned_feats: list[np.ndarray] | None = None,
                     others: dict[str, list[np.ndarray]] | None = None) -> None:
    """Fréchet distances measured like with like: the takes are split into alternate halves A
    and B; the mocap row is d²(real A, real B) (the noise floor) and the generated row is
    d²(generated for the takes of A, real B), with the generated windows subsampled (seeded)
    to the number of real windows in A, so both rows share the reference set and sample size.
    Each row also gets ``frechet_parts`` (:func:`~moglow.evaluation.frechet.frechet_parts`: the d² of
    each feature group alone, its mean term and the row's window-to-window spread), for the
    evaluation's JSON."""
    keep = [i for i, f in enumerate(real_feats) if f.shape[0]]
    usable = [real_feats[i] for i in keep]
    scale = feature_scale(usable) if usable and cfg.frechet.standardise else None
    half_a, half_b = usable[0::2], usable[1::2]
    rows[REFERENCE]["frechet_distance"] = (frechet_between(half_a, half_b, scale) if half_a and half_b else None)
    rows[REFERENCE]["frechet_windows"] = int(sum(f.shape[0] for f in half_a))
    rows[REFERENCE]["frechet_parts"] = _parts(half_a, half_b, scale)
    if gen_feats is not None:
        _frechet_generated(rows, GENERATED, keep, real_feats, gen_feats, half_a, half_b, scale)
    if cleaned_feats is not None:
        _frechet_generated(rows, CLEANED, keep, real_feats, cleaned_feats, half_a, half_b, scale)
    for name, feats in (others or {}).items():  # baseline generators' rows (moglow.evaluation.generators)
        _frechet_generated(rows, name, keep, real_feats, feats, half_a, half_b, scale)


def _frechet_generated(rows: dict[str, dict], name: str, keep: list[int], real_feats: list[np.ndarray],
                       gen_feats: list[np.ndarray], half_a: list[np.ndarray], half_b: list[np.ndarray],
                       scale: Any) -> None:
    """The Fréchet distance of one generated row (see :func:`add_frechet_rows`)."""
    # gen_feats holds num_samples motions per take, take-major, in the order of real_feats
    per_take = len(gen_feats) // max(1, len(real_feats))
    if per_take < 1 or per_take * len(real_feats) != len(gen_feats):
        raise ValueError("generated window features must come num_samples per take, in the takes' order")
    g = [f for i in keep[0::2] for f in gen_feats[i * per_take:(i + 1) * per_take] if f.shape[0]]
    g = np.concatenate(g) if g else np.zeros((0, 1))
    n = int(sum(f.shape[0] for f in half_a))
    if g.shape[0] > n:
        g = g[np.sort(np.random.default_rng(0).choice(g.shape[0], size=n, replace=False))]
    rows[name]["frechet_distance"] = frechet_between(g, half_b, scale) if half_b and g.shape[0] else None
    rows[name]["frechet_windows"] = int(g.shape[0])
    rows[name]["frechet_parts"] = _parts([g] if g.shape[0] else [], half_b, scale)


def _parts(a: list[np.ndarray], b: list[np.ndarray], scale: Any) -> dict | None:
    """:func:`frechet_parts` for window features of :func:`window_features`' layout (7·J columns), else None."""
    if not a or not b or b[0].shape[1] % 7:
        return None
    return frechet_parts(a, b, scale)


__all__ = ["add_frechet_rows"]
