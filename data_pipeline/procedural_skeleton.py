"""The fixed humanlike skeleton of the procedural locomotion data, and small rotation helpers.

The rest pose is a T-pose of an adult about 175 cm tall, in centimetres, Y up, facing +Z;
the character's left (``_L``) is the +X side. Every rest OFFSET is expressed in world axes
(all rest rotations are the identity), so a joint's world rotation maps rest directions
straight to world directions; the generator builds world rotations and converts them to
local ones at the end.
"""
from __future__ import annotations

import numpy as np

from .skeleton import Skeleton

ROOT_CHANNELS = ("Xposition", "Yposition", "Zposition", "Zrotation", "Xrotation", "Yrotation")
JOINT_CHANNELS = ("Zrotation", "Xrotation", "Yrotation")
#: Euler order of the rotation channels (R = Rz @ Rx @ Ry, intrinsic, as in BVH)
EULER_ORDER = "ZXY"

# ---- body dimensions (cm) -------------------------------------------------------------
HIP_HALF_WIDTH = 9.0  #: lateral distance of each hip joint from the pelvis centre
HIP_DROP = 6.0  #: hip joints lie this far below the Hips (pelvis) joint
THIGH = 43.0  #: UpperLeg -> LowerLeg (hip to knee)
SHIN = 42.0  #: LowerLeg -> Foot (knee to ankle)
ANKLE_TO_BALL = np.array([0.0, -5.0, 14.0])  #: Foot -> Toes at rest (ankle to ball of the foot)
BALL_TO_TIP = np.array([0.0, -2.0, 6.0])  #: Toes -> End Site (ball to toe tip)
ANKLE_TO_HEEL = np.array([0.0, -7.0, -6.0])  #: the heel point (not a joint), from the ankle
BALL_HEIGHT = 2.0  #: height of the Toes joint above the floor when the foot is flat
#: height of the Hips joint when standing with straight legs
STANDING_HIPS_HEIGHT = HIP_DROP + THIGH + SHIN - ANKLE_TO_BALL[1] + BALL_HEIGHT

# (name, parent, offset in cm); End Sites are named "<parent>_End" as the parser names them
_JOINTS: list[tuple[str, str | None, tuple[float, float, float]]] = [
    ("Hips", None, (0.0, 0.0, 0.0)),
    ("Spine", "Hips", (0.0, 10.0, 0.0)),
    ("Chest", "Spine", (0.0, 15.0, 0.0)),
    ("Neck", "Chest", (0.0, 23.0, 0.0)),
    ("Head", "Neck", (0.0, 10.0, 1.0)),
    ("Head_End", "Head", (0.0, 18.0, 0.0)),
    ("Shoulder_L", "Chest", (3.0, 20.0, 0.0)),
    ("UpperArm_L", "Shoulder_L", (15.0, 0.0, 0.0)),
    ("LowerArm_L", "UpperArm_L", (28.0, 0.0, 0.0)),
    ("Hand_L", "LowerArm_L", (26.0, 0.0, 0.0)),
    ("Hand_L_End", "Hand_L", (18.0, 0.0, 0.0)),
    ("Shoulder_R", "Chest", (-3.0, 20.0, 0.0)),
    ("UpperArm_R", "Shoulder_R", (-15.0, 0.0, 0.0)),
    ("LowerArm_R", "UpperArm_R", (-28.0, 0.0, 0.0)),
    ("Hand_R", "LowerArm_R", (-26.0, 0.0, 0.0)),
    ("Hand_R_End", "Hand_R", (-18.0, 0.0, 0.0)),
    ("UpperLeg_L", "Hips", (HIP_HALF_WIDTH, -HIP_DROP, 0.0)),
    ("LowerLeg_L", "UpperLeg_L", (0.0, -THIGH, 0.0)),
    ("Foot_L", "LowerLeg_L", (0.0, -SHIN, 0.0)),
    ("Toes_L", "Foot_L", tuple(ANKLE_TO_BALL)),
    ("Toes_L_End", "Toes_L", tuple(BALL_TO_TIP)),
    ("UpperLeg_R", "Hips", (-HIP_HALF_WIDTH, -HIP_DROP, 0.0)),
    ("LowerLeg_R", "UpperLeg_R", (0.0, -THIGH, 0.0)),
    ("Foot_R", "LowerLeg_R", (0.0, -SHIN, 0.0)),
    ("Toes_R", "Foot_R", tuple(ANKLE_TO_BALL)),
    ("Toes_R_End", "Toes_R", tuple(BALL_TO_TIP)),
]

JOINT_NAMES = [n for n, _, _ in _JOINTS if not n.endswith("_End")]
MIRROR_PAIRS = [(n, n[:-2] + "_R") for n in JOINT_NAMES if n.endswith("_L")]


def procedural_skeleton() -> Skeleton:
    """The fixed skeleton: 21 joints and 5 End Sites (26 entries), rest pose a T-pose in cm."""
    names = [n for n, _, _ in _JOINTS]
    parents = [-1 if p is None else names.index(p) for _, p, _ in _JOINTS]
    offsets = np.array([o for _, _, o in _JOINTS], dtype=np.float64)
    is_end = [n.endswith("_End") for n in names]
    channels = [() if e else (ROOT_CHANNELS if p is None else JOINT_CHANNELS)
                for (_, p, _), e in zip(_JOINTS, is_end)]
    return Skeleton(names, np.array(parents), offsets, channels, np.array(is_end))


# ---- rotation helpers (vectorised; angles in radians) --------------------------------------
def rot_x(a: np.ndarray) -> np.ndarray:
    """(...,) radians -> (..., 3, 3) rotation about +X (turns +Y towards +Z)."""
    a = np.asarray(a, dtype=np.float64)
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([o, z, z], -1), np.stack([z, c, -s], -1), np.stack([z, s, c], -1)], -2)


def rot_y(a: np.ndarray) -> np.ndarray:
    """(...,) radians -> (..., 3, 3) rotation about +Y (turns +Z towards +X)."""
    a = np.asarray(a, dtype=np.float64)
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([c, z, s], -1), np.stack([z, o, z], -1), np.stack([-s, z, c], -1)], -2)


def rot_z(a: np.ndarray) -> np.ndarray:
    """(...,) radians -> (..., 3, 3) rotation about +Z (turns +X towards +Y)."""
    a = np.asarray(a, dtype=np.float64)
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([c, -s, z], -1), np.stack([s, c, z], -1), np.stack([z, z, o], -1)], -2)


def apply(R: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotate vectors: R (..., 3, 3), v (..., 3) or (3,) -> (..., 3)."""
    return np.einsum("...ij,...j->...i", R, np.broadcast_to(v, R.shape[:-1]))


def forward_kinematics_world(skeleton: Skeleton, world_rot: np.ndarray, root_pos: np.ndarray) -> np.ndarray:
    """Joint positions from world rotations (rest offsets in world axes).

    Args:
        world_rot: (F, J, 3, 3) world rotation of every entry (End Sites included; unused there).
        root_pos: (F, 3) root position, cm.
    Returns:
        (F, J, 3) world positions, cm.
    """
    pos = np.empty(world_rot.shape[:2] + (3,))
    pos[:, 0] = root_pos
    for j in range(1, skeleton.num_joints):
        p = skeleton.parents[j]
        pos[:, j] = pos[:, p] + apply(world_rot[:, p], skeleton.offsets[j])
    return pos
