"""The legs of a skeleton and their analytic IK, for the foot clean-up (:mod:`data_pipeline.foot_cleanup`).

A leg (:class:`LegChain`) is found from the contact joints: an *ankle* is a contact joint whose
parent is not one, its parent the knee, the knee's parent the hip; a *toe* is a contact joint
whose parent is an ankle. :func:`two_bone_ik` places knee and ankle with the bone lengths fixed,
the knee bending in the plane the given knee hint makes; :func:`solve_legs` moves every leg of a
pose towards its contact targets (step 4 of :mod:`data_pipeline.foot_cleanup`).

Units: metres; vectorised over any leading axes.
"""
from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Sequence

import numpy as np

from .profiles import ProfileError

__all__ = ["LegChain", "leg_chains", "two_bone_ik", "soft_reach", "solve_legs", "reachable"]

_EPS = 1e-9


@dataclass
class LegChain:
    """One leg, as indices into the model joints (M) and into the contact joints (K).

    Attributes:
        hip, knee, ankle: model joint indices (upper leg, lower leg, foot).
        toe: model joint index of the toe, or -1.
        ankle_contact, toe_contact: contact-joint indices (-1: none).
        thigh, shin, foot: bone lengths in metres (hip-knee, knee-ankle, ankle-toe).
    """

    hip: int
    knee: int
    ankle: int
    toe: int
    ankle_contact: int
    toe_contact: int
    thigh: float
    shin: float
    foot: float


def leg_chains(joints: Sequence[str], parents: Sequence[int], contact_joints: Sequence[str],
               rest_positions: np.ndarray) -> list[LegChain]:
    """The legs of a skeleton from its contact joints.

    An *ankle* is a contact joint whose parent is not one; its parent is the knee and the
    knee's parent the hip. A *toe* is a contact joint whose parent is an ankle.

    Args:
        joints: M model (file) joint names; parents: (M,) parent within them (-1: none).
        contact_joints: K contact joint names (a subset of ``joints``).
        rest_positions: (M, 3) positions in metres of a pose with the skeleton's bone lengths.
    """
    joints = list(joints)
    missing = [j for j in contact_joints if j not in joints]
    if missing:
        raise ProfileError(f"contact joint(s) {missing} are not among the model joints")
    cidx = [joints.index(j) for j in contact_joints]
    rest = np.asarray(rest_positions, dtype=np.float64)
    chains = []
    for k, a in enumerate(cidx):
        if parents[a] in cidx:
            continue
        knee = int(parents[a])
        hip = int(parents[knee]) if knee >= 0 else -1
        if knee < 0 or hip < 0:
            raise ProfileError(f"contact joint {joints[a]!r} needs a parent (knee) and grandparent (hip)")
        toes = [t for t, j in enumerate(cidx) if parents[j] == a]
        t = toes[0] if toes else -1
        toe = cidx[t] if t >= 0 else -1
        length = lambda i, j: float(np.linalg.norm(rest[i] - rest[j]))  # noqa: E731
        chains.append(LegChain(hip, knee, a, toe, k, t, length(knee, hip), length(a, knee),
                               length(toe, a) if toe >= 0 else 0.0))
    return chains


def _unit(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.maximum(n, _EPS), n[..., 0]


def two_bone_ik(hip: np.ndarray, knee_hint: np.ndarray, target: np.ndarray, thigh: float, shin: float
                ) -> tuple[np.ndarray, np.ndarray]:
    """Analytic two-bone IK: knee and ankle positions reaching ``target`` with fixed bone lengths.

    Args:
        hip, knee_hint, target: (..., 3) metres; the knee bends towards ``knee_hint``'s side.
        thigh, shin: bone lengths (m).
    Returns:
        knee (..., 3) and ankle (..., 3): ``|knee - hip| = thigh``, ``|ankle - knee| = shin``;
        the ankle is the target, or the reachable point nearest to it on the hip-target line.
    """
    u, dist = _unit(target - hip)
    d = np.clip(dist, abs(thigh - shin) + 1e-6, (thigh + shin) * (1 - 1e-6))
    cos_a = np.clip((thigh ** 2 + d ** 2 - shin ** 2) / (2 * thigh * d), -1.0, 1.0)
    pole = knee_hint - hip
    pole = pole - np.sum(pole * u, axis=-1, keepdims=True) * u
    p, pn = _unit(pole)
    # degenerate hint (knee on the hip-target line): any direction perpendicular to u
    alt = _unit(np.cross(u, np.where(np.abs(u[..., :1]) < 0.9, [1.0, 0.0, 0.0], [0.0, 1.0, 0.0])))[0]
    p = np.where((pn < 1e-6)[..., None], alt, p)
    knee = hip + thigh * (cos_a[..., None] * u + np.sqrt(1 - cos_a ** 2)[..., None] * p)
    return knee, hip + d[..., None] * u


def soft_reach(hip: np.ndarray, target: np.ndarray, length: float, soft: float,
               own: np.ndarray | None = None) -> np.ndarray:
    """``target`` pulled towards ``hip`` near full extension ("soft IK").

    Within ``(1 - soft) * length`` of the hip a target is kept; beyond, its distance ``d`` becomes
    ``d0 + w (1 - exp(-(d - d0) / w))`` with ``d0 = (1 - soft) length`` and ``w = soft length``:
    continuous with a continuous slope, always short of ``length``, so a leg reaching for a far
    target straightens gradually instead of snapping straight (near full extension a
    centimetre of reach swings the knee by several). With ``own``, the joint where the motion
    itself puts it, the distance is never cut below ``min(d, |own - hip|)``: a target at the
    motion's own joint is kept exactly, and the result is continuous in the target (no jump when
    a lock's target blends back to the motion).

    Args:
        hip, target: (..., 3) metres. length: the straight leg (m). soft: fraction of it (0: none).
        own: (..., 3) metres, or None.
    Returns:
        (..., 3) the target to solve for.
    """
    if soft <= 0:
        return target
    u, d = _unit(target - hip)
    d0, w = (1.0 - soft) * length, soft * length
    reach = np.where(d > d0, d0 + w * (1.0 - np.exp(-(np.maximum(d, d0) - d0) / w)), d)
    if own is not None:
        reach = np.maximum(reach, np.minimum(d, np.linalg.norm(own - hip, axis=-1)))
    return hip + reach[..., None] * u


def solve_legs(positions: np.ndarray, targets: np.ndarray, locked: np.ndarray, chains: Sequence[LegChain],
               levels: np.ndarray | None = None, soft: float = 0.0) -> np.ndarray:
    """Move the knees, ankles and toes of ``positions`` so the legs reach the contact targets.

    Args:
        positions: (..., M, 3) model joint positions (m).
        targets: (..., K, 3) contact joint targets (m); locked: (..., K) bool.
        chains: the legs (:func:`leg_chains`).
        levels: (K,) minimum heights of the contact joints (None: no clamp).
        soft: each leg's reach is softened over this fraction of its length (:func:`soft_reach`;
            a target at the motion's own ankle is kept).
    Returns:
        (..., M, 3) a copy with the leg joints moved (hips and everything else unchanged).
    """
    out = np.array(positions, dtype=np.float64)
    for c in chains:
        hip = out[..., c.hip, :]
        ankle_t = targets[..., c.ankle_contact, :]
        if c.toe >= 0 and c.toe_contact >= 0:
            toe_t = targets[..., c.toe_contact, :]
            toe_only = locked[..., c.toe_contact] & ~locked[..., c.ankle_contact]
            from_toe = out[..., c.ankle, :] + (toe_t - out[..., c.toe, :])  # the foot moved with its toe's correction
            ankle_t = np.where(toe_only[..., None], from_toe, ankle_t)
        ankle_t = soft_reach(hip, ankle_t, c.thigh + c.shin, soft, own=out[..., c.ankle, :])
        if levels is not None:
            ankle_t = ankle_t.copy()
            ankle_t[..., 1] = np.maximum(ankle_t[..., 1], levels[c.ankle_contact])
        knee, ankle = two_bone_ik(hip, out[..., c.knee, :], ankle_t, c.thigh, c.shin)
        out[..., c.knee, :], out[..., c.ankle, :] = knee, ankle
        if c.toe >= 0:
            aim = targets[..., c.toe_contact, :] if c.toe_contact >= 0 else out[..., c.toe, :]
            u = _unit(aim - ankle)[0]
            if levels is not None and c.toe_contact >= 0 and c.foot > 0:
                # keep the toe at or above its level: the lowest direction the foot may point, on the
                # sphere of foot length about the ankle, keeping the horizontal heading
                low = np.clip((levels[c.toe_contact] - ankle[..., 1]) / c.foot, -1.0, 1.0)
                y = np.maximum(u[..., 1], low)
                flat = u.copy()
                flat[..., 1] = 0.0
                flat, fn = _unit(flat)
                flat = np.where((fn < 1e-9)[..., None], [0.0, 0.0, 1.0], flat)
                side = np.sqrt(np.maximum(1.0 - y ** 2, 0.0))[..., None]
                u = np.where((u[..., 1] < low)[..., None], flat * side + y[..., None] * [0.0, 1.0, 0.0], u)
            out[..., c.toe, :] = ankle + c.foot * u
    return out


def reachable(positions: np.ndarray, lock: np.ndarray, chains: Sequence[LegChain], k: int,
               max_reach: float) -> np.ndarray:
    """(..., K) whether each contact joint's lock is within reach of its hip."""
    ok = np.ones(positions.shape[:-2] + (k,), bool)
    for c in chains:
        hip = positions[..., c.hip, :]
        reach = max_reach * (c.thigh + c.shin)
        ok[..., c.ankle_contact] = np.linalg.norm(lock[..., c.ankle_contact, :] - hip, axis=-1) <= reach
        if c.toe_contact >= 0:
            ok[..., c.toe_contact] = np.linalg.norm(lock[..., c.toe_contact, :] - hip, axis=-1) <= reach + c.foot
    return ok
