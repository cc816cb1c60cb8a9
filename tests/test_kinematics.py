"""Forward kinematics: hand-computed chains and a naive per-frame implementation built on scipy."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from data_pipeline.bvh import parse_bvh
from data_pipeline.kinematics import (forward_kinematics, forward_kinematics_local, local_transforms,
                                      motion_from_local, rotation_orders, tree_levels)
from data_pipeline.skeleton import Motion, Skeleton
from test_bvh_parse import CHAIN, random_motion


def test_chain_world_positions_by_hand() -> None:
    pos, rot = forward_kinematics(parse_bvh(CHAIN))
    assert pos.shape == (2, 4, 3) and rot.shape == (2, 4, 3, 3)
    # Frame 0: rest pose, bones along +Y.
    np.testing.assert_allclose(pos[0], [[0, 0, 0], [0, 10, 0], [0, 15, 0], [0, 17, 0]], atol=1e-12)
    # Frame 1: Hips at (1, 2, 3) turned 90 degrees about Z (+Y goes to -X); Head turns back by -90.
    np.testing.assert_allclose(pos[1], [[1, 2, 3], [-9, 2, 3], [-14, 2, 3], [-14, 4, 3]], atol=1e-12)
    rz90 = np.array([[0, -1, 0], [1, 0, 0], [0, 0, 1]])
    np.testing.assert_allclose(rot[1, 0], rz90, atol=1e-12)
    np.testing.assert_allclose(rot[1, 1], rz90, atol=1e-12)
    np.testing.assert_allclose(rot[1, 2], np.eye(3), atol=1e-12)
    np.testing.assert_allclose(rot[1, 3], rot[1, 2], atol=1e-12)  # End Sites take their parent's orientation


ORDER_TEST = """HIERARCHY
ROOT A
{
OFFSET 0 0 0
CHANNELS %s
End Site
{
OFFSET 0 1 0
}
}
MOTION
Frames: 1
Frame Time: 1
90 90
"""


def test_rotation_channels_compose_in_listed_order() -> None:
    # R = Rz(90) Rx(90): Rx takes +Y to +Z, and Rz leaves +Z alone.
    zx = forward_kinematics(parse_bvh(ORDER_TEST % "2 Zrotation Xrotation"))[0]
    np.testing.assert_allclose(zx[0, 1], [0, 0, 1], atol=1e-12)
    # R = Rx(90) Rz(90): Rz takes +Y to -X, and Rx leaves -X alone.
    xz = forward_kinematics(parse_bvh(ORDER_TEST % "2 Xrotation Zrotation"))[0]
    np.testing.assert_allclose(xz[0, 1], [-1, 0, 0], atol=1e-12)


def test_position_channels_replace_the_offset_on_any_joint() -> None:
    text = """HIERARCHY
ROOT Root
{
OFFSET 100 100 100
CHANNELS 3 Zrotation Xrotation Yrotation
JOINT Hips
{
OFFSET 0 90 0
CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
JOINT Leg
{
OFFSET 7 8 9
CHANNELS 2 Yposition Xrotation
}
}
}
MOTION
Frames: 2
Frame Time: 0.1
0 0 0 5 95 -300 0 0 0 -4 0
0 0 0 6 93 -250 0 0 0 -4 90
"""
    m = parse_bvh(text)
    local_rot, local_pos = local_transforms(m)
    np.testing.assert_array_equal(local_pos[:, 0], [[100, 100, 100]] * 2)  # no position channels: OFFSET
    np.testing.assert_array_equal(local_pos[:, 1], [[5, 95, -300], [6, 93, -250]])  # all three replaced
    np.testing.assert_array_equal(local_pos[:, 2], [[7, -4, 9], [7, -4, 9]])  # only Y replaced
    pos, _ = forward_kinematics(m)
    np.testing.assert_allclose(pos[:, 1], [[105, 195, -200], [106, 193, -150]])
    np.testing.assert_allclose(pos[:, 2], [[112, 191, -191], [113, 189, -141]])
    # The Leg's own rotation (90 about X on frame 1) does not move the Leg itself.
    np.testing.assert_allclose(local_rot[1, 2], Rotation.from_euler("X", 90, degrees=True).as_matrix(), atol=1e-12)


def naive_forward_kinematics(motion: Motion) -> np.ndarray:
    """World positions (F, J, 3), one frame and one joint at a time, rotations from scipy."""
    sk = motion.skeleton
    out = np.zeros((motion.num_frames, sk.num_joints, 3))
    for f in range(motion.num_frames):
        world_rot = [None] * sk.num_joints
        col = 0
        for j in range(sk.num_joints):
            rot = Rotation.identity()
            trans = sk.offsets[j].copy()
            for name in sk.channels[j]:
                value = motion.values[f, col]
                col += 1
                axis = "XYZ".index(name[0])
                if name.endswith("rotation"):
                    rot = rot * Rotation.from_euler(name[0], value, degrees=True)
                else:
                    trans[axis] = value
            p = sk.parents[j]
            if p < 0:
                world_rot[j], out[f, j] = rot, trans
            else:
                world_rot[j] = world_rot[p] * rot
                out[f, j] = out[f, p] + world_rot[p].apply(trans)
    return out


def test_matches_naive_implementation_on_random_skeletons() -> None:
    rng = np.random.default_rng(11)
    for _ in range(4):
        m = random_motion(rng, frames=6)
        pos, rot = forward_kinematics(m)
        np.testing.assert_allclose(pos, naive_forward_kinematics(m), atol=1e-9)
        eye = np.broadcast_to(np.eye(3), rot.shape)
        np.testing.assert_allclose(rot @ np.swapaxes(rot, -1, -2), eye, atol=1e-12)


def test_leading_batch_axes_and_zero_length_bones() -> None:
    rng = np.random.default_rng(12)
    m = random_motion(rng, frames=8)
    local_rot, local_pos = local_transforms(m)
    pos, rot = forward_kinematics_local(m.skeleton, local_rot.reshape(2, 4, *local_rot.shape[1:]),
                                        local_pos.reshape(2, 4, *local_pos.shape[1:]))
    ref_pos, ref_rot = forward_kinematics_local(m.skeleton, local_rot, local_pos)
    np.testing.assert_allclose(pos.reshape(ref_pos.shape), ref_pos, atol=1e-12)
    np.testing.assert_allclose(rot.reshape(ref_rot.shape), ref_rot, atol=1e-12)
    # A zero-length bone puts the child exactly on its parent.
    sk = Skeleton(["a", "b", "c"], [-1, 0, 1], [[0, 0, 0], [0, 0, 0], [1, 0, 0]],
                  [("Zrotation",), ("Zrotation",), ()], [False, False, True])
    p, _ = forward_kinematics(Motion(sk, [[90.0, 90.0]], 0.1))
    np.testing.assert_allclose(p[0], [[0, 0, 0], [0, 0, 0], [-1, 0, 0]], atol=1e-12)
    with pytest.raises(ValueError, match="expected local_rot"):
        forward_kinematics_local(sk, np.zeros((1, 2, 3, 3)), np.zeros((1, 2, 3)))


def test_rotation_orders() -> None:
    sk = Skeleton(["a", "b", "c"], [-1, 0, 1], np.zeros((3, 3)),
                  [("Xposition", "Zrotation", "Yposition", "Xrotation", "Yrotation"), ("Yrotation",), ()])
    assert rotation_orders(sk) == ["ZXY", "Y", ""]


def test_tree_levels_cover_every_joint_once() -> None:
    sk = random_motion(np.random.default_rng(13)).skeleton
    levels = tree_levels(sk)
    assert sorted(np.concatenate(levels).tolist()) == list(range(sk.num_joints))
    for d, idx in enumerate(levels[1:], start=1):
        assert np.all(np.isin(sk.parents[idx], levels[d - 1]))


def test_motion_from_local_inverts_local_transforms() -> None:
    rng = np.random.default_rng(14)
    for _ in range(3):
        m = random_motion(rng, frames=20)
        local_rot, local_pos = local_transforms(m)
        back = motion_from_local(m.skeleton, local_rot, local_pos, m.frame_time)
        rot2, pos2 = local_transforms(back)
        np.testing.assert_allclose(rot2, local_rot, atol=1e-10)
        np.testing.assert_allclose(pos2, local_pos, atol=1e-12)
        np.testing.assert_allclose(forward_kinematics(back)[0], forward_kinematics(m)[0], atol=1e-9)
    # Angles already in the canonical ranges come back as they were.
    m = parse_bvh(CHAIN)
    m.values[:, 3:] = rng.uniform(-80, 80, size=(2, 9))
    back = motion_from_local(m.skeleton, *local_transforms(m), m.frame_time)
    np.testing.assert_allclose(back.values, m.values, atol=1e-9)
