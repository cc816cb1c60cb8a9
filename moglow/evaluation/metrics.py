"""Motion-quality metrics on world joint positions (pure numpy, vectorised over frames).

Every function takes world positions ``(F, J, 3)`` in metres, Y up, at ``fps`` frames per
second, plus what it needs of the skeleton (parent list, foot joint indices). Nothing here
knows about models or file formats, so the same code scores generated motion and the
motion-capture reference, on any skeleton.

Results that are averages come as :class:`Mean` (a running sum and count), so that the
averages over many sequences are weighted by what was counted (frames, contact samples),
not by sequence: add them up and read ``.value``.

Example::

    >>> import numpy as np
    >>> pos = np.zeros((10, 2, 3)); pos[:, 1, 1] = 0.5           # a still, 50 cm bone
    >>> mean_jerk(pos, fps=20).value
    0.0
    >>> float(bone_length_cv(pos, [-1, 0])[1])
    0.0
"""
from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Sequence

import numpy as np

M_TO_CM = 100.0


@dataclass
class Mean:
    """A weighted mean kept as ``total / count``, so that means of parts combine exactly.

    ``Mean(3.0, 2) + Mean(1.0, 2)`` is ``Mean(4.0, 4)`` (value 1.0); ``value`` is None when
    nothing was counted.
    """

    total: float = 0.0
    count: float = 0.0

    def __add__(self, other: "Mean") -> "Mean":
        return Mean(self.total + other.total, self.count + other.count)

    @property
    def value(self) -> float | None:
        return float(self.total / self.count) if self.count else None

    @classmethod
    def of(cls, values: np.ndarray) -> "Mean":
        """The mean of all entries of ``values`` (any shape; empty: nothing counted)."""
        values = np.asarray(values, dtype=np.float64)
        return cls(float(values.sum()), float(values.size))


def sum_means(means: Sequence[Mean]) -> Mean:
    """``means[0] + means[1] + ...`` (an empty list gives an empty Mean)."""
    out = Mean()
    for m in means:
        out = out + m
    return out


def _check_positions(positions: np.ndarray, min_frames: int = 1) -> np.ndarray:
    positions = np.asarray(positions, dtype=np.float64)
    if positions.ndim != 3 or positions.shape[-1] != 3:
        raise ValueError(f"positions must be (F, J, 3) metres, got shape {positions.shape}")
    if positions.shape[0] < min_frames:
        raise ValueError(f"need at least {min_frames} frames, got {positions.shape[0]}")
    if not np.all(np.isfinite(positions)):
        raise ValueError("positions contain NaN or infinite values")
    return positions


# ============================================================================ feet
def foot_levels(positions: np.ndarray, feet: Sequence[int], percentile: float = 5.0) -> np.ndarray:
    """Each foot joint's ground-contact height: a low percentile of its height over the sequence.

    A joint centre never reaches the floor (the ankle rests some 10 cm above it, the toe
    joint a few cm), so each foot joint gets its own level; with feet on the ground for
    roughly half of a walk, the 5th percentile is a robust estimate of the standing height.

    Args:
        positions: (F, J, 3) world positions, metres.
        feet: K indices of foot/toe joints into J.
        percentile: in [0, 100].
    Returns:
        (K,) heights in metres (world Y).
    """
    positions = _check_positions(positions)
    return np.percentile(positions[:, list(feet), 1], percentile, axis=0)


def foot_contacts(positions: np.ndarray, feet: Sequence[int], levels: np.ndarray | float,
                  contact_height: float) -> np.ndarray:
    """Contact mask: a foot joint touches the ground while it is less than ``contact_height``
    above its level.

    Args:
        positions: (F, J, 3) metres. feet: K joint indices. levels: (K,) or scalar ground
            level of each foot joint, metres (:func:`foot_levels`, or a known floor height).
        contact_height: metres.
    Returns:
        (F, K) bool.
    """
    positions = _check_positions(positions)
    height = positions[:, list(feet), 1] - np.asarray(levels, dtype=np.float64)
    return height < contact_height


def foot_skating(positions: np.ndarray, feet: Sequence[int], fps: float, levels: np.ndarray | float,
                 contact_height: float, skate_speed: float) -> dict[str, Mean]:
    """Horizontal speed of foot joints while they touch the ground.

    The speed of a foot joint between frames ``t`` and ``t+1`` is ``|Δ(x, z)| * fps``; it
    counts as a contact sample when the joint is in contact (:func:`foot_contacts`) at both
    frames. Real feet barely move then (the remainder is heel strike and toe-off); a model
    that slides its feet does not.

    Args:
        positions: (F, J, 3) metres, F >= 2. feet: K joint indices. fps: frames per second.
        levels: (K,) or scalar ground level per foot joint, metres.
        contact_height: metres above the level that still count as contact.
        skate_speed: m/s; a contact sample faster than this counts as skating.
    Returns:
        ``speed_cm_s``: mean horizontal speed over contact samples (cm/s);
        ``skating_fraction``: fraction of contact samples faster than ``skate_speed``;
        ``contact_fraction``: fraction of (frame, foot joint) samples in contact.
    """
    positions = _check_positions(positions, 2)
    contact = foot_contacts(positions, feet, levels, contact_height)
    both = contact[1:] & contact[:-1]
    step = np.diff(positions[:, list(feet)][:, :, [0, 2]], axis=0)
    speed = np.linalg.norm(step, axis=-1) * fps
    moving = speed[both]
    return {"speed_cm_s": Mean.of(moving * M_TO_CM),
            "skating_fraction": Mean.of(moving > skate_speed),
            "contact_fraction": Mean.of(contact)}


def foot_penetration(positions: np.ndarray, feet: Sequence[int], levels: np.ndarray | float,
                     tolerance: float = 0.0) -> dict[str, Mean]:
    """How far foot joints sink below their ground level.

    The depth of a frame is the largest ``level - height`` over the foot joints (0 when all
    are above). A frame penetrates when its depth exceeds ``tolerance``.

    Args:
        positions: (F, J, 3) metres. feet: K joint indices. levels: (K,) or scalar, metres.
        tolerance: metres of depth ignored (measurement noise of the level).
    Returns:
        ``depth_cm``: mean depth over penetrating frames (cm; no value if none);
        ``fraction``: fraction of frames that penetrate.
    """
    positions = _check_positions(positions)
    below = np.asarray(levels, dtype=np.float64) - positions[:, list(feet), 1]
    depth = np.maximum(below.max(axis=1), 0.0)
    hit = depth > tolerance
    return {"depth_cm": Mean.of(depth[hit] * M_TO_CM), "fraction": Mean.of(hit)}


# ============================================================================ skeleton and smoothness
def bone_lengths(positions: np.ndarray, parents: Sequence[int]) -> np.ndarray:
    """(F, J) distance of every joint to its parent, metres (NaN for roots, parent -1)."""
    positions = _check_positions(positions)
    parents = np.asarray(parents, dtype=np.int64)
    if parents.shape != (positions.shape[1],):
        raise ValueError(f"parents must have one entry per joint ({positions.shape[1]}), got {parents.shape}")
    has = parents >= 0
    out = np.full(positions.shape[:2], np.nan)
    out[:, has] = np.linalg.norm(positions[:, has] - positions[:, parents[has]], axis=-1)
    return out


def bone_length_cv(positions: np.ndarray, parents: Sequence[int], min_length: float = 1e-3) -> np.ndarray:
    """Coefficient of variation (std / mean over frames) of every bone's length.

    A rigid skeleton gives 0; a model that generates joint positions freely gives bones that
    stretch. Bones are named by their child joint.

    Args:
        positions: (F, J, 3) metres. parents: (J,) parent index (-1: root).
        min_length: bones shorter than this on average (metres; zero-length bones of some
            rigs) get NaN, as a relative spread means nothing for them.
    Returns:
        (J,) CV per bone, dimensionless; NaN for roots and too-short bones.
    """
    lengths = bone_lengths(positions, parents)
    mean = lengths.mean(axis=0)
    ok = np.isfinite(mean) & (mean >= min_length)
    out = np.full(mean.shape, np.nan)
    out[ok] = lengths[:, ok].std(axis=0) / mean[ok]
    return out


def mean_jerk(positions: np.ndarray, fps: float) -> Mean:
    """Mean magnitude of the jerk (third time derivative of position), m/s³.

    Third finite difference ``x[t+3] - 3x[t+2] + 3x[t+1] - x[t]`` times ``fps³``, its norm
    averaged over frames and joints. Depends on the frame rate: compare at the same fps.

    Args:
        positions: (F, J, 3) metres, F >= 4 (fewer frames count nothing). fps: frames per second.
    """
    positions = _check_positions(positions)
    if positions.shape[0] < 4:
        return Mean()
    jerk = np.diff(positions, n=3, axis=0) * fps ** 3
    return Mean.of(np.linalg.norm(jerk, axis=-1))


# ============================================================================ samples and paths
def sample_diversity(samples: np.ndarray) -> Mean:
    """Mean distance between samples generated for the same control path, cm.

    The samples share one time axis (the path's), so frame ``t`` of one is compared with frame
    ``t`` of the other: the distance of every joint at every frame, averaged, over all
    unordered pairs of samples.

    Args:
        samples: (S, F, J, 3) world positions in metres, S >= 2 (fewer: nothing counted).
    """
    samples = np.asarray(samples, dtype=np.float64)
    if samples.ndim != 4 or samples.shape[-1] != 3:
        raise ValueError(f"samples must be (S, F, J, 3) metres, got shape {samples.shape}")
    s = samples.shape[0]
    if s < 2:
        return Mean()
    i, j = np.triu_indices(s, k=1)
    dist = np.linalg.norm(samples[i] - samples[j], axis=-1)  # (pairs, F, J)
    return Mean.of(dist * M_TO_CM)


def path_error(root_xz: np.ndarray, commanded_xz: np.ndarray) -> Mean:
    """Mean horizontal distance between the motion's root and the commanded path, cm.

    Args:
        root_xz: (F, 2) the root's floor position (x, z) in the motion, metres.
        commanded_xz: (F, 2) the path it was asked to follow, metres.
    """
    root_xz, commanded_xz = np.asarray(root_xz, np.float64), np.asarray(commanded_xz, np.float64)
    if root_xz.shape != commanded_xz.shape or root_xz.shape[-1] != 2:
        raise ValueError(f"need two (F, 2) paths, got {root_xz.shape} and {commanded_xz.shape}")
    return Mean.of(np.linalg.norm(root_xz - commanded_xz, axis=-1) * M_TO_CM)


def facing_angles(positions: np.ndarray, hips: tuple[int, int], shoulders: tuple[int, int]) -> np.ndarray:
    """(F,) heading of the body in radians (``forward = (sin θ, 0, cos θ)``), unsmoothed.

    Forward is horizontal and perpendicular to the mean of the unit left→right hip and
    shoulder directions (the convention of :mod:`data_pipeline.heading`); a frame where
    they cancel gets the previous frame's heading (0 at the start).
    """
    positions = np.asarray(positions, dtype=np.float64)

    def across(pair: tuple[int, int]) -> np.ndarray:
        v = positions[:, pair[1], :][:, [0, 2]] - positions[:, pair[0], :][:, [0, 2]]
        n = np.linalg.norm(v, axis=-1, keepdims=True)
        return v / np.where(n > 0, n, 1.0)

    a = across(hips) + across(shoulders)
    fwd = np.stack([a[:, 1], -a[:, 0]], axis=-1)
    ok = np.linalg.norm(fwd, axis=-1) > 1e-9
    theta = np.arctan2(fwd[:, 0], fwd[:, 1])
    if not ok.all():  # carry the last valid heading forward
        idx = np.where(ok, np.arange(len(ok)), 0)
        np.maximum.accumulate(idx, out=idx)
        theta = np.where(ok[idx], theta[idx], 0.0)
    return theta


def heading_error(theta: np.ndarray, commanded_theta: np.ndarray) -> Mean:
    """Mean absolute difference between two headings (radians in), in degrees, wrapped to [0, 180]."""
    d = (np.asarray(theta, np.float64) - np.asarray(commanded_theta, np.float64) + np.pi) % (2 * np.pi) - np.pi
    return Mean.of(np.degrees(np.abs(d)))


# ============================================================================ gait
def gait_cycle(positions: np.ndarray, ankles: tuple[int, int], fps: float, min_period_s: float = 0.4,
               max_period_s: float = 2.0, high_frequency_hz: float = 4.0) -> dict[str, float] | None:
    """Is there a stepping gait? Periodicity, alternation and smoothness of the ankle heights.

    Per ankle, the height signal minus its mean: the unbiased autocorrelation (normalised to 1
    at lag 0) has its highest peak between ``min_period_s`` and ``max_period_s`` at the stride
    period; its value there is the *periodicity* (1: perfectly periodic; mocap walks ~0.95, a
    gliding or shuffling character well below 0.5). The left/right correlation of the two
    heights is negative when the feet alternate (mocap walks about -0.7). The high-frequency
    share is the fraction of the heights' power (mean removed) above ``high_frequency_hz``
    (jitter: mocap < 0.01).

    Args:
        positions: (F, J, 3) metres. ankles: (left, right) joint indices. fps: frames per second.
    Returns:
        ``stride_period_s``, ``periodicity``, ``left_right_correlation``, ``height_range_cm``
        (max − min height, mean of both ankles), ``high_frequency_share`` (means of both
        ankles); None when the motion is shorter than two minimum periods.
    """
    positions = _check_positions(positions)
    F = positions.shape[0]
    lo = max(1, int(round(min_period_s * fps)))
    hi = min(int(round(max_period_s * fps)), F // 2)
    if hi <= lo:
        return None
    h = positions[:, list(ankles), 1].T  # (2, F)
    h = h - h.mean(axis=1, keepdims=True)
    n = 1 << int(np.ceil(np.log2(2 * F)))
    spec = np.fft.rfft(h, n=n, axis=1)
    ac = np.fft.irfft(np.abs(spec) ** 2, n=n, axis=1)[:, :F]  # sum_t h[t] h[t + lag]
    ac = ac / np.maximum(ac[:, :1], 1e-300) * F / (F - np.arange(F))  # unbiased, 1 at lag 0
    lag = lo + np.argmax(ac[:, lo: hi + 1], axis=1)
    power = np.abs(np.fft.rfft(h, axis=1)) ** 2
    freq = np.fft.rfftfreq(F, 1.0 / fps)
    total = power[:, freq > 0].sum(axis=1)
    hf = power[:, freq > high_frequency_hz].sum(axis=1) / np.maximum(total, 1e-300)
    sd = h.std(axis=1)
    lr = float((h[0] * h[1]).mean() / (sd[0] * sd[1])) if (sd > 0).all() else 0.0
    return {"stride_period_s": float(lag.mean() / fps), "periodicity": float(ac[[0, 1], lag].mean()),
            "left_right_correlation": lr, "height_range_cm": float(np.ptp(h, axis=1).mean() * M_TO_CM),
            "high_frequency_share": float(hf.mean())}


__all__ = ["Mean", "sum_means", "foot_levels", "foot_contacts", "foot_skating", "foot_penetration",
           "bone_lengths", "bone_length_cv", "mean_jerk", "sample_diversity", "path_error",
           "facing_angles", "heading_error", "gait_cycle", "M_TO_CM"]
