"""Rotation maths in numpy: Euler angles (BVH convention), matrices, the 6-D representation.

One convention, written down once. Matrices act on column vectors (``v_world = R @ v_local``).
An Euler ``order`` is the order of the rotation channels as they are listed in a BVH file:
``"ZXY"`` means ``R = Rz(a0) @ Rx(a1) @ Ry(a2)``, with ``angles[..., 0]`` the Z angle. These are
*intrinsic* rotations, the same as ``scipy.spatial.transform.Rotation.from_euler("ZXY", ...)``
(upper-case letters). Angles are in degrees where the name says ``deg``, radians elsewhere.

Every function is vectorised over any leading axes and works in float64.
"""
from __future__ import annotations

import numpy as np

_AXIS_INDEX = {"X": 0, "Y": 1, "Z": 2}

#: Below this value of cos(middle angle), :func:`matrix_to_euler` treats the rotation as gimbal-locked.
GIMBAL_EPS = 1e-9


def _check_order(order: str, lengths: tuple[int, ...] = (3,)) -> str:
    order = order.upper()
    if len(order) not in lengths or any(a not in _AXIS_INDEX for a in order) or len(set(order)) != len(order):
        raise ValueError(
            f"Euler order must be {' or '.join(map(str, lengths))} distinct letters out of X, Y, Z; got {order!r}")
    return order


def axis_rotation(axis: str, angle_rad: np.ndarray) -> np.ndarray:
    """Rotation about one coordinate axis.

    Args:
        axis: "X", "Y" or "Z".
        angle_rad: (...) angles in radians (right-handed: positive turns Y towards Z about X, etc.).
    Returns:
        (..., 3, 3) rotation matrices.
    """
    i = _AXIS_INDEX[axis.upper()]
    j, k = (i + 1) % 3, (i + 2) % 3
    angle_rad = np.asarray(angle_rad, dtype=np.float64)
    c, s = np.cos(angle_rad), np.sin(angle_rad)
    out = np.zeros(angle_rad.shape + (3, 3))
    out[..., i, i] = 1.0
    out[..., j, j] = c
    out[..., k, k] = c
    out[..., j, k] = -s
    out[..., k, j] = s
    return out


def _cos_sin_deg(angles_deg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """cos and sin of angles in degrees, from one tangent of the half angle.

    numpy's float64 tan is vectorised (SIMD) while its cos and sin are not: this is
    about twice as fast as ``np.cos`` and ``np.sin`` together, and agrees with them to a few ulp.
    """
    t = np.tan(np.multiply(angles_deg, np.pi / 360.0))
    t2 = np.square(t)
    inv = np.add(t2, 1.0)
    np.reciprocal(inv, out=inv)
    c = np.subtract(1.0, t2, out=t2)
    c *= inv
    s = np.multiply(t, 2.0, out=t)
    s *= inv
    return c, s


def euler_to_matrix(angles_deg: np.ndarray, order: str) -> np.ndarray:
    """Rotation matrices from BVH Euler angles.

    Args:
        angles_deg: (..., n) angles in degrees, in the order of ``order``; n = len(order).
        order: the rotation channel order, e.g. "ZXY" (R = Rz @ Rx @ Ry, intrinsic). One or two
            letters are accepted too, for joints with fewer rotation channels.
    Returns:
        (..., 3, 3) rotation matrices.
    """
    order = _check_order(order, (1, 2, 3))
    angles = np.asarray(angles_deg, dtype=np.float64)
    if angles.shape[-1:] != (len(order),):
        raise ValueError(f"angles must have shape (..., {len(order)}) for order {order!r}; got {angles.shape}")
    components = euler_to_matrix_components(np.moveaxis(angles, -1, 0), order)
    return np.ascontiguousarray(np.moveaxis(components, (0, 1), (-2, -1)))


def euler_to_matrix_components(angles_deg: np.ndarray, order: str) -> np.ndarray:
    """:func:`euler_to_matrix` with the component axes first, for fast code on long sequences.

    Args:
        angles_deg: (n, ...) angles in degrees, ``angles_deg[m]`` about axis ``order[m]``.
        order: one to three distinct letters out of X, Y, Z.
    Returns:
        (3, 3, ...) matrices: ``out[r, c]`` is entry (r, c) of every rotation.
    """
    order = _check_order(order, (1, 2, 3))
    angles = np.asarray(angles_deg, dtype=np.float64)
    if angles.shape[:1] != (len(order),):
        raise ValueError(f"angles must have shape ({len(order)}, ...) for order {order!r}; got {angles.shape}")
    if len(order) < 3:  # complete the order with the missing axes at angle 0
        angles = np.concatenate([angles, np.zeros((3 - len(order),) + angles.shape[1:])], axis=0)
        order = order + "".join(a for a in "XYZ" if a not in order)
    i, j, k = (_AXIS_INDEX[a] for a in order)
    # Written out for the cyclic order XYZ; any order is a relabelling of the axes, and an odd
    # relabelling (a reflection) reverses the sense of every rotation, hence the sign.
    sign = 1.0 if (j - i) % 3 == 1 else -1.0
    c, s = _cos_sin_deg(angles)
    if sign < 0:
        np.negative(s, out=s)
    ca, cb, cc = c
    sa, sb, sc = s
    out = np.empty((3, 3) + angles.shape[1:])
    sa_sb, ca_sb = sa * sb, ca * sb
    np.multiply(cb, cc, out=out[i, i, ...])
    np.multiply(cb, sc, out=out[i, j, ...])
    np.negative(out[i, j, ...], out=out[i, j, ...])
    out[i, k, ...] = sb
    out[j, i, ...] = ca * sc + sa_sb * cc
    out[j, j, ...] = ca * cc - sa_sb * sc
    np.multiply(sa, cb, out=out[j, k, ...])
    np.negative(out[j, k, ...], out=out[j, k, ...])
    out[k, i, ...] = sa * sc - ca_sb * cc
    out[k, j, ...] = sa * cc + ca_sb * sc
    np.multiply(ca, cb, out=out[k, k, ...])
    return out


def matrix_to_euler(R: np.ndarray, order: str) -> np.ndarray:
    """BVH Euler angles of rotation matrices; inverse of :func:`euler_to_matrix`.

    The middle angle lies in [-90, 90] degrees, the others in (-180, 180]. At gimbal lock
    (middle angle ±90 degrees) the last angle is set to 0 and the first takes the whole turn,
    so that ``euler_to_matrix(matrix_to_euler(R, o), o)`` gives back ``R``.

    With one or two letters (joints with fewer rotation channels) the angles, each in
    (-180, 180], are exact for rotations of that form, ``Ra(a)`` or ``Ra(a) @ Rb(b)``; for other
    rotations they are an approximation (read from the matrix as if it had that form).

    Args:
        R: (..., 3, 3) rotation matrices.
        order: three distinct letters, e.g. "ZXY" (or one or two).
    Returns:
        (..., len(order)) angles in degrees, in the order of ``order``.
    """
    order = _check_order(order, (1, 2, 3))
    R = np.asarray(R, dtype=np.float64)
    if R.shape[-2:] != (3, 3):
        raise ValueError(f"R must have shape (..., 3, 3); got {R.shape}")
    if len(order) < 3:
        return _matrix_to_partial_euler(R, order)
    i, j, k = (_AXIS_INDEX[a] for a in order)
    # +1 for a cyclic order (XYZ, YZX, ZXY), -1 for the others.
    sign = 1.0 if (j - i) % 3 == 1 else -1.0
    # R = Ri(a) Rj(b) Rk(c):  R[i,k] = sign sin b,  row i otherwise = cos b (cos c, -sign sin c).
    cos_b = np.hypot(R[..., i, i], R[..., i, j])
    b = np.arctan2(sign * R[..., i, k], cos_b)
    a = np.arctan2(-sign * R[..., j, k], R[..., k, k])
    # The last angle from the first: Ri(a)^T R = Rj(b) Rk(c), whose row j is (sign sin c, cos c, 0)
    # in columns (i, j, k). Unlike atan2 of row i, this stays accurate near gimbal lock, where a
    # is ill-conditioned: c then makes up for a's error and the product stays exact.
    cos_a, sin_a = np.cos(a), np.sin(a)
    c = np.arctan2(sign * cos_a * R[..., j, i] + sin_a * R[..., k, i],
                   cos_a * R[..., j, j] + sign * sin_a * R[..., k, j])
    locked = cos_b < GIMBAL_EPS
    if np.any(locked):
        # With c = 0, column j of R is Ri(a) e_j = cos a e_j + sign sin a e_k.
        a = np.where(locked, np.arctan2(sign * R[..., k, j], R[..., j, j]), a)
        c = np.where(locked, 0.0, c)
    return np.rad2deg(np.stack([a, b, c], axis=-1))


def _matrix_to_partial_euler(R: np.ndarray, order: str) -> np.ndarray:
    """Angles of R = Ri(a) (one letter) or R = Ri(a) Rj(b) (two letters), each in (-180, 180]."""
    i = _AXIS_INDEX[order[0]]
    if len(order) == 1:
        j, k = (i + 1) % 3, (i + 2) % 3
        return np.rad2deg(np.arctan2(R[..., k, j], R[..., j, j]))[..., None]
    j = _AXIS_INDEX[order[1]]
    k = 3 - i - j
    sign = 1.0 if (j - i) % 3 == 1 else -1.0
    # Column j is Ri(a) e_j = cos a e_j + sign sin a e_k; row i is (cos b, 0, sign sin b) in (i, j, k).
    a = np.arctan2(sign * R[..., k, j], R[..., j, j])
    b = np.arctan2(sign * R[..., i, k], R[..., i, i])
    return np.rad2deg(np.stack([a, b], axis=-1))


def matrix_to_6d(R: np.ndarray) -> np.ndarray:
    """The continuous 6-D rotation representation (Zhou et al., CVPR 2019): the first two columns.

    Args:
        R: (..., 3, 3) rotation matrices.
    Returns:
        (..., 6): column 0 then column 1.
    """
    R = np.asarray(R, dtype=np.float64)
    return np.concatenate([R[..., :, 0], R[..., :, 1]], axis=-1)


def sixd_to_matrix(d6: np.ndarray) -> np.ndarray:
    """Rotation matrices from 6-D vectors by Gram–Schmidt; inverse of :func:`matrix_to_6d`.

    Args:
        d6: (..., 6) two 3-vectors (need not be orthonormal, must not be parallel or zero).
    Returns:
        (..., 3, 3) rotation matrices whose first column is the normalised first vector.
    """
    d6 = np.asarray(d6, dtype=np.float64)
    if d6.shape[-1:] != (6,):
        raise ValueError(f"d6 must have shape (..., 6); got {d6.shape}")
    a1, a2 = d6[..., :3], d6[..., 3:]
    b1 = a1 / np.linalg.norm(a1, axis=-1, keepdims=True)
    b2 = a2 - np.sum(b1 * a2, axis=-1, keepdims=True) * b1
    b2 = b2 / np.linalg.norm(b2, axis=-1, keepdims=True)
    b3 = np.cross(b1, b2)
    return np.stack([b1, b2, b3], axis=-1)


def rotation_about_y(theta_rad: np.ndarray) -> np.ndarray:
    """Rotation about the vertical (Y) axis; positive turns Z towards X.

    Args:
        theta_rad: (...) angles in radians.
    Returns:
        (..., 3, 3) rotation matrices.
    """
    return axis_rotation("Y", theta_rad)
