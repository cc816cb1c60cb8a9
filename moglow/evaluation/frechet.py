"""Fréchet distance between sets of motion windows (the FID recipe on kinematic features).

Each set of motions is cut into windows; each window becomes one feature vector
(:func:`window_features`); each set of vectors is fitted with a Gaussian (mean and
covariance); the distance between the two sets is the squared Fréchet (2-Wasserstein)
distance between the Gaussians (Dowson & Landau 1982; Heusel et al. 2017, "GANs trained
by a two time-scale update rule converge to a local Nash equilibrium")::

    d² = |μ₁ − μ₂|² + tr(Σ₁ + Σ₂ − 2 (Σ₁^½ Σ₂ Σ₁^½)^½)

The matrix square root is taken by symmetric eigendecomposition (stable for the singular
covariances that few windows give). Like FID, d² is biased upwards for small sets: compare
numbers computed with the same number of windows.

Example::

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(500, 3))
    >>> round(frechet_distance(*gaussian_fit(x), *gaussian_fit(x)), 9)   # identical sets
    0.0
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from data_pipeline.features import to_local_frame

from .metrics import facing_angles


def _sqrt_psd(a: np.ndarray) -> np.ndarray:
    """Square root of a symmetric positive semi-definite matrix (negative eigenvalues clipped)."""
    w, v = np.linalg.eigh((a + a.T) / 2.0)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def gaussian_fit(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean (D,) and unbiased covariance (D, D) of samples ``x (N, D)``, N >= 2."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"need at least 2 feature vectors (N, D) to fit a Gaussian, got shape {x.shape}")
    return x.mean(axis=0), np.atleast_2d(np.cov(x, rowvar=False))


def frechet_distance(mu1: np.ndarray, cov1: np.ndarray, mu2: np.ndarray, cov2: np.ndarray) -> float:
    """Squared Fréchet distance between N(mu1, cov1) and N(mu2, cov2); >= 0, 0 for equal Gaussians.

    Args:
        mu1, mu2: (D,) means. cov1, cov2: (D, D) symmetric positive semi-definite covariances.
    Returns:
        d² in the squared unit of the features.
    """
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    cov1, cov2 = np.asarray(cov1, np.float64), np.asarray(cov2, np.float64)
    if mu1.shape != mu2.shape or cov1.shape != cov2.shape or cov1.shape != mu1.shape * 2:
        raise ValueError(f"shapes do not match: mu {mu1.shape}, {mu2.shape}; cov {cov1.shape}, {cov2.shape}")
    s1 = _sqrt_psd(cov1)
    cross = np.linalg.eigvalsh((s1 @ cov2 @ s1 + (s1 @ cov2 @ s1).T) / 2.0)
    tr_sqrt = np.sqrt(np.clip(cross, 0.0, None)).sum()
    d2 = float(np.sum((mu1 - mu2) ** 2) + np.trace(cov1) + np.trace(cov2) - 2.0 * tr_sqrt)
    return max(d2, 0.0)


def window_features(positions: np.ndarray, fps: float, root: int, hips: tuple[int, int],
                    shoulders: tuple[int, int], window: int, stride: int) -> np.ndarray:
    """One kinematic feature vector per window of a motion.

    Frames are first put in the character's floor-projected local frame (minus the root's
    floor position, rotated by minus the body's facing from hips and shoulders,
    :func:`moglow.evaluation.metrics.facing_angles`), so the features ignore where the
    character is and which way it faces. Per window of ``window`` frames (starts ``stride``
    apart), the vector is

    - the mean local pose, (J·3) metres,
    - the standard deviation of the local pose over the window, (J·3) metres (how much
      each joint moves),
    - the mean speed of every joint, (J) m/s (world frame).

    Args:
        positions: (F, J, 3) world positions, metres. fps: frames per second.
        root: index of the root joint; hips, shoulders: (left, right) joint indices.
        window, stride: in frames.
    Returns:
        (N, 7·J) float64, N = number of whole windows (0 if F < window).
    """
    positions = np.asarray(positions, dtype=np.float64)
    f, j, _ = positions.shape
    if window < 2 or stride < 1:
        raise ValueError(f"need window >= 2 and stride >= 1 frames, got {window}, {stride}")
    if f < window:
        return np.zeros((0, 7 * j))
    theta = facing_angles(positions, hips, shoulders)
    local = to_local_frame(positions, positions[:, root][:, [0, 2]], theta).reshape(f, j * 3)
    speed = np.linalg.norm(np.diff(positions, axis=0), axis=-1) * fps  # (F-1, J): step t -> t+1
    lw = sliding_window_view(local, window, axis=0)[::stride]  # (N, J*3, window)
    sw = sliding_window_view(speed, window - 1, axis=0)[::stride]  # (N, J, window-1): steps inside
    return np.concatenate([lw.mean(-1), lw.std(-1), sw.mean(-1)], axis=1)


def frechet_between(features_a: np.ndarray | Sequence[np.ndarray], features_b: np.ndarray | Sequence[np.ndarray],
                    scale: np.ndarray | None = None) -> float | None:
    """d² between two sets of feature vectors, each column divided by ``scale`` first.

    Args:
        features_a, features_b: (N, D) arrays, or lists of them (concatenated).
        scale: (D,) per-feature scale (e.g. the reference set's standard deviation, which
            makes d² unit-free and weighs every feature alike); None: no scaling.
    Returns:
        d², or None when either set has fewer than 2 vectors.
    """
    a, b = _stack(features_a), _stack(features_b)
    if a.shape[0] < 2 or b.shape[0] < 2:
        return None
    if scale is not None:
        a, b = a / scale, b / scale
    return frechet_distance(*gaussian_fit(a), *gaussian_fit(b))


FEATURE_GROUPS = ("mean_pose", "pose_std", "joint_speed")


def feature_groups(num_joints: int) -> dict[str, slice]:
    """Column slices of :func:`window_features`'s three groups for ``num_joints`` joints:
    mean local pose (J·3), pose standard deviation over the window (J·3), mean joint speed (J)."""
    j3 = 3 * num_joints
    return {"mean_pose": slice(0, j3), "pose_std": slice(j3, 2 * j3), "joint_speed": slice(2 * j3, 2 * j3 + num_joints)}


def frechet_parts(features_a: np.ndarray | Sequence[np.ndarray], features_b: np.ndarray | Sequence[np.ndarray],
                  scale: np.ndarray | None = None) -> dict[str, dict[str, float]] | None:
    """What a Fréchet distance between window features is made of, group by group.

    For each group of :func:`feature_groups` (the number of joints is read from the 7·J
    columns), the d² of that group alone and its mean-difference term ``|μ₁ − μ₂|²`` (the rest
    of the group's d² is the covariance term), and ``spread``, the total variance tr Σ of the
    group over ``features_a``'s windows (how much that kind of feature varies from window to
    window; compare it with the reference set's). The groups' d² do not add up to the whole
    vector's d² (cross-group covariances are left out); they say which kind of feature differs.

    Args:
        features_a, features_b: (N, 7·J) arrays, or lists of them. scale: as :func:`frechet_between`.
    Returns:
        ``{group: {"d2": float, "mean_term": float, "spread": float}}``, or None when either set has fewer
        than 2 vectors.

    Example::

        >>> rng = np.random.default_rng(0)
        >>> a = rng.normal(size=(4000, 14)); b = rng.normal(size=(4000, 14))
        >>> b[:, :6] += 1.0                              # shift the mean pose of two joints
        >>> parts = frechet_parts(a, b)
        >>> abs(parts["mean_pose"]["mean_term"] - 6.0) < 0.3, parts["joint_speed"]["d2"] < 0.01   # 6 x 1.0² ± noise
        (True, True)
    """
    a, b = _stack(features_a), _stack(features_b)
    if a.shape[0] < 2 or b.shape[0] < 2:
        return None
    if a.shape[1] % 7:
        raise ValueError(f"window features have 7·J columns, got {a.shape[1]}")
    if scale is not None:
        a, b = a / scale, b / scale
    out = {}
    for name, cols in feature_groups(a.shape[1] // 7).items():
        (m1, c1), (m2, c2) = gaussian_fit(a[:, cols]), gaussian_fit(b[:, cols])
        out[name] = {"d2": frechet_distance(m1, c1, m2, c2), "mean_term": float(np.sum((m1 - m2) ** 2)),
                     "spread": float(np.trace(np.atleast_2d(c1)))}
    return out


def feature_scale(features: np.ndarray | Sequence[np.ndarray], floor: float = 1e-6) -> np.ndarray:
    """(D,) standard deviation of each feature (at least ``floor``)."""
    x = _stack(features)
    return np.maximum(x.std(axis=0), floor) if x.shape[0] else np.ones(x.shape[1])


def _stack(x: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
    if isinstance(x, np.ndarray):
        return x.astype(np.float64, copy=False)
    x = list(x)
    if not x:
        raise ValueError("no feature vectors")
    return np.concatenate([np.asarray(v, np.float64) for v in x], axis=0)


__all__ = ["gaussian_fit", "frechet_distance", "window_features", "frechet_between", "feature_scale",
           "feature_groups", "frechet_parts"]
