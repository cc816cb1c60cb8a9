"""Pure-numpy geometry for drawing skeletons: instance matrices, camera tracks, floor meshes.

World space is Y up, metres. Every function is vectorised over leading axes (frames,
samples); none touches OpenGL, so all of it is testable without a renderer.
"""
from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d

UP = np.array([0.0, 1.0, 0.0])


def bone_pairs(parents: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bones of a kinematic tree.

    Args:
        parents: (J,) int, parent index per joint, -1 for roots.

    Returns:
        (child (B,), parent (B,)) int64 index arrays, one entry per joint that has a parent.
    """
    parents = np.asarray(parents, dtype=np.int64)
    child = np.flatnonzero(parents >= 0)
    return child, parents[child]


def joint_matrices(positions: np.ndarray, radius: float) -> np.ndarray:
    """Instance matrices placing a unit sphere of radius ``radius`` at each joint.

    Args:
        positions: (..., J, 3) metres.
        radius: sphere radius in metres.

    Returns:
        (..., J, 4, 4) float32.
    """
    positions = np.asarray(positions)
    out = np.zeros(positions.shape[:-1] + (4, 4), dtype=np.float32)
    out[..., 0, 0] = out[..., 1, 1] = out[..., 2, 2] = radius
    out[..., :3, 3] = positions
    out[..., 3, 3] = 1.0
    return out


def segment_matrices(start: np.ndarray, end: np.ndarray, radius: float, min_length: float = 1e-5) -> np.ndarray:
    """Instance matrices mapping a unit cylinder (radius 1, height 1 along +Z, centred at the
    origin) onto the segment start→end with the given radius.

    The matrix's columns are ``radius*u, radius*v, L*d, midpoint`` with d the unit direction and
    u, v completing an orthonormal basis, so the scale along the bone's axis is its length L.
    Segments shorter than ``min_length`` keep that length (the matrix stays invertible, which the
    shader needs for its normal matrix).

    Args:
        start, end: (..., 3) metres.
        radius: metres.

    Returns:
        (..., 4, 4) float32.
    """
    start = np.asarray(start, dtype=np.float64)
    end = np.asarray(end, dtype=np.float64)
    vec = end - start
    length = np.linalg.norm(vec, axis=-1, keepdims=True)
    d = np.where(length > min_length, vec / np.maximum(length, 1e-12), np.array([0.0, 1.0, 0.0]))
    # helper axis: X unless d is nearly parallel to it, then Z
    helper = np.where(np.abs(d[..., :1]) < 0.9, np.array([1.0, 0.0, 0.0]), np.array([0.0, 0.0, 1.0]))
    u = np.cross(d, helper)
    u /= np.linalg.norm(u, axis=-1, keepdims=True)
    v = np.cross(d, u)
    out = np.zeros(vec.shape[:-1] + (4, 4), dtype=np.float32)
    out[..., :3, 0] = radius * u
    out[..., :3, 1] = radius * v
    out[..., :3, 2] = d * np.maximum(length, min_length)
    out[..., :3, 3] = 0.5 * (start + end)
    out[..., 3, 3] = 1.0
    return out


def bone_matrices(positions: np.ndarray, parents: np.ndarray, radius: float) -> np.ndarray:
    """Instance matrices of a unit cylinder for every bone (see :func:`segment_matrices`).

    Args:
        positions: (..., J, 3) metres.
        parents: (J,) int, -1 for roots.
        radius: bone radius in metres.

    Returns:
        (..., B, 4, 4) float32 with B = number of joints that have a parent, in joint order.
    """
    child, parent = bone_pairs(parents)
    return segment_matrices(positions[..., parent, :], positions[..., child, :], radius)


def planar_shadow_matrix(light_direction: np.ndarray, floor_y: float, lift: float = 2e-3,
                         squash: float = 1e-3) -> np.ndarray:
    """A 4×4 matrix projecting points along a light direction onto the floor (a drop shadow).

    Points are moved along ``light_direction`` to the plane ``y = floor_y + lift``; their height
    above the floor is kept, multiplied by ``squash``, so that the matrix stays invertible
    (the renderer's normal matrix inverts it) and the shadow stays a millimetre-thin layer.

    Args:
        light_direction: (3,) direction the light travels (pointing down: y < 0).
        floor_y: floor height in metres.

    Returns:
        (4, 4) float64; apply as ``S @ instance_matrix``.
    """
    lx, ly, lz = np.asarray(light_direction, dtype=np.float64)
    if ly >= -1e-3:
        raise ValueError(f"light direction must point down (y < 0), got {light_direction}")
    y0 = floor_y + lift
    s = np.eye(4)
    s[0, 1], s[0, 3] = -lx / ly, lx / ly * floor_y
    s[2, 1], s[2, 3] = -lz / ly, lz / ly * floor_y
    s[1, 1], s[1, 3] = squash, y0 - squash * floor_y
    return s


def smooth_track(xz: np.ndarray, sigma_frames: float) -> np.ndarray:
    """Gaussian-smooth a trajectory along its frame axis (centred: no lag).

    Args:
        xz: (F, ...) positions per frame.
        sigma_frames: standard deviation of the kernel in frames (0: unchanged).

    Returns:
        (F, ...) float64.
    """
    xz = np.asarray(xz, dtype=np.float64)
    if sigma_frames <= 0 or len(xz) < 2:
        return xz.copy()
    return gaussian_filter1d(xz, sigma_frames, axis=0, mode="nearest")


def look_at(eye: np.ndarray, target: np.ndarray, up: np.ndarray = UP) -> np.ndarray:
    """Camera-to-world matrices (OpenGL convention: the camera looks along its -Z).

    Args:
        eye, target: (..., 3) metres.
        up: (3,) world up.

    Returns:
        (..., 4, 4) float64.
    """
    eye = np.asarray(eye, dtype=np.float64)
    z = eye - np.asarray(target, dtype=np.float64)
    z /= np.linalg.norm(z, axis=-1, keepdims=True)
    x = np.cross(np.broadcast_to(up, z.shape), z)
    x /= np.linalg.norm(x, axis=-1, keepdims=True)
    y = np.cross(z, x)
    out = np.zeros(eye.shape[:-1] + (4, 4))
    out[..., :3, 0], out[..., :3, 1], out[..., :3, 2], out[..., :3, 3] = x, y, z, eye
    out[..., 3, 3] = 1.0
    return out


def follow_camera(root_xz: np.ndarray, height: float, floor_y: float, yfov: float, aspect: float,
                  azimuth: float, elevation: float = np.radians(12.0), sigma_frames: float = 15.0,
                  margin: float = 1.5, extra_radius: np.ndarray | float = 0.0,
                  centre_y: np.ndarray | None = None) -> np.ndarray:
    """Camera poses that follow a character smoothly.

    The camera looks at the smoothed root's floor position raised to half the character's
    height (or to the smoothed ``centre_y``), from a fixed world direction (``azimuth`` about Y, ``elevation`` above the floor),
    at the distance where a ``margin``×height tall (and wide) box fits the view.

    Args:
        root_xz: (F, 2) floor position of the root per frame, metres (x, z).
        height: character height in metres.
        floor_y: floor height in metres.
        yfov: vertical field of view in radians; aspect: width / height of the view.
        azimuth: radians; the camera sits at direction (sin a, 0, cos a) from the target.
        sigma_frames: smoothing of the root track, in frames.
        extra_radius: scalar or (F,) metres of extra horizontal room (several characters).
        centre_y: (F,) height in metres to look at per frame (e.g. the middle of the body, for
            a character that climbs or jumps); default ``floor_y + height / 2``.

    Returns:
        (F, 4, 4) float64 camera-to-world poses.
    """
    track = smooth_track(root_xz, sigma_frames)
    extra = smooth_track(np.broadcast_to(np.asarray(extra_radius, float), (len(track),)), sigma_frames)
    half_h = 0.5 * margin * height
    half_w = 0.5 * margin * max(height * 0.6, 0.5) + extra
    tan_y = np.tan(yfov / 2)
    dist = np.maximum(half_h / tan_y, half_w / (tan_y * aspect)) + 0.3 * height
    look_y = np.full(len(track), floor_y + 0.5 * height) if centre_y is None else smooth_track(centre_y, sigma_frames)
    target = np.stack([track[:, 0], look_y, track[:, 1]], axis=-1)
    direction = np.array([np.sin(azimuth) * np.cos(elevation), np.sin(elevation),
                          np.cos(azimuth) * np.cos(elevation)])
    eye = target + dist[:, None] * direction
    return look_at(eye, target)


def auto_azimuth(root_xz: np.ndarray, angle_from_travel: float = np.radians(55.0)) -> float:
    """A camera azimuth giving a three-quarter front view of the overall travel direction.

    Args:
        root_xz: (F, 2) metres. If the character travels less than 0.5 m in total, the
            travel direction is taken as +Z (the camera then sits on the +Z side).

    Returns:
        azimuth in radians (see :func:`follow_camera`).
    """
    root_xz = np.asarray(root_xz, dtype=np.float64)
    travel = root_xz[-1] - root_xz[0]
    if np.linalg.norm(travel) < 0.5:
        travel = np.array([0.0, 1.0])
    heading = np.arctan2(travel[0], travel[1])
    return float(heading + angle_from_travel)


def ribbon(path_xz: np.ndarray, width: float, y: float) -> tuple[np.ndarray, np.ndarray]:
    """A flat triangle strip following a floor path.

    Args:
        path_xz: (P, 2) metres; consecutive points closer than 1 mm are merged.
        width: metres.
        y: height of the ribbon, metres.

    Returns:
        (vertices (2P', 3) float32, faces (2(P'-1), 3) int64, counter-clockwise seen from above),
        empty arrays when the path has fewer than two distinct points.
    """
    p = np.asarray(path_xz, dtype=np.float64).reshape(-1, 2)
    if len(p) == 0:
        return np.zeros((0, 3), np.float32), np.zeros((0, 3), np.int64)
    step = np.linalg.norm(np.diff(p, axis=0), axis=1)
    keep = np.concatenate([[True], step > 1e-3])
    p = p[keep]
    if len(p) < 2:
        return np.zeros((0, 3), np.float32), np.zeros((0, 3), np.int64)
    tangent = np.gradient(p, axis=0)
    tangent /= np.maximum(np.linalg.norm(tangent, axis=1, keepdims=True), 1e-12)
    normal = np.stack([-tangent[:, 1], tangent[:, 0]], axis=1)  # left of travel, seen from above
    left, right = p + 0.5 * width * normal, p - 0.5 * width * normal
    xz = np.stack([left, right], axis=1).reshape(-1, 2)
    vertices = np.stack([xz[:, 0], np.full(len(xz), y), xz[:, 1]], axis=1).astype(np.float32)
    i = 2 * np.arange(len(p) - 1)
    faces = np.concatenate([np.stack([i, i + 1, i + 2], 1), np.stack([i + 1, i + 3, i + 2], 1)])
    # orient every face's normal upwards (+Y)
    a, b, c = (vertices[faces[:, k]].astype(np.float64) for k in range(3))
    flip = np.cross(b - a, c - a)[:, 1] < 0
    faces[flip] = faces[flip][:, ::-1]
    return vertices, faces.astype(np.int64)


def character_height(positions: np.ndarray) -> float:
    """Typical height of a skeleton: the median over frames of (max y - min y), metres.

    Args:
        positions: (F, J, 3) or (N, F, J, 3).
    """
    y = np.asarray(positions)[..., 1]
    return float(np.median(y.max(axis=-1) - y.min(axis=-1)))


def choose_root(parents: np.ndarray, max_depth: int = 3) -> int:
    """The joint the camera follows and whose floor projection is the character's path.

    The tree's top joint, or, while that has exactly one child, that child (at most
    ``max_depth`` steps): a top joint with a single child is a reference frame, not the
    pelvis. This picks the hips of Bandai Namco dataset-2, whose ``joint_Root`` stays still at
    the origin while the hips carry the path (drawing it would pull a bone across the floor).

    Args:
        parents: (J,) parent indices, -1 for the root (index 0).
    """
    parents = np.asarray(parents)
    j = 0
    for _ in range(max_depth):
        children = np.flatnonzero(parents == j)
        if len(children) != 1:
            break
        j = int(children[0])
    return j


def subtree(parents: np.ndarray, root: int) -> tuple[np.ndarray, np.ndarray]:
    """Joints of the subtree under ``root`` (inclusive) and the parent list re-indexed to it.

    Returns:
        (keep (K,) indices into the original joints, new_parents (K,) with -1 for ``root``).
    """
    parents = np.asarray(parents, dtype=np.int64)
    inside = np.zeros(len(parents), dtype=bool)
    inside[root] = True
    for j in range(root + 1, len(parents)):
        inside[j] = parents[j] >= 0 and inside[parents[j]]
    keep = np.flatnonzero(inside)
    remap = -np.ones(len(parents), dtype=np.int64)
    remap[keep] = np.arange(len(keep))
    new_parents = np.where(keep == root, -1, remap[parents[keep]])
    return keep, new_parents
