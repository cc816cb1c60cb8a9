"""Inverse kinematics: joint rotations on a fixed skeleton that reproduce given joint positions.

Used to export the ``positions`` representation (generated world positions of the profile's
joints) as BVH on the training skeleton. Bone lengths stay those of the skeleton (its
OFFSETs); only rotations and the root translation are fitted, so the exported joints land on
the targets up to the difference in bone lengths (zero for motion captured on that skeleton).

The fit runs top-down over the tree, vectorised over frames (the Python loop is over joints):

- The root's translation is put on its target (its ancestors, e.g. Bandai Namco's still
  ``joint_Root``, keep their rest transform).
- A joint whose target is known and whose *effective children* (its nearest descendants with
  known targets, reached through joints without targets, whose rotations stay identity) give
  two or more independent rest directions (hips, chest) gets the full rotation that best maps
  its rest child vectors onto the vectors from its placed position to the targets, a weighted
  least-squares (Kabsch / SVD) fit.
- A joint with one effective child gets the *swing*: the smallest rotation that points its bone
  at the target, measured from a fixed reference orientation (the parent's frame turned so that
  the bone points along its average direction over the clip; swinging from the rest direction
  instead would be ill-defined where the rest pose points the other way, as Bandai Namco's legs
  do). Its *twist* about the bone comes from the neighbouring bend plane when the joint is the
  upper end of a hinge-like chain ``joint -> child -> grandchild`` (thigh -> shin -> foot,
  upper arm -> forearm -> hand): the plane's normal, expressed in the swung frame, is averaged
  over all frames; if it is concentrated (a consistent hinge axis, concentration above
  ``hinge_min_concentration``) that local axis is turned onto the plane's normal each frame,
  fully once the chain bends more than ``full_twist_bend_deg`` and blending towards no twist
  as it straightens (where the plane is undefined). The child then bends about that axis only:
  a knee or elbow stays a hinge. Of two chains in a row (thigh-shin-foot and shin-foot-toes)
  only the one with the longer shorter-bone is used, since twisting the shin for the ankle
  would turn the knee off its axis. Other one-child joints keep the swing only.
- Joints without known descendants (hands and feet whose End Sites carry no target) keep an
  identity local rotation.

Example::

    >>> rot, pos = inverse_kinematics(skeleton, targets_m, profile.file_joints, "Hips", 0.01)   # doctest: +SKIP
    >>> motion = motion_from_local(skeleton, rot, pos, 1 / 20)                                  # doctest: +SKIP
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .kinematics import forward_kinematics, motion_from_local
from .skeleton import POSITION_CHANNELS, ROTATION_CHANNELS, Motion, Skeleton
from .profiles import ProfileError

__all__ = ["kabsch", "rotation_between", "axis_angle_matrix", "inverse_kinematics", "positions_to_motion",
           "joint_position_error", "IKFit"]

_EPS = 1e-9


# ============================================================================ rotation helpers
def kabsch(rest: np.ndarray, target: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Rotations ``R`` minimising ``sum_i w_i |R a_i - b_i|^2`` (proper rotations, det +1).

    Args:
        rest: (..., N, 3) vectors ``a_i``.
        target: (..., N, 3) vectors ``b_i``.
        weights: (..., N) non-negative weights (None: all 1).
    Returns:
        (..., 3, 3) rotation matrices.
    """
    rest = np.asarray(rest, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    w = np.ones(target.shape[:-1]) if weights is None else np.asarray(weights, dtype=np.float64)
    h = np.einsum("...n,...ni,...nj->...ij", w, target, rest)  # sum_i w b a^T
    u, _, vt = np.linalg.svd(h)
    d = np.sign(np.linalg.det(u @ vt))
    d = np.where(d == 0, 1.0, d)
    u = u.copy()
    u[..., :, 2] *= d[..., None]
    return u @ vt


def axis_angle_matrix(axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Rotation by ``angle`` (radians, right-handed) about the unit ``axis``: (..., 3), (...) -> (..., 3, 3)."""
    axis = np.asarray(axis, dtype=np.float64)
    angle = np.asarray(angle, dtype=np.float64)
    x, y, z = axis[..., 0], axis[..., 1], axis[..., 2]
    c, s = np.cos(angle), np.sin(angle)
    t = 1.0 - c
    out = np.empty(np.broadcast_shapes(axis.shape[:-1], angle.shape) + (3, 3))
    out[..., 0, 0] = t * x * x + c
    out[..., 0, 1] = t * x * y - s * z
    out[..., 0, 2] = t * x * z + s * y
    out[..., 1, 0] = t * x * y + s * z
    out[..., 1, 1] = t * y * y + c
    out[..., 1, 2] = t * y * z - s * x
    out[..., 2, 0] = t * x * z - s * y
    out[..., 2, 1] = t * y * z + s * x
    out[..., 2, 2] = t * z * z + c
    return out


def _unit(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.where(n > _EPS, n, 1.0), n[..., 0]


def _any_perpendicular(v: np.ndarray) -> np.ndarray:
    """(..., 3) unit vectors perpendicular to the unit vectors ``v``."""
    other = np.where(np.abs(v[..., :1]) < 0.9, np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0]))
    return _unit(np.cross(v, other))[0]


def rotation_between(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """The smallest rotation turning direction ``u`` into direction ``v``: (..., 3) -> (..., 3, 3).

    Zero vectors give the identity; opposite directions a half turn about a perpendicular axis.
    """
    u, nu = _unit(np.asarray(u, dtype=np.float64))
    v, nv = _unit(np.asarray(v, dtype=np.float64))
    axis, s = _unit(np.cross(u, v))
    c = np.sum(u * v, axis=-1)
    angle = np.arctan2(s, c)
    opposite = (s < 1e-12) & (c < 0)
    axis = np.where(opposite[..., None], _any_perpendicular(u), axis)
    angle = np.where((nu < _EPS) | (nv < _EPS), 0.0, angle)
    return axis_angle_matrix(axis, angle)


# ============================================================================ the fit
@dataclass
class _JointPlan:
    """What the fit does at one joint (static, from the skeleton)."""

    mode: str  # "rest" (ancestor of the root) | "full" | "swing" | "identity"
    children: list[int]  # effective children (nearest known descendants)
    rest: np.ndarray  # (len(children), 3) rest vectors to them, in the joint's frame (file units)
    grandchild: int = -1  # hinge chain: the single effective child of the single effective child


def _effective_children(skeleton: Skeleton, j: int, known: set[int]) -> list[tuple[int, np.ndarray]]:
    """Nearest known descendants of ``j`` and their rest vectors from ``j`` (identity rotations between)."""
    out: list[tuple[int, np.ndarray]] = []
    stack = [(c, skeleton.offsets[c].copy()) for c in skeleton.children(j)]
    while stack:
        c, vec = stack.pop(0)
        if c in known:
            out.append((c, vec))
        else:
            stack.extend((g, vec + skeleton.offsets[g]) for g in skeleton.children(c))
    return out


def _independent(rest: np.ndarray) -> bool:
    """Whether the (N, 3) rest vectors span at least two directions (fix a full rotation)."""
    if len(rest) < 2:
        return False
    sv = np.linalg.svd(rest / np.linalg.norm(rest, axis=1, keepdims=True), compute_uv=False)
    return bool(sv[1] > 0.05 * sv[0])


def _plan(skeleton: Skeleton, known: set[int], root: int) -> list[_JointPlan]:
    root_path = set(skeleton.ancestors(root))
    scale = max(float(np.abs(skeleton.offsets).max(initial=0.0)), 1.0)
    plans: list[_JointPlan] = []
    for j in range(skeleton.num_joints):
        if j in root_path:
            plans.append(_JointPlan("rest", [], np.zeros((0, 3))))
            continue
        rotates = any(c in ROTATION_CHANNELS for c in skeleton.channels[j])
        kids = _effective_children(skeleton, j, known) if (j in known and rotates) else []
        kids = [(c, v) for c, v in kids if np.linalg.norm(v) > 1e-6 * scale]  # zero-length bones give no direction
        rest = np.array([v for _, v in kids]).reshape(-1, 3)
        mode = "identity" if not kids else ("full" if _independent(rest) else "swing")
        plans.append(_JointPlan(mode, [c for c, _ in kids], rest))
    # Hinge chains j -> c -> g: a swing joint whose single child is a swing joint with a single
    # child. Consecutive chains conflict (twisting c for its own chain would turn the hinge at c
    # off its axis), so they are chosen greedily by their shorter bone: the plane of two long
    # bones (thigh-shin, upper arm-forearm) is better defined than one with a short bone
    # (shin-foot, clavicle-upper arm).
    candidates = []
    for j, p in enumerate(plans):
        if p.mode == "swing" and len(p.children) == 1:
            c = plans[p.children[0]]
            if c.mode == "swing" and len(c.children) == 1:
                score = min(float(np.linalg.norm(p.rest[0])), float(np.linalg.norm(c.rest[0])))
                candidates.append((-score, j))
    blocked: set[int] = set()
    for _, j in sorted(candidates):
        c = plans[j].children[0]
        if j in blocked:
            continue
        plans[j].grandchild = plans[c].children[0]
        blocked.update({c, int(skeleton.parents[j])})
    return plans


def inverse_kinematics(skeleton: Skeleton, targets: np.ndarray, target_joints: list[str], root: str,
                       unit_scale: float = 1.0, *, hinge_min_concentration: float = 0.6,
                       full_twist_bend_deg: float = 15.0) -> tuple[np.ndarray, np.ndarray]:
    """Local joint rotations and translations on ``skeleton`` that place ``target_joints`` on ``targets``.

    Args:
        skeleton: the skeleton to animate (file units; End Sites included).
        targets: (..., F, M, 3) world positions of the ``M`` target joints, metres (any
            leading axes, e.g. samples; they share one hinge-axis estimate).
        target_joints: M file joint names (must include ``root``).
        root: the joint whose translation carries the path (it must have position channels).
        unit_scale: file units -> metres (0.01 for centimetres).
        hinge_min_concentration: how consistent (0..1) a chain's bend-plane normal must be in
            the upper joint's frame for it to set that joint's twist.
        full_twist_bend_deg: bend angle from which the bend plane sets the twist fully.
    Returns:
        local_rot (..., F, J, 3, 3) and local_pos (..., F, J, 3) in file units, for
        :func:`data_pipeline.kinematics.motion_from_local`.
    """
    targets = np.asarray(targets, dtype=np.float64)
    if targets.ndim < 3 or targets.shape[-2:] != (len(target_joints), 3):
        raise ValueError(f"targets must be (..., F, {len(target_joints)}, 3) for the {len(target_joints)} target "
                         f"joints; got {targets.shape}")
    if not np.all(np.isfinite(targets)):
        raise ValueError("targets contain NaN or infinite values")
    idx = [skeleton.index(n) for n in target_joints]
    r = skeleton.index(root)
    if r not in idx:
        raise ProfileError(f"the root joint {root!r} must be one of the target joints")
    if not any(c in POSITION_CHANNELS for c in skeleton.channels[r]):
        raise ProfileError(f"the root joint {root!r} has no position channels: it cannot carry the path")
    lead = targets.shape[:-2]
    n = int(np.prod(lead, dtype=np.int64))
    tgt = np.full((n, skeleton.num_joints, 3), np.nan)
    tgt[:, idx] = targets.reshape(n, len(idx), 3) / unit_scale
    plans = _plan(skeleton, set(idx), r)

    J = skeleton.num_joints
    eye = np.broadcast_to(np.eye(3), (n, 3, 3))
    local_rot = np.empty((n, J, 3, 3))
    local_pos = np.broadcast_to(skeleton.offsets, (n, J, 3)).copy()
    world_rot = np.empty((n, J, 3, 3))
    world_pos = np.empty((n, J, 3))
    full_bend = np.deg2rad(full_twist_bend_deg)
    for j in range(J):
        p = int(skeleton.parents[j])
        prot = eye if p < 0 else world_rot[:, p]
        ppos = np.zeros((n, 3)) if p < 0 else world_pos[:, p]
        plan = plans[j]
        if j == r:  # the root's translation puts it on its target
            local_pos[:, j] = np.einsum("fji,fj->fi", prot, tgt[:, j] - ppos)  # prot^T (t - ppos)
        world_pos[:, j] = ppos + np.einsum("fij,fj->fi", prot, local_pos[:, j])
        if plan.mode == "full":
            vec = tgt[:, plan.children] - world_pos[:, j, None]
            wrot = kabsch(np.broadcast_to(plan.rest, vec.shape), vec)
        elif plan.mode == "swing":
            wrot = _swing_twist(plan, prot, world_pos[:, j], tgt, hinge_min_concentration, full_bend)
        else:
            wrot = prot
        world_rot[:, j] = wrot
        local_rot[:, j] = np.swapaxes(prot, -1, -2) @ wrot
    return local_rot.reshape(lead + (J, 3, 3)), local_pos.reshape(lead + (J, 3))


def _swing_twist(plan: _JointPlan, prot: np.ndarray, pos: np.ndarray, tgt: np.ndarray,
                 min_concentration: float, full_bend: float) -> np.ndarray:
    """World rotation of a one-direction joint: swing towards its child(ren), twist from the bend plane."""
    a = plan.rest.sum(axis=0)  # local bone direction (children collinear at rest)
    b = (tgt[:, plan.children] - pos[:, None]).sum(axis=1)  # (F, 3) world bone vector
    # Swing from a fixed reference orientation near the bone's typical direction, not from the
    # rest direction, which may point the other way (Bandai Namco's legs rest pointing up):
    # near a half turn the smallest rotation's axis is ill-defined and the twist would jump.
    typical = _unit(np.einsum("fji,fj->fi", prot, _unit(b)[0]).sum(axis=0))[0]
    ref = prot @ rotation_between(a, typical)  # (F, 3, 3) parent frame with the reference turn
    swung = rotation_between(ref @ a, b) @ ref
    if plan.grandchild < 0:
        return swung
    c = plan.children[0]
    b1, _ = _unit(tgt[:, c] - pos)
    b2, _ = _unit(tgt[:, plan.grandchild] - tgt[:, c])
    normal, s = _unit(np.cross(b1, b2))
    bend = np.arctan2(s, np.sum(b1 * b2, axis=-1))
    weight = np.clip(bend / full_bend, 0.0, 1.0)
    local_normal = np.einsum("fji,fj->fi", swung, normal)  # swung^T n
    total = float(weight.sum())
    mean = (weight[:, None] * local_normal).sum(axis=0)
    if total <= 0 or np.linalg.norm(mean) < min_concentration * total:
        return swung
    a_unit = a / np.linalg.norm(a)
    hinge = mean - np.dot(mean, a_unit) * a_unit
    if np.linalg.norm(hinge) < _EPS:
        return swung
    hinge = hinge / np.linalg.norm(hinge)
    u = swung @ hinge  # the hinge axis after the swing (perpendicular to the bone)
    v, nv = _unit(weight[:, None] * normal + (1.0 - weight[:, None]) * u)
    v = np.where((nv < 1e-6)[:, None], u, v)
    axis, _ = _unit(b)
    angle = np.arctan2(np.sum(axis * np.cross(u, v), axis=-1), np.sum(u * v, axis=-1))
    return axis_angle_matrix(axis, angle) @ swung


# ============================================================================ convenience
@dataclass
class IKFit:
    """An IK result on one clip.

    Attributes:
        motion: the fitted motion (file units), ready for :func:`data_pipeline.bvh_writer.write_bvh`.
        error: (F, M) distance in metres between each target joint and its fitted position.
    """

    motion: Motion
    error: np.ndarray

    @property
    def mean_error(self) -> float:
        """Mean joint position error in metres."""
        return float(self.error.mean())

    @property
    def max_error(self) -> float:
        """Largest joint position error in metres."""
        return float(self.error.max())


def joint_position_error(motion: Motion, targets: np.ndarray, target_joints: list[str],
                         unit_scale: float = 1.0) -> np.ndarray:
    """(F, M) distance in metres between the motion's joints (forward kinematics) and ``targets`` (F, M, 3) m."""
    world, _ = forward_kinematics(motion)
    idx = [motion.skeleton.index(n) for n in target_joints]
    return np.linalg.norm(world[:, idx] * unit_scale - np.asarray(targets, dtype=np.float64), axis=-1)


def positions_to_motion(skeleton: Skeleton, targets: np.ndarray, target_joints: list[str], root: str,
                        unit_scale: float, frame_time: float, source: str | None = None, **options) -> IKFit:
    """Fit a BVH motion to joint positions: :func:`inverse_kinematics`, Euler angles, and its error.

    Args:
        skeleton: the skeleton to animate (file units).
        targets: (F, M, 3) world positions of ``target_joints`` in metres.
        target_joints, root, unit_scale: as in :func:`inverse_kinematics`.
        frame_time: seconds per frame.
        source: a name for the motion.
        **options: passed to :func:`inverse_kinematics`.
    Returns:
        :class:`IKFit` with the motion and the per-joint error of its forward kinematics.
    """
    targets = np.asarray(targets, dtype=np.float64)
    if targets.ndim != 3:
        raise ValueError(f"targets must be (F, M, 3); got {targets.shape}")
    rot, pos = inverse_kinematics(skeleton, targets, target_joints, root, unit_scale, **options)
    motion = motion_from_local(skeleton, rot, pos, frame_time, source=source)
    return IKFit(motion, joint_position_error(motion, targets, target_joints, unit_scale))
