"""Forward kinematics of BVH skeletons, vectorised over frames.

Conventions (standard BVH reading):

- A joint's local rotation is the product of its rotation channels in the order they are
  listed, ``R = R_first @ R_second @ R_third`` (intrinsic); identity if it has none.
- A joint's local translation is its OFFSET, except that position channels, on any joint,
  replace the matching OFFSET components.
- ``world_rot[j] = world_rot[parent] @ local_rot[j]`` and
  ``world_pos[j] = world_pos[parent] + world_rot[parent] @ local_pos[j]``.

Positions are in the file's units throughout. The Python loop runs over the joints (a few dozen),
never over frames.

Example:
    >>> world_pos, world_rot = forward_kinematics(read_bvh("walk.bvh"))  # doctest: +SKIP
    >>> world_pos.shape   # (frames, joints and End Sites, 3)             # doctest: +SKIP
"""
from __future__ import annotations

import numpy as np

from data_pipeline.rotations import euler_to_matrix_components, matrix_to_euler
from data_pipeline.skeleton import POSITION_CHANNELS, ROTATION_CHANNELS, Motion, Skeleton

__all__ = ["local_transforms", "forward_kinematics_local", "forward_kinematics", "motion_from_local",
           "rotation_orders", "tree_levels"]


def rotation_orders(skeleton: Skeleton) -> list[str]:
    """Per joint, the letters of its rotation channels in file order (e.g. "ZXY"; "" if none)."""
    return ["".join(c[0] for c in chans if c in ROTATION_CHANNELS) for chans in skeleton.channels]


def tree_levels(skeleton: Skeleton) -> list[np.ndarray]:
    """Joint indices grouped by depth in the tree: level 0 is the root, level d the joints d bones below."""
    depth = np.zeros(skeleton.num_joints, dtype=np.int64)
    for j in range(1, skeleton.num_joints):
        depth[j] = depth[skeleton.parents[j]] + 1
    return [np.flatnonzero(depth == d) for d in range(int(depth.max(initial=0)) + 1)] if skeleton.num_joints else []


class _JointChannels:
    """Where one joint's channels are in a frame: rotation order and rows, position axes and rows."""

    __slots__ = ("order", "rot_rows", "pos_axes", "pos_rows")

    def __init__(self, channels: tuple[str, ...], first: int) -> None:
        self.order = "".join(c[0] for c in channels if c in ROTATION_CHANNELS)
        self.rot_rows = [first + k for k, c in enumerate(channels) if c in ROTATION_CHANNELS]
        self.pos_axes = [POSITION_CHANNELS.index(c) for c in channels if c in POSITION_CHANNELS]
        self.pos_rows = [first + k for k, c in enumerate(channels) if c in POSITION_CHANNELS]


def _joint_channels(skeleton: Skeleton) -> list[_JointChannels]:
    first = skeleton.channel_offsets
    return [_JointChannels(c, int(first[j])) for j, c in enumerate(skeleton.channels)]


def _local_of_joint(by_channel: np.ndarray, offset: np.ndarray, info: _JointChannels
                    ) -> tuple[np.ndarray | None, np.ndarray]:
    """One joint's local rotation (3, 3, F) (None: identity) and translation (3, F).

    ``by_channel`` is the (C, F) transpose of the motion's values.
    """
    frames = by_channel.shape[1]
    rot = euler_to_matrix_components(by_channel[info.rot_rows], info.order) if info.order else None
    pos = np.empty((3, frames))
    pos[:] = offset[:, None]
    if info.pos_rows:
        pos[info.pos_axes] = by_channel[info.pos_rows]
    return rot, pos


def _place_child(parent_rot: np.ndarray, parent_pos: np.ndarray, rot: np.ndarray | None, pos: np.ndarray,
                 out_rot: np.ndarray, out_pos: np.ndarray, tmp: np.ndarray) -> None:
    """out_pos = parent_pos + parent_rot @ pos; out_rot = parent_rot @ rot, on (3, 3, n) / (3, n) arrays."""
    np.multiply(parent_rot[:, 0], pos[0], out=out_pos)
    out_pos += parent_rot[:, 1] * pos[1]
    out_pos += parent_rot[:, 2] * pos[2]
    out_pos += parent_pos
    if rot is None:
        out_rot[...] = parent_rot
        return
    # out_rot[r, c] = sum_m parent_rot[r, m] rot[m, c]
    np.multiply(parent_rot[:, 0, None], rot[None, 0], out=out_rot)
    for m in (1, 2):
        np.multiply(parent_rot[:, m, None], rot[None, m], out=tmp)
        out_rot += tmp


def local_transforms(motion: Motion) -> tuple[np.ndarray, np.ndarray]:
    """Local rotation and translation of every joint and End Site.

    Args:
        motion: F frames of a skeleton with J joints (End Sites included).
    Returns:
        local_rot: (F, J, 3, 3) rotation from the joint's rotation channels (identity if none).
        local_pos: (F, J, 3) translation from the parent, file units: the OFFSET, with the
            components that have position channels replaced by them.
        Both are views of frame-last arrays (not C-contiguous), the layout that
        :func:`forward_kinematics_local` works in; ``np.ascontiguousarray`` them if it matters.
    """
    sk = motion.skeleton
    by_channel = np.ascontiguousarray(motion.values.T)  # (C, F): one row per channel
    rot = np.empty((sk.num_joints, 3, 3, motion.num_frames))
    pos = np.empty((sk.num_joints, 3, motion.num_frames))
    for j, info in enumerate(_joint_channels(sk)):
        r, pos[j] = _local_of_joint(by_channel, sk.offsets[j], info)
        rot[j] = np.eye(3)[:, :, None] if r is None else r
    return rot.transpose(3, 0, 1, 2), pos.transpose(2, 0, 1)


def forward_kinematics_local(skeleton: Skeleton, local_rot: np.ndarray,
                             local_pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """World transforms from local ones, along the tree.

    Args:
        skeleton: J joints (End Sites included); only ``parents`` is used.
        local_rot: (..., J, 3, 3) local rotations.
        local_pos: (..., J, 3) local translations (any unit; the result is in the same one).
    Returns:
        world_pos: (..., J, 3) positions; world_rot: (..., J, 3, 3) orientations (views of
        frame-last arrays, as from :func:`local_transforms`).
    """
    local_rot = np.asarray(local_rot, dtype=np.float64)
    local_pos = np.asarray(local_pos, dtype=np.float64)
    joints = skeleton.num_joints
    if local_rot.shape[-3:] != (joints, 3, 3) or local_pos.shape[-2:] != (joints, 3):
        raise ValueError(f"expected local_rot (..., {joints}, 3, 3) and local_pos (..., {joints}, 3); "
                         f"got {local_rot.shape} and {local_pos.shape}")
    batch = np.broadcast_shapes(local_rot.shape[:-3], local_pos.shape[:-2])
    n = int(np.prod(batch, dtype=np.int64))
    # Component-first, batch-last layout: every product is on long contiguous rows.
    # (Free when the input comes from local_transforms, which is laid out this way.)
    rot = np.ascontiguousarray(np.broadcast_to(local_rot, batch + (joints, 3, 3)).reshape(n, joints, 3, 3)
                               .transpose(1, 2, 3, 0))
    pos = np.ascontiguousarray(np.broadcast_to(local_pos, batch + (joints, 3)).reshape(n, joints, 3)
                               .transpose(1, 2, 0))
    world_rot = np.empty_like(rot)  # (J, 3, 3, n)
    world_pos = np.empty_like(pos)  # (J, 3, n)
    tmp = np.empty((3, 3, n))
    for j in range(joints):
        p = skeleton.parents[j]
        if p < 0:
            world_rot[j], world_pos[j] = rot[j], pos[j]
        else:
            _place_child(world_rot[p], world_pos[p], rot[j], pos[j], world_rot[j], world_pos[j], tmp)
    world_pos = world_pos.transpose(2, 0, 1).reshape(batch + (joints, 3))
    world_rot = world_rot.transpose(3, 0, 1, 2).reshape(batch + (joints, 3, 3))
    return world_pos, world_rot


def forward_kinematics(motion: Motion) -> tuple[np.ndarray, np.ndarray]:
    """World positions (file units) and orientations of every joint and End Site.

    Same as ``forward_kinematics_local(skeleton, *local_transforms(motion))``, one joint at a
    time so that the working set stays small (several times faster on long takes).

    Returns:
        world_pos: (F, J, 3); world_rot: (F, J, 3, 3) (views of frame-last arrays).
    """
    sk = motion.skeleton
    frames = motion.num_frames
    by_channel = np.ascontiguousarray(motion.values.T)  # (C, F)
    world_rot = np.empty((sk.num_joints, 3, 3, frames))
    world_pos = np.empty((sk.num_joints, 3, frames))
    tmp = np.empty((3, 3, frames))
    for j, info in enumerate(_joint_channels(sk)):
        rot, pos = _local_of_joint(by_channel, sk.offsets[j], info)
        p = sk.parents[j]
        if p < 0:
            world_rot[j] = np.eye(3)[:, :, None] if rot is None else rot
            world_pos[j] = pos
        else:
            _place_child(world_rot[p], world_pos[p], rot, pos, world_rot[j], world_pos[j], tmp)
    return world_pos.transpose(2, 0, 1), world_rot.transpose(3, 0, 1, 2)


def motion_from_local(skeleton: Skeleton, local_rot: np.ndarray, local_pos: np.ndarray,
                      frame_time: float, source: str | None = None) -> Motion:
    """A Motion whose :func:`local_transforms` are the given ones; inverse of :func:`local_transforms`.

    Rotation channels are written as Euler angles in each joint's own channel order, position
    channels from ``local_pos``. What the channels cannot express is lost: the translation
    of joints without position channels (their OFFSET stands), and, for joints with fewer than
    three rotation channels, any rotation not of their form (see :func:`matrix_to_euler`).

    Args:
        skeleton: J joints (End Sites included).
        local_rot: (F, J, 3, 3) local rotations.
        local_pos: (F, J, 3) local translations, file units.
        frame_time: seconds per frame.
    Returns:
        Motion with (F, C) values, angles in degrees.
    """
    local_rot = np.asarray(local_rot, dtype=np.float64)
    local_pos = np.asarray(local_pos, dtype=np.float64)
    joints = skeleton.num_joints
    if local_rot.ndim != 4 or local_rot.shape[1:] != (joints, 3, 3) or local_pos.shape != local_rot.shape[:2] + (3,):
        raise ValueError(f"expected local_rot (F, {joints}, 3, 3) and local_pos (F, {joints}, 3); "
                         f"got {local_rot.shape} and {local_pos.shape}")
    frames = local_rot.shape[0]
    values = np.empty((frames, skeleton.num_channels))
    for j, info in enumerate(_joint_channels(skeleton)):
        if info.order:
            values[:, info.rot_rows] = matrix_to_euler(local_rot[:, j], info.order)
        if info.pos_rows:
            values[:, info.pos_rows] = local_pos[:, j, info.pos_axes]
    return Motion(skeleton, values, frame_time, source=source)
