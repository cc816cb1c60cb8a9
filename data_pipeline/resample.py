"""Resampling motion to another frame rate, at any ratio (30 -> 20, 120 -> 20, 60 -> 20, ...).

Resampling is done on the *local* kinematic data: joint translations (position channels) are
interpolated linearly, joint rotations by quaternion slerp, and forward kinematics is applied
afterwards. (Interpolating world positions instead would shorten the bones between samples.)
Output frame k lies at time ``k / fps`` (the first frame is kept); the last output frame is the
last one at or before the end of the input. A source frame that falls exactly on an output
time is copied unchanged, so resampling at a whole ratio (120 -> 20) only picks frames.

Example::

    >>> idx0, idx1, alpha = resample_indices(num_frames=4, src_fps=30, dst_fps=20)  # 0.1 s -> 0, 0.05, 0.1 s
    >>> idx0.tolist(), idx1.tolist(), alpha.tolist()
    ([0, 1, 3], [0, 2, 3], [0.0, 0.5, 0.0])
"""
from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from .kinematics import local_transforms, motion_from_local
from .skeleton import Motion
from .errors import InputError

#: output times closer than this (in source frames) to a source frame take that frame exactly
_SNAP = 1e-9


def snap_fps(fps: float, tolerance: float = 1e-4) -> float:
    """``fps`` rounded to the nearest whole number when within ``tolerance`` (relative) of it.

    BVH files store a rounded frame time (``0.0333333`` for 30 fps); 0 turns this off.
    """
    nearest = float(round(fps))
    if nearest > 0 and abs(fps - nearest) <= tolerance * nearest:
        return nearest
    return float(fps)


def resample_indices(num_frames: int, src_fps: float, dst_fps: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where each output frame falls in the input.

    Returns:
        idx0, idx1: (F_out,) int64 source frames on either side (equal where the output time
            falls exactly on a source frame); alpha: (F_out,) float64 in [0, 1), the weight of
            ``idx1``. ``F_out = floor((num_frames - 1) * dst_fps / src_fps) + 1``.
    """
    if num_frames < 1:
        raise InputError("cannot resample an empty motion")
    if not (src_fps > 0 and dst_fps > 0):
        raise ValueError(f"frame rates must be positive, got {src_fps} -> {dst_fps}")
    ratio = src_fps / dst_fps  # source frames per output frame
    n_out = int(np.floor((num_frames - 1) / ratio + _SNAP)) + 1
    u = np.arange(n_out, dtype=np.float64) * ratio
    nearest = np.round(u)
    u = np.where(np.abs(u - nearest) < _SNAP * max(1.0, ratio), nearest, u)
    idx0 = np.minimum(np.floor(u).astype(np.int64), num_frames - 1)
    alpha = u - idx0
    idx1 = np.where(alpha > 0, np.minimum(idx0 + 1, num_frames - 1), idx0)
    alpha = np.where(idx1 == idx0, 0.0, alpha)
    return idx0, idx1, alpha


def lerp_frames(x: np.ndarray, idx0: np.ndarray, idx1: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Linear interpolation along the first axis: x (F, ...) -> (F_out, ...)."""
    a = alpha.reshape((-1,) + (1,) * (x.ndim - 1))
    out = x[idx0] * (1.0 - a) + x[idx1] * a
    exact = alpha == 0
    out[exact] = x[idx0[exact]]
    return out


def slerp_quaternions(q0: np.ndarray, q1: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Spherical linear interpolation of unit quaternions along the shorter arc.

    Args:
        q0, q1: (..., 4) unit quaternions (any component order, the same for both).
        alpha: (...) weight of ``q1`` in [0, 1].
    Returns:
        (..., 4) unit quaternions.
    """
    alpha = np.asarray(alpha, dtype=np.float64)[..., None]
    dot = np.sum(q0 * q1, axis=-1, keepdims=True)
    q1 = np.where(dot < 0, -q1, q1)
    dot = np.clip(np.abs(dot), 0.0, 1.0)
    theta = np.arccos(dot)
    sin_t = np.sin(theta)
    small = sin_t < 1e-8
    safe = np.where(small, 1.0, sin_t)
    w0 = np.where(small, 1.0 - alpha, np.sin((1.0 - alpha) * theta) / safe)
    w1 = np.where(small, alpha, np.sin(alpha * theta) / safe)
    q = w0 * q0 + w1 * q1
    return q / np.linalg.norm(q, axis=-1, keepdims=True)


def slerp_frames(rot: np.ndarray, idx0: np.ndarray, idx1: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Slerp of rotation matrices along the first axis: rot (F, ..., 3, 3) -> (F_out, ..., 3, 3).

    Output frames with ``alpha == 0`` are exact copies of the source frame.
    """
    inner = rot.shape[1:-2]
    need = np.flatnonzero(alpha > 0)
    out = rot[idx0].copy()
    if need.size:
        r0 = rot[idx0[need]].reshape(-1, 3, 3)
        r1 = rot[idx1[need]].reshape(-1, 3, 3)
        q0 = Rotation.from_matrix(r0).as_quat()
        q1 = Rotation.from_matrix(r1).as_quat()
        a = np.repeat(alpha[need], int(np.prod(inner, dtype=np.int64)))
        q = slerp_quaternions(q0, q1, a)
        out[need] = Rotation.from_quat(q).as_matrix().reshape((need.size,) + inner + (3, 3))
    return out


def resample_local(local_rot: np.ndarray, local_pos: np.ndarray, src_fps: float,
                   dst_fps: float) -> tuple[np.ndarray, np.ndarray]:
    """Resample local joint transforms.

    Args:
        local_rot: (F, J, 3, 3) local joint rotations.
        local_pos: (F, J, 3) local joint translations (any unit).
        src_fps, dst_fps: frame rates in frames per second.
    Returns:
        (F_out, J, 3, 3) rotations (slerp) and (F_out, J, 3) translations (linear).
    """
    if src_fps == dst_fps:
        return local_rot.copy(), local_pos.copy()
    idx0, idx1, alpha = resample_indices(local_rot.shape[0], src_fps, dst_fps)
    return slerp_frames(local_rot, idx0, idx1, alpha), lerp_frames(local_pos, idx0, idx1, alpha)


def resample_motion(motion: Motion, fps: float, tolerance: float = 1e-4) -> Motion:
    """The motion at ``fps`` frames per second, on the same skeleton.

    Rotations are slerped, position channels interpolated linearly; Euler angles are written
    back in each joint's channel order (so values may differ from the input by an equivalent
    Euler triple). The source rate is first rounded with :func:`snap_fps` (``tolerance``).
    """
    src = snap_fps(motion.fps, tolerance)
    rot, pos = local_transforms(motion)
    rot, pos = resample_local(rot, pos, src, fps)
    return motion_from_local(motion.skeleton, rot, pos, 1.0 / fps, source=motion.source)
