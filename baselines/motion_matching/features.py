"""The matching features of a frame (Clavet 2016): the path ahead and the current pose.

For a frame ``t`` of a motion (its poses in the floor-projected local frame and its control
``dx, dz, dtheta`` per frame, :mod:`data_pipeline.features`):

- **trajectory**: where the root is, and which way it faces, ``k`` frames ahead for each
  offset ``k``, in frame ``t``'s local frame: ``x, z`` (metres) and ``sin, cos`` of the turn
  (4 numbers per offset). The steps past the last *known* control frame repeat the mean of the
  last ``n_mean`` known steps (a game extrapolates the stick the same way), so database frames
  near the end of a clip and a query that may not see the future are treated alike.
- **pose**: the two ankles' local positions (metres) and velocities (local-frame difference x
  fps, m/s), and the root's horizontal velocity (the control step x fps, m/s).

Both are plain numpy, vectorised over frames.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from data_pipeline.errors import InputError
from data_pipeline.features import FeatureDefinition, integrate_control

#: feature groups, in column order, with their default weights
GROUPS = ("trajectory_position", "trajectory_direction", "feet_position", "feet_velocity", "root_velocity")


def ankle_columns(fdef: FeatureDefinition, ankles: Sequence[str]) -> np.ndarray:
    """(6,) column indices of the ankles' local x, y, z (a ``positions`` feature layout).

    Raises:
        ValueError: the layout has no such columns (a ``rotations`` model).
    """
    names = [f"{a}.{c}" for a in ankles for c in "xyz"]
    missing = [n for n in names if n not in fdef.columns]
    if missing:
        raise InputError(f"motion matching needs joint positions among the features (a 'positions' model); "
                         f"missing {', '.join(missing)}")
    return np.array([fdef.columns.index(n) for n in names])


def extend_control(control: np.ndarray, known: int, horizon: int, n_mean: int) -> np.ndarray:
    """(known + 1 + horizon, 3) control: rows ``0..known`` as given, then ``horizon`` rows repeating
    the mean of the last ``n_mean`` known steps (rows ``>= 1``; row 0 is padding)."""
    c = np.asarray(control[:known + 1], dtype=np.float64)
    lo = max(1, known + 1 - n_mean) if known >= 1 else 0
    mean = c[lo:known + 1].mean(axis=0)
    return np.concatenate([c, np.broadcast_to(mean, (horizon, 3))])


def trajectory_features(windows: np.ndarray, offsets: Sequence[int]) -> np.ndarray:
    """(..., 4 * len(offsets)) trajectory features of control windows.

    Args:
        windows: (..., max(offsets) + 1, 3) control rows ``t .. t + max(offsets)`` (row 0, the
            step into ``t``, is ignored).
        offsets: frames ahead, each >= 1.
    Returns:
        per offset ``x, z`` (metres, frame ``t``'s local frame) and ``sin, cos`` of the turn.
    """
    xz, theta = integrate_control(windows)  # from the origin facing +Z, heading 0: frame t's local frame
    k = np.asarray(offsets)
    p, th = xz[..., k, :], theta[..., k]
    out = np.stack([p[..., 0], p[..., 1], np.sin(th), np.cos(th)], axis=-1)
    return out.reshape(out.shape[:-2] + (4 * len(k),))


def pose_features(poses: np.ndarray, control: np.ndarray, ankle_cols: np.ndarray, fps: float) -> np.ndarray:
    """(F, 14) pose features of every frame of one motion: ankle positions (6), ankle velocities
    (6, frame 0 copies frame 1's), root velocity (2).

    Args:
        poses: (F, D) un-normalised poses. control: (F, 3). ankle_cols: :func:`ankle_columns`.
    """
    a = np.asarray(poses, dtype=np.float64)[:, ankle_cols]
    vel = np.diff(a, axis=0, prepend=a[:1]) * fps
    if a.shape[0] > 1:
        vel[0] = vel[1]
    root = np.asarray(control, dtype=np.float64)[:, :2] * fps
    return np.concatenate([a, vel, root], axis=-1)


def pose_feature_of(prev: np.ndarray, cur: np.ndarray, control_row: np.ndarray, ankle_cols: np.ndarray,
                    fps: float) -> np.ndarray:
    """(14,) the pose features of one frame from it and the frame before (as :func:`pose_features`)."""
    return pose_features(np.stack([prev, cur]), np.stack([control_row, control_row]), ankle_cols, fps)[1]


def clip_trajectories(control: np.ndarray, offsets: Sequence[int], n_mean: int) -> np.ndarray:
    """(F, 4 * len(offsets)) trajectory features of every frame of one clip (the clip's own future,
    extrapolated past its end as :func:`extend_control`)."""
    f, h = control.shape[0], max(offsets)
    ext = extend_control(control, f - 1, h, n_mean)
    idx = np.arange(f)[:, None] + np.arange(h + 1)[None, :]
    return trajectory_features(ext[idx], offsets)


def group_columns(num_offsets: int) -> dict[str, np.ndarray]:
    """Column indices of each of :data:`GROUPS` in a full feature vector (trajectory, then pose)."""
    sizes = {"trajectory_position": 2, "trajectory_direction": 2, "feet_position": 6, "feet_velocity": 6,
             "root_velocity": 2}
    out, k = {}, 4 * num_offsets
    out["trajectory_position"] = np.concatenate([np.arange(4 * i, 4 * i + 2) for i in range(num_offsets)])
    out["trajectory_direction"] = np.concatenate([np.arange(4 * i + 2, 4 * i + 4) for i in range(num_offsets)])
    for g in GROUPS[2:]:
        out[g] = np.arange(k, k + sizes[g])
        k += sizes[g]
    return out


__all__ = ["GROUPS", "ankle_columns", "extend_control", "trajectory_features", "pose_features", "pose_feature_of",
           "clip_trajectories", "group_columns"]
