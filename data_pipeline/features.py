"""MoGlow features: poses in the character's local frame plus a control signal, and their inverses.

Two representations (``DataConfig.representation``):

``"positions"`` (MoGlow)
    World positions of the profile's joint subset, in the character's *floor-projected local
    frame*: translated by minus the root's floor projection ``(x, 0, z)`` and rotated by
    minus the heading, so Y stays the height above the floor (world Y = 0) and +Z is forward.
    Columns: per model joint ``x, y, z`` in metres, except the root, which only keeps ``y``
    (its local x and z are zero by construction).

``"rotations"``
    ``root.height`` (metres), the root's world rotation relative to the heading frame (6-D),
    then the local rotation (6-D) of every other joint with rotation channels, in skeleton
    order. The ancestors of the root (e.g. Bandai Namco's still ``joint_Root``) and the
    position channels of joints other than the root are not features: the sequence keeps
    them as ``passthrough`` values (defaults: identity rotation, the skeleton's OFFSET) so that
    :func:`features_to_motion` gives back the source motion exactly.

Foot contacts (``DataConfig.contacts``, both representations): one soft label in (0, 1) per
contact joint of the profile (:mod:`data_pipeline.contacts`) is appended after the pose
columns, named ``contact.<file joint>``; the definition lists them in ``contact_joints`` and
keeps the profile's thresholds in ``contact_spec``. Definitions without them (older
checkpoints) have no contact columns; every inverse ignores the contact columns.

Control (both representations), frame ``t >= 1``, from the root's floor position ``p_t`` (m)
and the heading ``theta_t`` (rad, see :mod:`data_pipeline.heading`)::

    (dx_t, dz_t) = Ry(theta_{t-1})^T (p_t - p_{t-1})        # the step, in the previous local frame
    dtheta_t     = wrap(theta_t - theta_{t-1})

Frame 0 has no step: its control row repeats frame 1's (padding; the integration ignores
it), and the sequence stores the start ``root_start = (x_0, z_0, theta_0)`` explicitly.
:func:`integrate_control` runs the same recursion backwards, so the inverse is exact up to
float32 rounding of the stored features.

Example::

    >>> seq = extract_features(read_bvh(path), load_profile("bandai_namco"), DataConfig())  # doctest: +SKIP
    >>> fdef = feature_definition(motion.skeleton, profile, cfg)                            # doctest: +SKIP
    >>> world = reconstruct_world_positions(seq.poses, seq.control, fdef, seq.root_start)    # doctest: +SKIP

Long because: the features and their exact inverses are one job, both written against the conventions above.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from .config import DataConfig
from .contacts import CONTACT_PREFIX, ContactSpec, contact_scores
from .heading import forward_directions, smooth_heading, wrap_angle
from .kinematics import forward_kinematics_local, local_transforms, motion_from_local
from .profiles import ProfileError, SkeletonProfile, load_profile
from .resample import resample_local, snap_fps
from .rotations import matrix_to_6d, rotation_about_y, sixd_to_matrix
from .skeleton import POSITION_CHANNELS, ROTATION_CHANNELS, Motion, Skeleton
from .styles import style_of
from .errors import InputError
from .plain_data import to_plain

POSITIONS = "positions"
ROTATIONS = "rotations"
CONTROL_COLUMNS = ["dx", "dz", "dtheta"]
_IDENTITY_6D = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]


# ============================================================================ data types
@dataclass
class FeatureSequence:
    """One motion's features.

    Attributes:
        poses: (F, D) float32 un-normalised pose features (layout: ``FeatureDefinition.columns``).
        control: (F, 3) float32: dx, dz (metres per frame, previous local frame), dtheta
            (radians per frame). Row 0 repeats row 1 (see the module docstring).
        fps: frames per second.
        source: where it came from (file path).
        style: style label parsed from the file name, or None.
        mirrored: True for a left/right mirrored copy.
        root_start: (3,) float64: the root's floor position x, z (metres) and heading (radians)
            at frame 0: where :func:`integrate_control` starts.
        passthrough: (F, K) float64 values the features leave out but an exact inverse needs
            (``rotations`` only; layout ``FeatureDefinition.passthrough_columns``); (F, 0) else.
    """

    poses: np.ndarray
    control: np.ndarray
    fps: float
    source: str = ""
    style: str | None = None
    mirrored: bool = False
    root_start: np.ndarray = field(default_factory=lambda: np.zeros(3))
    passthrough: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.poses = np.asarray(self.poses, dtype=np.float32)
        self.control = np.asarray(self.control, dtype=np.float32)
        self.root_start = np.asarray(self.root_start, dtype=np.float64).reshape(3)
        if self.passthrough is None:
            self.passthrough = np.zeros((self.poses.shape[0], 0))
        self.passthrough = np.asarray(self.passthrough, dtype=np.float64)
        if not (self.poses.ndim == 2 and self.control.shape == (self.poses.shape[0], 3)
                and self.passthrough.ndim == 2 and self.passthrough.shape[0] == self.poses.shape[0]):
            raise ValueError(f"FeatureSequence {self.source!r}: need poses (F, D), control (F, 3) and passthrough "
                             f"(F, K); got {self.poses.shape}, {self.control.shape}, {self.passthrough.shape}")

    @property
    def num_frames(self) -> int:
        return int(self.poses.shape[0])


@dataclass
class FeatureDefinition:
    """What the feature columns mean; everything needed to invert them (plain data, serialisable).

    Attributes:
        representation: ``"positions"`` or ``"rotations"``.
        fps: frame rate of the features.
        profile: name of the skeleton profile.
        unit_scale: file units -> metres.
        root: file name of the root joint (its floor projection is the path).
        joints: model joint names (the profile's subset; the joints
            :func:`reconstruct_world_positions` returns).
        file_joints: their file names.
        parents: (len(joints),) parent of each model joint within ``joints`` (-1: none), for drawing.
        columns: the D pose column names (``"Head.x"``, ``"root.height"``, ``"Spine.r0"``...).
        control_columns: the control column names.
        heading_smoothing, heading_sigma_s, heading_equal_weights: how the heading was made.
        rotation_joints: ``rotations`` only: file joints with a 6-D block, root first.
        passthrough_columns: names of the ``FeatureSequence.passthrough`` columns.
        passthrough_default: their values for sequences that have none (e.g. generated ones).
        skeleton: the source skeleton as plain data (:func:`skeleton_to_dict`).
        contact_joints: file joints with a contact channel (the last ``len(contact_joints)``
            columns, ``contact.<name>``); empty: no contact channels.
        contact_spec: the profile's :class:`~data_pipeline.contacts.ContactSpec` as plain data
            (levels, thresholds), or None.
    """

    representation: str
    fps: float
    profile: str
    unit_scale: float
    root: str
    joints: list[str]
    file_joints: list[str]
    parents: list[int]
    columns: list[str]
    control_columns: list[str] = field(default_factory=lambda: list(CONTROL_COLUMNS))
    heading_smoothing: str = "vector"
    heading_sigma_s: float = 0.0
    heading_equal_weights: bool = True
    rotation_joints: list[str] = field(default_factory=list)
    passthrough_columns: list[str] = field(default_factory=list)
    passthrough_default: list[float] = field(default_factory=list)
    skeleton: dict[str, Any] | None = None
    contact_joints: list[str] = field(default_factory=list)
    contact_spec: dict[str, Any] | None = None

    @property
    def pose_dim(self) -> int:
        return len(self.columns)

    @property
    def num_contacts(self) -> int:
        """Contact channels at the end of the pose columns (0 for definitions without them)."""
        return len(self.contact_joints)

    def contacts_of(self, poses: np.ndarray) -> np.ndarray | None:
        """(..., F, K) contact scores of (..., F, D) poses, or None without contact channels."""
        k = self.num_contacts
        return np.asarray(poses)[..., -k:] if k else None

    def contact_config(self) -> ContactSpec | None:
        """The stored :class:`~data_pipeline.contacts.ContactSpec`, or None."""
        return ContactSpec(**self.contact_spec) if self.contact_spec else None

    @property
    def control_dim(self) -> int:
        return len(self.control_columns)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (lists, numbers, strings) for YAML, JSON or a checkpoint."""
        return {f.name: to_plain(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "FeatureDefinition":
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise InputError(f"unknown FeatureDefinition key(s) {unknown}")
        return cls(**data)

    def source_skeleton(self) -> Skeleton:
        """The source skeleton (needed by :func:`features_to_motion`)."""
        if self.skeleton is None:
            raise InputError("this FeatureDefinition carries no skeleton")
        return skeleton_from_dict(self.skeleton)

    def default_passthrough(self, num_frames: int) -> np.ndarray:
        """(num_frames, K) float64: ``passthrough_default`` repeated."""
        return np.tile(np.asarray(self.passthrough_default, dtype=np.float64), (num_frames, 1))


def skeleton_to_dict(skeleton: Skeleton) -> dict[str, Any]:
    """A :class:`Skeleton` as plain data."""
    return {"names": list(skeleton.names), "parents": skeleton.parents.tolist(),
            "offsets": skeleton.offsets.tolist(), "channels": [list(c) for c in skeleton.channels],
            "is_end_site": skeleton.is_end_site.tolist()}


def skeleton_from_dict(d: dict[str, Any]) -> Skeleton:
    """Inverse of :func:`skeleton_to_dict`."""
    return Skeleton(list(d["names"]), np.asarray(d["parents"]), np.asarray(d["offsets"], dtype=np.float64),
                    [tuple(c) for c in d["channels"]], np.asarray(d["is_end_site"], dtype=bool))


# ============================================================================ skeleton layout
def _rotation_count(skeleton: Skeleton, j: int) -> int:
    return sum(c in ROTATION_CHANNELS for c in skeleton.channels[j])


def _has_position(skeleton: Skeleton, j: int) -> bool:
    return any(c in POSITION_CHANNELS for c in skeleton.channels[j])


@dataclass
class _RotationLayout:
    root: int
    path: list[int]  # ancestors of the root, file root first
    rotating: list[int]  # joints with a 6-D feature block, root excluded
    pass_rot: list[int]  # passthrough rotations (6-D): path joints with rotation channels
    pass_pos: list[int]  # passthrough translations: joints other than the root with position channels


def _rotation_layout(skeleton: Skeleton, root_name: str) -> _RotationLayout:
    root = skeleton.index(root_name)
    path = skeleton.ancestors(root)
    for j in range(skeleton.num_joints):
        n = _rotation_count(skeleton, j)
        if n not in (0, 3):
            raise InputError(f"joint {skeleton.names[j]!r} has {n} rotation channel(s); the rotations "
                             f"representation needs 0 or 3")
    if _rotation_count(skeleton, root) != 3 or not _has_position(skeleton, root):
        raise InputError(f"the rotations representation needs position and rotation channels on the root "
                         f"joint {root_name!r}; it has {skeleton.channels[root]}")
    rotating = [j for j in range(skeleton.num_joints)
                if _rotation_count(skeleton, j) == 3 and j != root and j not in path]
    pass_rot = [j for j in path if _rotation_count(skeleton, j) == 3]
    pass_pos = [j for j in range(skeleton.num_joints) if _has_position(skeleton, j) and j != root]
    return _RotationLayout(root, path, rotating, pass_rot, pass_pos)


# ============================================================================ definition
def feature_definition(skeleton: Skeleton, profile: SkeletonProfile | str, cfg: DataConfig) -> FeatureDefinition:
    """The feature layout for motions on ``skeleton`` (raises if the profile does not fit it)."""
    profile = load_profile(profile).bind(skeleton)
    profile.validate_skeleton(skeleton)
    common = dict(fps=float(cfg.fps), profile=profile.name, unit_scale=float(profile.unit_scale),
                  root=profile.root, joints=profile.model_joints, file_joints=profile.file_joints,
                  parents=profile.model_parents(skeleton), heading_smoothing=cfg.heading_smoothing,
                  heading_sigma_s=float(cfg.heading_sigma_s), heading_equal_weights=cfg.heading_equal_weights,
                  skeleton=skeleton_to_dict(skeleton))
    contact_cols: list[str] = []
    if cfg.contacts:
        spec = _contact_spec(profile)
        contact_cols = [CONTACT_PREFIX + j for j in spec.joints]
        common.update(contact_joints=spec.joints, contact_spec=to_plain(vars(spec)))
    if cfg.representation == POSITIONS:
        columns = []
        for m, f in profile.joints.items():
            columns += [f"{m}.y"] if f == profile.root else [f"{m}.x", f"{m}.y", f"{m}.z"]
        return FeatureDefinition(representation=POSITIONS, columns=columns + contact_cols, **common)
    if cfg.representation == ROTATIONS:
        lay = _rotation_layout(skeleton, profile.root)
        names = skeleton.names
        columns = ["root.height"] + [f"{profile.root}.r{i}" for i in range(6)]
        columns += [f"{names[j]}.r{i}" for j in lay.rotating for i in range(6)]
        pcols = [f"{names[j]}.r{i}" for j in lay.pass_rot for i in range(6)]
        pcols += [f"{names[j]}.t{a}" for j in lay.pass_pos for a in "xyz"]
        pdef = _IDENTITY_6D * len(lay.pass_rot) + [float(v) for j in lay.pass_pos for v in skeleton.offsets[j]]
        return FeatureDefinition(representation=ROTATIONS, columns=columns + contact_cols,
                                 rotation_joints=[profile.root] + [names[j] for j in lay.rotating],
                                 passthrough_columns=pcols, passthrough_default=pdef, **common)
    raise ValueError(f"unknown representation {cfg.representation!r}; use 'positions' or 'rotations'")


def _contact_spec(profile: SkeletonProfile) -> ContactSpec:
    if profile.contacts is None:
        raise ProfileError(f"data.contacts needs a 'contacts:' section (levels and thresholds) in profile "
                         f"{profile.name!r}")
    return profile.contacts


def contact_joint_indices(skel: Skeleton, profile: SkeletonProfile) -> list[int]:
    """Skeleton indices of the profile's contact joints (``data.contacts``), in channel order."""
    return [skel.index(j) for j in _contact_spec(profile).joints]


def contact_channels(world_pos: np.ndarray, skel: Skeleton, profile: SkeletonProfile, cfg: DataConfig,
                     joints_given: bool = False) -> np.ndarray:
    """(F, K) float32 contact labels from world positions (file units, at ``cfg.fps``) of the whole
    take: (F, J, 3) on the skeleton, or (F, K, 3) of the contact joints with ``joints_given``.
    Speeds need neighbouring frames, so this runs on a whole take, not per chunk."""
    spec = _contact_spec(profile)
    pos = world_pos if joints_given else world_pos[:, contact_joint_indices(skel, profile)]
    return contact_scores(pos * float(profile.unit_scale), float(cfg.fps), spec)


# ============================================================================ extraction
def extract_features(motion: Motion, profile: SkeletonProfile | str, cfg: DataConfig,
                     mirror: bool = False) -> FeatureSequence:
    """Features of one motion at ``cfg.fps``.

    Args:
        motion: the motion (file units).
        profile: skeleton profile (or its name).
        cfg: the data configuration (representation, fps, heading smoothing).
        mirror: extract the left/right mirrored motion instead
            (:func:`data_pipeline.mirror.mirror_motion`); the result has ``mirrored=True``.
    Returns:
        a :class:`FeatureSequence` (layout: :func:`feature_definition`).
    """
    profile = load_profile(profile).bind(motion.skeleton)
    profile.validate_skeleton(motion.skeleton, motion.source)
    if mirror:
        from .mirror import mirror_motion
        motion = mirror_motion(motion, profile)
    skel = motion.skeleton
    local_rot, local_pos = local_transforms(motion)
    src_fps = snap_fps(motion.fps, cfg.source_fps_tolerance)
    local_rot, local_pos = resample_local(local_rot, local_pos, src_fps, float(cfg.fps))
    world_pos, world_rot = forward_kinematics_local(skel, local_rot, local_pos)
    scale = float(profile.unit_scale)
    theta = compute_heading(world_pos, skel, profile, cfg)
    root = skel.index(profile.root)
    root_xz = world_pos[:, root][:, [0, 2]] * scale
    control = control_from_trajectory(root_xz, theta)
    poses, passthrough = frame_features(skel, profile, cfg, local_rot, local_pos, world_pos, world_rot, root_xz,
                                        theta)
    if cfg.contacts:
        poses = np.concatenate([poses, contact_channels(world_pos, skel, profile, cfg)], axis=1)
    return FeatureSequence(poses=poses, control=control, fps=float(cfg.fps), source=str(motion.source or ""),
                           style=style_of(motion.source, profile.style_pattern, cfg.style_aliases)
                           if motion.source else None,
                           mirrored=mirror, root_start=np.array([root_xz[0, 0], root_xz[0, 1], theta[0]]),
                           passthrough=passthrough)


def frame_features(skel: Skeleton, profile: SkeletonProfile, cfg: DataConfig, local_rot: np.ndarray,
                   local_pos: np.ndarray, world_pos: np.ndarray, world_rot: np.ndarray, root_xz: np.ndarray,
                   theta: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """The per-frame part of :func:`extract_features`: ``(poses (F, D), passthrough or None)``
    from frames' local and world transforms (file units, at ``cfg.fps``) once the root path
    ``root_xz`` (F, 2, metres) and the heading ``theta`` (F,) are known. Each frame depends on
    its own inputs only, so a long take can be done in chunks."""
    scale = float(profile.unit_scale)
    root = skel.index(profile.root)
    if cfg.representation == POSITIONS:
        idx = [skel.index(f) for f in profile.file_joints]
        local = to_local_frame(world_pos[:, idx] * scale, root_xz, theta)
        keep = np.ones((len(idx), 3), dtype=bool)
        keep[[i for i, j in enumerate(idx) if j == root], 0::2] = False
        poses = local[:, keep]
        passthrough = None
    elif cfg.representation == ROTATIONS:
        lay = _rotation_layout(skel, profile.root)
        rel = np.swapaxes(rotation_about_y(theta), -1, -2) @ world_rot[:, root]
        height = world_pos[:, root, 1:2] * scale
        poses = np.concatenate([height, matrix_to_6d(rel)]
                               + [matrix_to_6d(local_rot[:, lay.rotating]).reshape(len(theta), -1)], axis=1)
        passthrough = np.concatenate([matrix_to_6d(local_rot[:, lay.pass_rot]).reshape(len(theta), -1),
                                      local_pos[:, lay.pass_pos].reshape(len(theta), -1)], axis=1)
    else:
        raise ValueError(f"unknown representation {cfg.representation!r}; use 'positions' or 'rotations'")
    return poses, passthrough


def compute_heading(world_pos: np.ndarray, skeleton: Skeleton, profile: SkeletonProfile,
                    cfg: DataConfig) -> np.ndarray:
    """(F, J, 3) world positions at ``cfg.fps`` -> (F,) smoothed heading angles in radians."""
    hips = (skeleton.index(profile.hips[0]), skeleton.index(profile.hips[1]))
    shoulders = (skeleton.index(profile.shoulders[0]), skeleton.index(profile.shoulders[1]))
    fwd = forward_directions(world_pos, hips, shoulders, cfg.heading_equal_weights)
    return smooth_heading(fwd, cfg.heading_sigma_s * cfg.fps, cfg.heading_smoothing)


def control_from_trajectory(root_xz: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """Control from a floor trajectory and heading.

    Args:
        root_xz: (..., F, 2) root floor positions (x, z), metres.
        theta: (..., F) heading, radians.
    Returns:
        (..., F, 3) float64 control ``dx, dz, dtheta`` (row 0 repeats row 1; zeros if F == 1).
    """
    root_xz = np.asarray(root_xz, dtype=np.float64)
    theta = np.asarray(theta, dtype=np.float64)
    out = np.zeros(root_xz.shape[:-1] + (3,))
    if root_xz.shape[-2] < 2:
        return out
    step = root_xz[..., 1:, :] - root_xz[..., :-1, :]
    c, s = np.cos(theta[..., :-1]), np.sin(theta[..., :-1])
    out[..., 1:, 0] = c * step[..., 0] - s * step[..., 1]
    out[..., 1:, 1] = s * step[..., 0] + c * step[..., 1]
    out[..., 1:, 2] = wrap_angle(theta[..., 1:] - theta[..., :-1])
    out[..., 0, :] = out[..., 1, :]
    return out


def integrate_control(control: np.ndarray, start: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`control_from_trajectory`: the root's floor path and heading.

    Args:
        control: (..., F, 3) dx, dz (metres per frame), dtheta (radians per frame); row 0 is ignored.
        start: (..., 3) x, z (metres) and heading (radians) at frame 0; None: the origin, facing +Z.
    Returns:
        root_xz (..., F, 2) metres and theta (..., F) radians (unwrapped), float64.
    """
    control = np.asarray(control, dtype=np.float64)
    lead = control.shape[:-2]
    start = np.zeros(lead + (3,)) if start is None else np.broadcast_to(np.asarray(start, dtype=np.float64),
                                                                        lead + (3,))
    dtheta = control[..., :, 2].copy()
    dtheta[..., 0] = 0.0
    theta = start[..., 2:3] + np.cumsum(dtheta, axis=-1)
    c, s = np.cos(theta[..., :-1]), np.sin(theta[..., :-1])
    dx, dz = control[..., 1:, 0], control[..., 1:, 1]
    steps = np.stack([c * dx + s * dz, -s * dx + c * dz], axis=-1)
    zero = np.zeros(lead + (1, 2))
    root_xz = start[..., None, :2] + np.cumsum(np.concatenate([zero, steps], axis=-2), axis=-2)
    return root_xz, theta


def to_local_frame(world: np.ndarray, root_xz: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """World points into the floor-projected local frame.

    Args:
        world: (..., F, N, 3) points, metres. root_xz: (..., F, 2) metres. theta: (..., F) radians.
    Returns:
        (..., F, N, 3) ``Ry(theta)^T (p - (x, 0, z))``.
    """
    d = world.copy()
    d[..., 0] -= root_xz[..., None, 0]
    d[..., 2] -= root_xz[..., None, 1]
    c, s = np.cos(theta)[..., None], np.sin(theta)[..., None]
    out = d.copy()
    out[..., 0] = c * d[..., 0] - s * d[..., 2]
    out[..., 2] = s * d[..., 0] + c * d[..., 2]
    return out


def to_world_frame(local: np.ndarray, root_xz: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """Inverse of :func:`to_local_frame`: (..., F, N, 3) local points -> world points, metres."""
    c, s = np.cos(theta)[..., None], np.sin(theta)[..., None]
    out = local.copy()
    out[..., 0] = c * local[..., 0] + s * local[..., 2] + root_xz[..., None, 0]
    out[..., 2] = -s * local[..., 0] + c * local[..., 2] + root_xz[..., None, 1]
    return out


# ============================================================================ inverses
def _position_columns(feature_def: FeatureDefinition) -> tuple[np.ndarray, np.ndarray]:
    """(Jm, 3) column index of each model joint coordinate, and a (Jm, 3) mask of present ones."""
    lookup = {c: i for i, c in enumerate(feature_def.columns)}
    cols = np.zeros((len(feature_def.joints), 3), dtype=np.int64)
    mask = np.zeros((len(feature_def.joints), 3), dtype=bool)
    for m, name in enumerate(feature_def.joints):
        for a, axis in enumerate("xyz"):
            i = lookup.get(f"{name}.{axis}")
            if i is not None:
                cols[m, a], mask[m, a] = i, True
    return cols, mask


def reconstruct_world_positions(poses: np.ndarray, control: np.ndarray, feature_def: FeatureDefinition,
                                start: np.ndarray | None = None, passthrough: np.ndarray | None = None
                                ) -> np.ndarray:
    """World positions of the model joints from features.

    Args:
        poses: (..., F, D) pose features (un-normalised); ``rotations``: (F, D) only.
        control: (..., F, 3) control.
        feature_def: the layout.
        start: (..., 3) root x, z (metres) and heading (radians) at frame 0; None: origin, facing +Z.
        passthrough: ``rotations`` only, (F, K); None: the definition's defaults.
    Returns:
        (..., F, Jm, 3) float64 world positions in metres, Y up, joints in ``feature_def.joints`` order.
    """
    poses = np.asarray(poses, dtype=np.float64)
    _check_dims(poses, control, feature_def)
    if feature_def.representation == POSITIONS:
        root_xz, theta = integrate_control(control, start)
        cols, mask = _position_columns(feature_def)
        local = np.zeros(poses.shape[:-1] + cols.shape)
        local[..., mask] = poses[..., cols[mask]]
        return to_world_frame(local, root_xz, theta)
    skeleton = feature_def.source_skeleton()
    local_rot, local_pos = features_to_local(poses, control, feature_def, start, passthrough)
    world_pos, _ = forward_kinematics_local(skeleton, local_rot, local_pos)
    idx = [skeleton.index(f) for f in feature_def.file_joints]
    return world_pos[:, idx] * feature_def.unit_scale


def _check_dims(poses: np.ndarray, control: np.ndarray, feature_def: FeatureDefinition) -> None:
    control = np.asarray(control)
    if poses.shape[-1] != feature_def.pose_dim or control.shape[-1] != feature_def.control_dim \
            or poses.shape[:-1] != control.shape[:-1]:
        raise ValueError(f"need poses (..., F, {feature_def.pose_dim}) and control (..., F, "
                         f"{feature_def.control_dim}) with the same leading shape; got {poses.shape} and "
                         f"{control.shape}")


def features_to_local(poses: np.ndarray, control: np.ndarray, feature_def: FeatureDefinition,
                      start: np.ndarray | None = None, passthrough: np.ndarray | None = None
                      ) -> tuple[np.ndarray, np.ndarray]:
    """``rotations`` features -> local joint transforms on the source skeleton.

    Args:
        poses: (F, D) features; control: (F, 3); start: (3,) or None; passthrough: (F, K) or None
            (None: ``feature_def.passthrough_default``).
    Returns:
        local_rot (F, J, 3, 3) and local_pos (F, J, 3) in file units, End Sites included.
    """
    if feature_def.representation != ROTATIONS:
        raise ValueError(f"this needs the 'rotations' representation, not {feature_def.representation!r}")
    poses = np.asarray(poses, dtype=np.float64)
    if poses.ndim != 2:
        raise ValueError(f"poses must be (F, D) here; got {poses.shape}")
    _check_dims(poses, control, feature_def)
    skel = feature_def.source_skeleton()
    lay = _rotation_layout(skel, feature_def.root)
    n = poses.shape[0]
    if passthrough is None:
        passthrough = feature_def.default_passthrough(n)
    passthrough = np.asarray(passthrough, dtype=np.float64)
    if passthrough.shape != (n, len(feature_def.passthrough_columns)):
        raise ValueError(f"passthrough must be ({n}, {len(feature_def.passthrough_columns)}); got {passthrough.shape}")

    local_rot = np.broadcast_to(np.eye(3), (n, skel.num_joints, 3, 3)).copy()
    local_pos = np.broadcast_to(skel.offsets, (n, skel.num_joints, 3)).copy()
    k = 6 * len(lay.pass_rot)
    local_rot[:, lay.pass_rot] = sixd_to_matrix(passthrough[:, :k].reshape(n, -1, 6))
    local_pos[:, lay.pass_pos] = passthrough[:, k:].reshape(n, -1, 3)
    local_rot[:, lay.rotating] = sixd_to_matrix(poses[:, 7:7 + 6 * len(lay.rotating)].reshape(n, -1, 6))

    # world transform of the root's parent, from the passthrough of the root's ancestors
    parent_rot = np.broadcast_to(np.eye(3), (n, 3, 3)).copy()
    parent_pos = np.zeros((n, 3))
    for j in lay.path:
        parent_pos = parent_pos + np.einsum("fij,fj->fi", parent_rot, local_pos[:, j])
        parent_rot = parent_rot @ local_rot[:, j]

    root_xz, theta = integrate_control(control, start)
    root_rot = rotation_about_y(theta) @ sixd_to_matrix(poses[:, 1:7])
    root_pos = np.stack([root_xz[:, 0], poses[:, 0], root_xz[:, 1]], axis=-1) / feature_def.unit_scale
    parent_rot_t = np.swapaxes(parent_rot, -1, -2)
    local_rot[:, lay.root] = parent_rot_t @ root_rot
    local_pos[:, lay.root] = np.einsum("fij,fj->fi", parent_rot_t, root_pos - parent_pos)
    return local_rot, local_pos


def features_to_motion(poses: np.ndarray, control: np.ndarray, feature_def: FeatureDefinition,
                       start: np.ndarray | None = None, passthrough: np.ndarray | None = None,
                       source: str | None = None) -> Motion:
    """``rotations`` features -> a BVH :class:`Motion` on the source skeleton.

    Args:
        poses: (F, D) un-normalised features; control: (F, 3); start: (3,) root x, z (m) and
            heading (rad) at frame 0 (None: origin, facing +Z); passthrough: (F, K) or None
            (None: the definition's defaults: still ancestors of the root, OFFSETs).
    Returns:
        a Motion at ``feature_def.fps``, file units; rotation channels are Euler angles in each
        joint's own order (equal to the source's up to an equivalent Euler triple).
    """
    local_rot, local_pos = features_to_local(poses, control, feature_def, start, passthrough)
    return motion_from_local(feature_def.source_skeleton(), local_rot, local_pos, 1.0 / feature_def.fps,
                             source=source)


def sequence_world_positions(seq: FeatureSequence, feature_def: FeatureDefinition) -> np.ndarray:
    """(F, Jm, 3) metres: :func:`reconstruct_world_positions` with the sequence's own start and passthrough."""
    pt = seq.passthrough if feature_def.representation == ROTATIONS else None
    return reconstruct_world_positions(seq.poses, seq.control, feature_def, seq.root_start, pt)


def sequence_to_motion(seq: FeatureSequence, feature_def: FeatureDefinition) -> Motion:
    """:func:`features_to_motion` with the sequence's own start and passthrough."""
    return features_to_motion(seq.poses, seq.control, feature_def, seq.root_start, seq.passthrough, seq.source)


def model_joint_positions(motion: Motion, profile: SkeletonProfile | str) -> np.ndarray:
    """(F, Jm, 3) world positions of the profile's model joints in metres, at the motion's own rate."""
    from .kinematics import forward_kinematics
    profile = load_profile(profile).bind(motion.skeleton)
    world, _ = forward_kinematics(motion)
    return world[:, [motion.skeleton.index(f) for f in profile.file_joints]] * profile.unit_scale
