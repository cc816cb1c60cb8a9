"""Exact left/right mirroring of a motion, done on the kinematic data.

The mirror image of a motion reflects every world position across the plane X = 0
(``M = diag(-1, 1, 1)``) and swaps the data of left and right joints: joint ``j`` of the
mirrored motion is where the reflection of its partner ``j'`` was,
``P'_j = M P_{j'}``. Feature columns are never negated; features of the mirrored motion are
extracted from the mirrored motion like any other.

Local rotations. A reflection has determinant -1, so the mirrored world rotation of a joint
cannot be ``M W_{j'}``; it is ``W'_j = M W_{j'} K_j``, where ``K_j`` is a reflection of the
joint's *own* local axes (one of ``diag(-1,1,1)``, ``diag(1,-1,1)``, ``diag(1,1,-1)``,
``-I``). Then, with ``p`` the parent of ``j`` (and ``K_p = M`` for the root)::

    local rotation     L'_j = K_p L_{j'} K_j
    local translation  t'_j = K_p t_{j'}

and forward kinematics of ``(L', t')`` gives ``M P_{j'}`` exactly, for *any* choice of the
``K_j``. For a skeleton whose rest pose is symmetric about X = 0 (CMU, the procedural one)
``K_j = M`` everywhere and this is the familiar ``R -> M R M``, ``t -> M t``. Rigs such as
Bandai Namco's build the right side's local frames differently (bones along +X on the left,
-X on the right, the spine along +X): there ``M R M`` still reproduces the mirrored
positions, but only through position channels far from the OFFSETs and with upside-down
hips frames. So each joint's ``K_j`` is chosen to keep the mirrored motion in the rig's own
conventions (:func:`infer_mirror_reflections`):

1. the mirrored child translations ``K_j t_{c'}`` must match the skeleton's OFFSETs
   ``t_c`` (up to 5 % of their length; this decides most joints, e.g. Bandai's Hips: ``y``);
2. among the candidates left, the parent's ``K`` (then ``M``), so that a still joint's rest
   pose maps to itself, unless another candidate brings the mirrored local rotations
   clearly closer to the joint's own local rotations over the motion (mean Frobenius
   distance, margin :data:`RULE2_MARGIN`): locomotion is nearly symmetric, so the right
   convention makes the mirrored left arm move like the original left arm. The root and
   its ancestors, whose rotation carries the heading, skip the data and keep the parent's.
   A profile may also fix ``K_j`` per joint (``mirror_reflections``); the Bandai Namco
   profile ships the values this finds on every dataset-2 file.

Asymmetric rest offsets. Joints with position channels get ``t'_j`` written into those
channels, which is exact. A joint *without* position channels keeps its own OFFSET
``o_j`` where the exact mirror needs ``K_p o_{j'}``; the mirrored motion is then off by that
difference (propagated down the chain). Nothing is "symmetrised": the skeleton is kept as
it is, and :func:`mirror_offset_error` reports the per-joint discrepancy;
``mirror_motion(..., skeleton="mirrored")`` instead mirrors the OFFSETs too (exact, but on a
slightly different skeleton). Bandai Namco has position channels on every joint, so its
mirror is exact (its offsets are symmetric to 0.04 cm; the mirrored translations stay that
close to them). CMU has no position channels below the root and offsets asymmetric by up to
0.3 units: on ``01_01.bvh`` the same-skeleton mirror is off by up to 3.1 cm (2 % of body height).

Example::

    >>> m2 = mirror_motion(motion, load_profile("bandai_namco"))        # doctest: +SKIP
    >>> np.allclose(forward_kinematics(m2)[0], reflect_positions(forward_kinematics(motion)[0],
    ...             profile.mirror_index(motion.skeleton)))               # doctest: +SKIP
    True
"""
from __future__ import annotations

from typing import Literal

import numpy as np

from .kinematics import local_transforms, motion_from_local
from .profiles import REFLECTIONS, SkeletonProfile, load_profile
from .skeleton import POSITION_CHANNELS, Motion, Skeleton
from .errors import MissingKeyError

#: the world reflection X -> -X
WORLD_REFLECTION = np.array(REFLECTIONS["x"])
#: candidate order (also the tie-break order after the preferred one)
_CANDIDATES = ("x", "y", "z", "xyz")
#: offsets within this fraction of their length count as matching (rule 1)
OFFSET_TOLERANCE = 0.05
#: rule 2 overrides the parent's reflection only when its mean score (per frame, range -3..3)
#: is better by this much (Bandai Namco's margins are 1.8 to 4; an asymmetric or random
#: motion gives no clear answer and keeps the parent's)
RULE2_MARGIN = 1.0


def reflect_positions(world_pos: np.ndarray, partner: np.ndarray) -> np.ndarray:
    """The reference mirror of world positions: reflect X and swap partners.

    Args:
        world_pos: (F, J, 3) world positions (any unit).
        partner: (J,) int index of each joint's mirror partner (``SkeletonProfile.mirror_index``).
    Returns:
        (F, J, 3): ``out[:, j] = M @ world_pos[:, partner[j]]``.
    """
    return world_pos[:, partner] * WORLD_REFLECTION


def _path_joints(skeleton: Skeleton, root: int) -> set[int]:
    """The profile root and its ancestors: joints whose local rotation carries the heading."""
    out = {root}
    p = int(skeleton.parents[root])
    while p >= 0:
        out.add(p)
        p = int(skeleton.parents[p])
    return out


def infer_mirror_reflections(motion: Motion, profile: SkeletonProfile | str,
                             fixed: dict[str, str] | None = None,
                             local_rot: np.ndarray | None = None,
                             pair_products: np.ndarray | None = None) -> dict[str, str]:
    """Choose each joint's local reflection ``K_j`` (see the module docstring).

    Args:
        motion: supplies the skeleton and, to break ties, the local rotations.
        profile: supplies the mirror pairs and the root.
        fixed: joint name -> reflection name that is taken as given (default: the profile's
            ``mirror_reflections``).
        local_rot: (F, J, 3, 3) the motion's local rotations, if already computed.
        pair_products: (J, 3, 3) instead of ``local_rot``: the mean over frames of the
            elementwise product of each joint's local rotation with its partner's
            (:func:`mirror_pair_products`), all that the tie-break needs; lets a long take be
            read in chunks.
    Returns:
        joint name -> one of ``"x"``, ``"y"``, ``"z"``, ``"xyz"`` (the local axes that flip),
        for every joint with channels.
    """
    profile = load_profile(profile)
    skel = motion.skeleton
    fixed = dict(profile.mirror_reflections if fixed is None else fixed)
    partner = profile.mirror_index(skel, motion.source)
    if pair_products is None and local_rot is None and any(
            n not in fixed for n, e in zip(skel.names, skel.is_end_site) if not e):
        local_rot, _ = local_transforms(motion)
    path = _path_joints(skel, skel.index(profile.root))
    signs = {k: np.array(v) for k, v in REFLECTIONS.items()}
    chosen: dict[int, str] = {}
    for j in range(skel.num_joints):
        if skel.is_end_site[j]:
            continue
        name = skel.names[j]
        p = int(skel.parents[j])
        k_parent_name = "x" if p < 0 else chosen[p]
        if name in fixed:
            chosen[j] = fixed[name]
            continue
        jp = int(partner[j])
        # rule 1: mirrored child offsets must match (children that carry the path are left out)
        kids = [c for c in skel.children(j) if c not in path]
        err = {}
        for k in _CANDIDATES:
            err[k] = sum(float(np.linalg.norm(signs[k] * skel.offsets[partner[c]] - skel.offsets[c])) for c in kids)
        scale = sum(float(np.linalg.norm(skel.offsets[c])) for c in kids)
        best = min(err.values())
        allowed = [k for k in _CANDIDATES if err[k] <= best + OFFSET_TOLERANCE * scale + 1e-12]
        if len(allowed) == 1:
            chosen[j] = allowed[0]
            continue
        if j in path:
            prefer = [k_parent_name, "x"]
            chosen[j] = next(k for k in prefer + list(_CANDIDATES) if k in allowed)
            continue
        # rule 2: the parent's K unless the mirrored local rotations clearly say otherwise
        kp = signs[k_parent_name]
        if pair_products is not None:  # diag of mean_t X^T Y = K_p-weighted sum of mean_t L_{j'} * L_j
            s_diag = kp @ pair_products[j]
        else:
            x = kp[:, None] * local_rot[:, jp]  # (F, 3, 3): K_p L_{j'}
            s_diag = np.einsum("fij,fij->j", x, local_rot[:, j]) / len(x)  # diag of mean_t X^T Y
        # ||X K - Y||^2 = const - 2 tr(K X^T Y): the score is tr(K X^T Y), higher is closer
        score = {k: float(signs[k] @ s_diag) for k in allowed}
        default = next(k for k in [k_parent_name, "x", *allowed] if k in allowed)
        top = max(allowed, key=lambda k: score[k])
        chosen[j] = top if score[top] >= score[default] + RULE2_MARGIN else default
    return {skel.names[j]: k for j, k in chosen.items()}


def mirror_pair_products(local_rot: np.ndarray, partner: np.ndarray) -> np.ndarray:
    """(J, 3, 3) sum over frames of ``L_{j'} * L_j`` (elementwise) for (F, J, 3, 3) local
    rotations; summed over chunks and divided by the frame count it is the ``pair_products``
    of :func:`infer_mirror_reflections`."""
    return np.einsum("fjik,fjik->jik", local_rot[:, partner], local_rot)


def _reflection_signs(skeleton: Skeleton, reflections: dict[str, str]) -> np.ndarray:
    """(J, 3) sign vector of each joint's K (End Sites: their parent's)."""
    out = np.ones((skeleton.num_joints, 3))
    for j in range(skeleton.num_joints):
        if skeleton.is_end_site[j]:
            out[j] = out[skeleton.parents[j]]
        else:
            name = skeleton.names[j]
            if name not in reflections:
                raise MissingKeyError(f"no mirror reflection given for joint {name!r}")
            out[j] = REFLECTIONS[reflections[name]]
    return out


def mirror_local(local_rot: np.ndarray, local_pos: np.ndarray, skeleton: Skeleton, partner: np.ndarray,
                 signs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mirrored local transforms: ``L'_j = K_p L_{j'} K_j``, ``t'_j = K_p t_{j'}``.

    Args:
        local_rot: (F, J, 3, 3); local_pos: (F, J, 3); partner: (J,) mirror partner index;
        signs: (J, 3) diagonal of each joint's reflection ``K_j``.
    Returns:
        the mirrored (F, J, 3, 3) rotations and (F, J, 3) translations.
    """
    k_parent = np.where((skeleton.parents >= 0)[:, None], signs[np.maximum(skeleton.parents, 0)], WORLD_REFLECTION)
    rot = k_parent[None, :, :, None] * local_rot[:, partner] * signs[None, :, None, :]
    pos = k_parent[None] * local_pos[:, partner]
    return rot, pos


def mirror_motion(motion: Motion, profile: SkeletonProfile | str,
                  reflections: dict[str, str] | None = None,
                  skeleton: Literal["same", "mirrored"] = "same") -> Motion:
    """The left/right mirror image of a motion.

    With ``skeleton="same"`` (the default, what augmentation needs) the result is on the same
    skeleton and its forward kinematics equals :func:`reflect_positions` of the original's
    exactly wherever the joints whose mirrored translation differs from their OFFSET have
    position channels (otherwise off by :func:`mirror_offset_error`, see the module
    docstring). With ``skeleton="mirrored"`` the OFFSETs are mirrored too (``K_p o_{j'}``):
    exact for every skeleton, but on a slightly different skeleton where the rest pose is
    not symmetric.

    Args:
        motion: the motion (file units).
        profile: the skeleton profile (mirror pairs, root, optional ``mirror_reflections``).
        reflections: each joint's local reflection (default: :func:`infer_mirror_reflections`).
            Partners should share theirs; then mirroring twice gives the motion back.
        skeleton: ``"same"`` or ``"mirrored"``.
    Returns:
        the mirrored Motion (frame time and source kept; rotation channels rewritten as Euler
        angles in each joint's order, position channels hold the mirrored translations).
    """
    profile = load_profile(profile)
    skel = motion.skeleton
    partner = profile.mirror_index(skel, motion.source)
    rot, pos = local_transforms(motion)
    if reflections is None:
        reflections = infer_mirror_reflections(motion, profile, local_rot=rot)
    signs = _reflection_signs(skel, reflections)
    rot, pos = mirror_local(rot, pos, skel, partner, signs)
    if skeleton == "mirrored":
        skel = skel.copy()
        skel.offsets = mirror_local(np.eye(3)[None, None].repeat(skel.num_joints, 1),
                                    motion.skeleton.offsets[None], skel, partner, signs)[1][0]
    elif skeleton != "same":
        raise ValueError(f"skeleton must be 'same' or 'mirrored', got {skeleton!r}")
    return motion_from_local(skel, rot, pos, motion.frame_time, source=motion.source)


def mirror_offset_error(skeleton: Skeleton, profile: SkeletonProfile | str,
                        reflections: dict[str, str]) -> dict[str, float]:
    """Per joint without position channels: ``|K_p o_{j'} - o_j|`` (file units), the part of the
    mirror that the fixed OFFSETs cannot represent (0 for an exactly symmetric skeleton)."""
    profile = load_profile(profile)
    partner = profile.mirror_index(skeleton)
    signs = _reflection_signs(skeleton, reflections)
    out = {}
    for j in range(1, skeleton.num_joints):
        if any(c in POSITION_CHANNELS for c in skeleton.channels[j]):
            continue
        kp = signs[skeleton.parents[j]]
        out[skeleton.names[j]] = float(np.linalg.norm(kp * skeleton.offsets[partner[j]] - skeleton.offsets[j]))
    return out
