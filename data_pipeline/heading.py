"""The character's heading: which way it faces, from its hips and shoulders.

Convention: Y is up and the character-local frame has +Z forward (and, for a correctly
labelled skeleton, its left on +X). The heading angle ``theta`` is the rotation about +Y
that turns +Z into the forward direction: ``forward = (sin theta, 0, cos theta)``, so that
``rotation_about_y(theta)`` maps local to world directions.

The forward direction is horizontal and perpendicular to the average of the left->right
hip vector and the left->right shoulder vector: ``forward = up x across``. It is then
smoothed over time with a Gaussian, either on the unit vector (renormalised) or on the
unwrapped angle.

Example::

    >>> import numpy as np
    >>> pos = np.zeros((1, 4, 3)); pos[0, 1, 0] = -1; pos[0, 3, 0] = -1   # right joints at -X
    >>> heading_angles(forward_directions(pos, (0, 1), (2, 3)))             # facing +Z
    array([0.])
"""
from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d

from .errors import InputError


def forward_directions(world_pos: np.ndarray, hips: tuple[int, int], shoulders: tuple[int, int],
                       equal_weights: bool = True) -> np.ndarray:
    """Horizontal unit forward vectors from the hip and shoulder joints.

    Args:
        world_pos: (F, J, 3) world joint positions (any unit), Y up.
        hips, shoulders: (left, right) joint indices into J.
        equal_weights: average the unit horizontal left->right directions of the hips and
            the shoulders (True), or the raw horizontal vectors (False).
    Returns:
        (F, 2) unit vectors (x, z).
    """
    def across(pair):
        v = world_pos[:, pair[1], :] - world_pos[:, pair[0], :]
        v = v[:, [0, 2]]
        if equal_weights:
            n = np.linalg.norm(v, axis=-1, keepdims=True)
            v = v / np.where(n > 0, n, 1.0)
        return v

    a = across(hips) + across(shoulders)
    # up x across, with up = +Y: (x, z) -> (a_z, -a_x)
    fwd = np.stack([a[:, 1], -a[:, 0]], axis=-1)
    return _normalise(fwd, "the hip and shoulder vectors cancel out (degenerate pose)")


def _normalise(v: np.ndarray, problem: str) -> np.ndarray:
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    bad = np.flatnonzero(n[:, 0] < 1e-12)
    if bad.size:
        raise InputError(f"cannot compute the heading at frame {int(bad[0])}: {problem}")
    return v / n


def heading_angles(forward: np.ndarray) -> np.ndarray:
    """(F, 2) forward vectors (x, z) -> (F,) heading angles in radians, in (-pi, pi]."""
    return np.arctan2(forward[:, 0], forward[:, 1])


def smooth_heading(forward: np.ndarray, sigma_frames: float, method: str = "vector") -> np.ndarray:
    """Gaussian smoothing of the heading over time.

    Args:
        forward: (F, 2) unit forward vectors (x, z).
        sigma_frames: standard deviation of the Gaussian in frames (0: none).
        method: ``"vector"`` (smooth the unit vectors, renormalise), ``"angle"`` (smooth
            the unwrapped angle) or ``"none"``. Edges are padded with the end values.
    Returns:
        (F,) heading angles in radians (unwrapped for ``"angle"``, else in (-pi, pi]).
    """
    if method == "none" or sigma_frames <= 0 or forward.shape[0] < 2:
        return heading_angles(forward)
    if method == "vector":
        smooth = gaussian_filter1d(forward, sigma_frames, axis=0, mode="nearest")
        return heading_angles(_normalise(smooth, "the smoothed forward vector vanished (turn too fast "
                                                 "for the smoothing width)"))
    if method == "angle":
        theta = np.unwrap(heading_angles(forward))
        return gaussian_filter1d(theta, sigma_frames, mode="nearest")
    raise ValueError(f"unknown heading smoothing {method!r}; use 'vector', 'angle' or 'none'")


def wrap_angle(a: np.ndarray) -> np.ndarray:
    """Angles (radians) wrapped to [-pi, pi)."""
    return (np.asarray(a) + np.pi) % (2.0 * np.pi) - np.pi
