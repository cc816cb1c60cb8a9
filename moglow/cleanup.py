"""What the user gets: generated features -> a rigid skeleton motion with cleaned-up feet.

Every output (BVH, npz, video, ``moglow evaluate``'s cleaned row) goes through
:func:`skeleton_motion`: the features become local joint transforms on the training skeleton
(an exact inverse for ``rotations``, the vectorised IK fit for ``positions``: bone lengths are
the skeleton's either way), and then, unless ``cleanup=False`` (``--no-cleanup``), the feet are
cleaned up (:mod:`data_pipeline.foot_cleanup`): the features smoothed over time (a quadratic
Savitzky-Golay filter over 0.25 s, which removes the frame-to-frame jitter),
planted feet locked, legs solved by IK, feet kept above the floor, contacts blended in and out;
once the commanded path has stood still for half a second, the feet stay planted.

Contacts come from the model's own contact channels when it has them (``data.contacts``);
for older checkpoints they are estimated from the generated motion with the profile's
thresholds. A profile without a ``contacts:`` section gets no clean-up (a warning says so).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from data_pipeline.contacts import ContactSpec
from data_pipeline.features import ROTATIONS, FeatureDefinition, features_to_local, reconstruct_world_positions
from data_pipeline.foot_cleanup import (CleanupConfig, StreamingFootCleanup, clean_local_transforms, estimate_contacts,
                                        smooth_features, standing_mask)
from data_pipeline.leg_ik import leg_chains
from data_pipeline.ik import inverse_kinematics
from data_pipeline.kinematics import forward_kinematics_local

__all__ = ["SkeletonMotion", "contact_spec_for", "skeleton_motion", "contact_scores_for"]


@dataclass
class SkeletonMotion:
    """Generated motion on the training skeleton.

    Attributes:
        local_rot: (N, T, J, 3, 3), local_pos: (N, T, J, 3) file units (for BVH).
        positions: (N, T, M, 3) world positions of the model joints (m): the cleaned skeleton (what the
            file shows), or without clean-up the model's own positions.
        raw_positions: (N, T, M, 3) the model's own joint positions (m), before any fit.
        fit_error: (N, T, M) metres between the fitted skeleton (before the foot clean-up) and
            the joints it was fitted to (the smoothed features' joints; 0 for ``rotations``:
            exact inverse).
        cleaned: whether the feet were cleaned up.
    """

    local_rot: np.ndarray
    local_pos: np.ndarray
    positions: np.ndarray
    raw_positions: np.ndarray
    fit_error: np.ndarray
    cleaned: bool


def contact_spec_for(feature_def: FeatureDefinition, profile: Any = None) -> ContactSpec | None:
    """The contact spec stored with the features, else the profile's (when its joints are model joints)."""
    spec = feature_def.contact_config()
    if spec is None and profile is not None and getattr(profile, "contacts", None) is not None:
        spec = profile.contacts
    if spec is not None and not all(j in feature_def.file_joints for j in spec.joints):
        return None
    return spec


def contact_scores_for(poses: np.ndarray, positions: np.ndarray, feature_def: FeatureDefinition,
                       spec: ContactSpec, source: str = "model") -> np.ndarray:
    """(..., T, K) contact scores: the model's channels, or estimated from ``positions`` (..., T, M, 3) m
    (``source``: see :class:`data_pipeline.foot_cleanup.CleanupConfig`)."""
    own = feature_def.contacts_of(poses)
    if own is not None and list(feature_def.contact_joints) != spec.joints:
        own = None
    if own is not None and source == "model":
        return np.asarray(own, dtype=np.float64)
    cidx = [feature_def.file_joints.index(j) for j in spec.joints]
    est = estimate_contacts(positions, cidx, spec, feature_def.fps).astype(np.float64)
    return np.maximum(est, own) if own is not None and source == "both" else est


def skeleton_motion(poses: np.ndarray, control: np.ndarray, start: np.ndarray, feature_def: FeatureDefinition,
                    profile: Any = None, cleanup: bool = True, passthrough: np.ndarray | None = None,
                    cfg: CleanupConfig | None = None, **ik_options) -> SkeletonMotion:
    """Features of N samples -> their motion on the training skeleton, feet cleaned up unless ``cleanup=False``.

    Args:
        poses: (N, T, D) un-normalised features; control: (N, T, 3); start: (N, 3).
        feature_def: the layout (with the source skeleton).
        profile: the skeleton profile (its contact thresholds for checkpoints without contact channels).
        cleanup: clean up the feet.
        passthrough: ``rotations`` only, (T, K) shared by all samples, or None (defaults).
        cfg: clean-up settings. **ik_options: for :func:`data_pipeline.ik.inverse_kinematics`.
    """
    poses = np.asarray(poses, dtype=np.float64)
    control = np.asarray(control, dtype=np.float64)
    start = np.asarray(start, dtype=np.float64)
    cfg = cfg or CleanupConfig()
    spec = contact_spec_for(feature_def, profile) if cleanup else None
    if cleanup and spec is None:
        warnings.warn(f"no clean-up: profile {feature_def.profile!r} defines no contacts among the model joints",
                      stacklevel=2)
    raw_poses = poses
    if spec is not None:
        poses = smooth_features(poses, feature_def.fps, cfg.smooth_s, cfg.smooth_order)
    skeleton = feature_def.source_skeleton()
    idx = [skeleton.index(n) for n in feature_def.file_joints]
    scale = feature_def.unit_scale
    if feature_def.representation == ROTATIONS:
        parts = [features_to_local(poses[i], control[i], feature_def, start[i], passthrough)
                 for i in range(poses.shape[0])]
        rot, pos = np.stack([p[0] for p in parts]), np.stack([p[1] for p in parts])
        fitted = forward_kinematics_local(skeleton, rot, pos)[0][..., idx, :] * scale
        raw = fitted if poses is raw_poses else np.stack(
            [reconstruct_world_positions(raw_poses[i], control[i], feature_def, start[i], passthrough)
             for i in range(poses.shape[0])])
        target = fitted
    else:
        raw = reconstruct_world_positions(raw_poses, control, feature_def, start)
        target = raw if poses is raw_poses else reconstruct_world_positions(poses, control, feature_def, start)
        rot, pos = inverse_kinematics(skeleton, target, feature_def.file_joints, feature_def.root, scale,
                                      **ik_options)
        fitted = forward_kinematics_local(skeleton, rot, pos)[0][..., idx, :] * scale
    fit_error = np.linalg.norm(fitted - target, axis=-1)
    if spec is None:
        return SkeletonMotion(rot, pos, np.asarray(raw), raw, fit_error, False)
    scores = contact_scores_for(poses, fitted, feature_def, spec, cfg.contact_source)
    scores = np.maximum(scores, standing_mask(control, feature_def.fps, cfg)[..., None])
    rot, pos = clean_local_transforms(skeleton, rot, pos, feature_def.file_joints, scores, spec, scale,
                                      feature_def.fps, cfg)
    positions = forward_kinematics_local(skeleton, rot, pos)[0][..., idx, :] * scale
    return SkeletonMotion(rot, pos, np.asarray(positions), raw, fit_error, True)


def streaming_cleanup(feature_def: FeatureDefinition, profile: Any = None, fps: float | None = None,
                      cfg: CleanupConfig | None = None) -> StreamingFootCleanup | None:
    """A frame-by-frame foot clean-up for live generation (None when the profile has no contacts).

    Feed it each new frame's model-joint world positions (B, M, 3) in metres and contact
    scores (B, K) (``feature_def.contacts_of(pose)`` for models with contact channels; None
    for older models: then they are estimated from the last two frames' height and speed)::

        >>> cleaner = streaming_cleanup(meta.feature_def, meta.profile)     # doctest: +SKIP
        >>> clean = cleaner.step(positions_t, feature_def.contacts_of(pose_t))  # doctest: +SKIP

    It works on joint positions only (no temporal smoothing, which would need look-ahead;
    no skeleton refit): the legs get the skeleton's bone lengths, the rest is the model's.
    """
    spec = contact_spec_for(feature_def, profile)
    if spec is None:
        return None
    skeleton = feature_def.source_skeleton()
    eye = np.broadcast_to(np.eye(3), (skeleton.num_joints, 3, 3))
    rest = forward_kinematics_local(skeleton, eye, skeleton.offsets)[0]
    idx = [skeleton.index(n) for n in feature_def.file_joints]
    chains = leg_chains(feature_def.file_joints, feature_def.parents, spec.joints, rest[idx] * feature_def.unit_scale)
    cidx = [feature_def.file_joints.index(j) for j in spec.joints]
    return StreamingFootCleanup(chains, cidx, spec.level_array(), float(fps or feature_def.fps),
                                cfg or CleanupConfig(), spec=spec)
