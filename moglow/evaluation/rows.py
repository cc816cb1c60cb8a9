"""The metrics of one row of ``moglow evaluate``'s table, from world joint positions.

- :class:`JointRoles`: where the metrics find the root, feet, hips and shoulders.
- :class:`RowInputs`: one take's motions (mocap: one; generated: ``num_samples``) with its
  commanded path and foot levels; :func:`reference_rows` builds the mocap row's.
- :func:`row_metrics`: every per-motion metric (:mod:`moglow.evaluation.metrics`) averaged
  over takes and samples, plus the window features the Fréchet rows
  (:mod:`moglow.evaluation.frechet_rows`) need.
- :func:`data_warnings`: where the numbers rest on too little data.
"""
from __future__ import annotations

import warnings
from pathlib import Path
from dataclasses import dataclass
from typing import Any
from collections.abc import Sequence

import numpy as np

from data_pipeline.config import DataConfig
from data_pipeline.features import FeatureDefinition, FeatureSequence, integrate_control
from data_pipeline.heading import forward_directions, heading_angles, smooth_heading
from data_pipeline.profiles import SkeletonProfile

from . import metrics as M
from .config import EvaluationConfig
from .frechet import window_features
from .heldout import EvaluationError, Pipeline, world_positions
from .result import REFERENCE


@dataclass
class JointRoles:
    """Where the evaluation finds things among the model joints (indices into ``names``)."""

    names: list[str]
    parents: list[int]
    root: int
    feet: list[int]
    hips: tuple[int, int] | None
    shoulders: tuple[int, int] | None

    @property
    def ankles(self) -> tuple[int, int] | None:
        """(left, right) ankle joints: the first of each half of ``feet`` (profiles list the left
        foot's joints, then the right's, ankle first); None for an odd count."""
        k = len(self.feet)
        return (self.feet[0], self.feet[k // 2]) if k >= 2 and k % 2 == 0 else None

    @classmethod
    def of(cls, feature_def: FeatureDefinition, profile: SkeletonProfile) -> JointRoles:
        files = list(feature_def.file_joints)

        def find(name: str, use: str) -> int:
            if name not in files:
                raise EvaluationError(f"profile {profile.name!r}: {use} joint {name!r} is not one of the model "
                                      f"joints ({', '.join(files)}); add it to the profile's joints")
            return files.index(name)

        if not profile.feet:
            raise EvaluationError(f"profile {profile.name!r} names no feet joints; the foot metrics need them")
        feet = [find(n, "feet") for n in profile.feet]
        pair = (lambda p: (files.index(p[0]), files.index(p[1])) if all(n in files for n in p) else None)
        return cls(names=list(feature_def.joints), parents=list(feature_def.parents), root=find(profile.root, "root"),
                   feet=feet, hips=pair(profile.hips), shoulders=pair(profile.shoulders))



@dataclass
class RowInputs:
    """One take's motions for a row.

    Attributes:
        motions: (S, F, J, 3) world positions, metres (S = 1 for mocap).
        levels: (K,) ground level of each foot joint (or one floor height), metres.
        path_xz: (F, 2) the commanded root path, metres. heading: (F,) the commanded heading, rad.
        first: frames before this one are context: not scored, but used to smooth the
            motion's heading the way the data pipeline smooths a whole take.
        name: the take's source file, naming its entry in a row's ``per_take`` table.
    """

    motions: np.ndarray
    levels: np.ndarray | float
    path_xz: np.ndarray
    heading: np.ndarray
    first: int = 0
    name: str = ""


def motion_heading(positions: np.ndarray, roles: JointRoles, data_config: DataConfig, fps: float) -> np.ndarray:
    """(F,) heading of a motion in radians, computed and smoothed as the data pipeline does."""
    try:
        fwd = forward_directions(positions, roles.hips, roles.shoulders, data_config.heading_equal_weights)
    except ValueError:  # a degenerate generated pose: fall back to the guarded estimate
        th = M.facing_angles(positions, roles.hips, roles.shoulders)
        fwd = np.stack([np.sin(th), np.cos(th)], -1)
    try:
        return smooth_heading(fwd, data_config.heading_sigma_s * fps, data_config.heading_smoothing)
    except ValueError:
        return heading_angles(fwd)


#: the per-take metrics a row keeps for paired tests across held-out paths (scalars only; the
#: Fréchet distance needs more windows than one take has)
PER_TAKE_KEYS = ("foot_skating_cm_s", "foot_skating_fraction", "penetration_fraction", "bone_length_cv_mean",
                 "jerk_m_s3", "gait_high_frequency_share", "gait_periodicity", "diversity_cm",
                 "heading_error_deg", "root_speed_m_s")


def row_metrics(takes: Sequence[RowInputs], roles: JointRoles, fps: float, cfg: EvaluationConfig,
                data_config: DataConfig) -> tuple[dict[str, Any], list[np.ndarray]]:
    """Every per-motion metric of one row, averaged over takes and samples, and each take's
    scalar metrics (``PER_TAKE_KEYS``, averaged over its samples) under ``row["per_take"]``:
    ``{take name: {metric: value}}``, for paired tests across held-out paths.

    Returns:
        (row dict, per-take window features (N, D) for the Fréchet distance).
    """
    row, feats = _pooled_metrics(takes, roles, fps, cfg, data_config)
    row["per_take"] = {}
    for i, take in enumerate(takes):
        one, _ = _pooled_metrics([take], roles, fps, cfg, data_config)
        row["per_take"][take.name or f"take {i}"] = {k: one.get(k) for k in PER_TAKE_KEYS}
    return row, feats


def _pooled_metrics(takes: Sequence[RowInputs], roles: JointRoles, fps: float, cfg: EvaluationConfig,
                    data_config: DataConfig) -> tuple[dict[str, Any], list[np.ndarray]]:
    """:func:`row_metrics` without the per-take table."""
    fc = cfg.feet
    skate, pen, jerk, div, perr, herr, speed = {}, {}, M.Mean(), M.Mean(), M.Mean(), M.Mean(), M.Mean()
    per_joint = [M.Mean() for _ in roles.feet]
    gait: dict[str, M.Mean] = {}
    cvs: list[np.ndarray] = []
    feats: list[np.ndarray] = []
    window = max(2, int(round(cfg.frechet.window_s * fps)))
    stride = max(1, int(round(cfg.frechet.stride_s * fps)))
    frames = 0
    for take in takes:
        a = take.first
        for full in take.motions:
            pos = full[a:]
            frames += pos.shape[0]
            for k, v in M.foot_skating(pos, roles.feet, fps, take.levels, fc.contact_height, fc.skate_speed).items():
                skate[k] = skate.get(k, M.Mean()) + v
            for j, foot in enumerate(roles.feet):
                lvl = take.levels[j] if np.ndim(take.levels) else take.levels
                per_joint[j] = per_joint[j] + M.foot_skating(pos, [foot], fps, lvl, fc.contact_height,
                                                             fc.skate_speed)["speed_cm_s"]
            for k, v in M.foot_penetration(pos, roles.feet, take.levels, fc.penetration_tolerance).items():
                pen[k] = pen.get(k, M.Mean()) + v
            cvs.append(M.bone_length_cv(pos, roles.parents, cfg.bone_min_length))
            jerk = jerk + M.mean_jerk(pos, fps)
            cycle = M.gait_cycle(pos, roles.ankles, fps) if roles.ankles is not None else None
            for k, v in (cycle or {}).items():
                gait[k] = gait.get(k, M.Mean()) + M.Mean(v, 1.0)
            root_xz = pos[:, roles.root][:, [0, 2]]
            perr = perr + M.path_error(root_xz, take.path_xz[a:])
            speed = speed + M.Mean.of(np.linalg.norm(np.diff(root_xz, axis=0), axis=-1) * fps)
            if roles.hips is not None and roles.shoulders is not None:
                herr = herr + M.heading_error(motion_heading(full, roles, data_config, fps)[a:], take.heading[a:])
                feats.append(window_features(pos, fps, roles.root, roles.hips, roles.shoulders, window, stride))
        div = div + M.sample_diversity(take.motions[:, a:])
    with warnings.catch_warnings():  # roots and too-short bones are NaN in every motion
        warnings.simplefilter("ignore", RuntimeWarning)
        cv = np.nanmean(np.stack(cvs), axis=0) if cvs else np.array([])
        cv_mean = float(np.nanmean(cv)) if cv.size and np.isfinite(cv).any() else None
    row = {
        "foot_skating_cm_s": skate["speed_cm_s"].value,
        "foot_skating_fraction": skate["skating_fraction"].value,
        "foot_contact_fraction": skate["contact_fraction"].value,
        "foot_skating_cm_s_per_joint": {roles.names[f]: m.value for f, m in zip(roles.feet, per_joint, strict=True)},
        "penetration_depth_cm": pen["depth_cm"].value if pen["fraction"].value else 0.0,
        "penetration_fraction": pen["fraction"].value,
        "bone_length_cv_mean": cv_mean,
        "bone_length_cv": {roles.names[j]: (None if not np.isfinite(c) else float(c)) for j, c in enumerate(cv)
                           if roles.parents[j] >= 0},
        "jerk_m_s3": jerk.value,
        **{f"gait_{k}": m.value for k, m in gait.items()},
        "diversity_cm": div.value,
        "path_error_cm": perr.value,
        "heading_error_deg": herr.value,
        "root_speed_m_s": speed.value,
        "frames": frames,
        "motions": sum(int(t.motions.shape[0]) for t in takes),
    }
    return row, feats


def take_levels(real: np.ndarray, roles: JointRoles, cfg: EvaluationConfig) -> np.ndarray | float:
    """Each foot joint's ground level (K,) metres from a take's real positions ``(F, J, 3)``, or the
    configured floor height."""
    if cfg.feet.floor is not None:
        return float(cfg.feet.floor)
    return M.foot_levels(real, roles.feet, cfg.feet.level_percentile)


def reference_rows(seqs: Sequence[FeatureSequence], fdef: FeatureDefinition, roles: JointRoles,
                    pipeline: Pipeline, cfg: EvaluationConfig, context: int, lookahead: int
                    ) -> tuple[list[RowInputs], dict[str, Any], list[np.ndarray]]:
    """The mocap row's inputs (scored frames: ``context .. F - lookahead - 1``) and its metrics."""
    takes = []
    for seq in seqs:
        real = world_positions(seq.poses, seq, fdef)
        b = seq.num_frames - lookahead
        xz, theta = integrate_control(seq.control, seq.root_start)
        takes.append(RowInputs(real[None, :b], take_levels(real, roles, cfg), xz[:b], theta[:b], first=context,
                               name=Path(seq.source).name or seq.source))
    row, feats = row_metrics(takes, roles, pipeline.fps, cfg, pipeline.data_config)
    return takes, row, feats


#: the Fréchet distance's covariance needs about this many windows per feature dimension
FRECHET_WINDOWS_PER_DIM = 10


def data_warnings(rows: dict[str, dict], seqs: Sequence[FeatureSequence], context: int, fps: float,
                  num_joints: int, max_period_s: float = 2.0) -> list[str]:
    """Where the numbers rest on too little data: the Fréchet distance on fewer windows than
    ~10x its feature dimensions (7 per joint, :func:`moglow.evaluation.frechet.window_features`),
    and takes too short for the gait metrics (the stride search needs two of its longest period)."""
    out = []
    dims = 7 * num_joints
    n = rows.get(REFERENCE, {}).get("frechet_windows")
    if n is not None and n < FRECHET_WINDOWS_PER_DIM * dims:
        out.append(f"the Fréchet distances rest on {n} windows per set for {dims} feature dimensions (fewer than "
                   f"{FRECHET_WINDOWS_PER_DIM}x): their covariances are poorly estimated, compare them only with "
                   "the mocap row's noise floor measured on the same takes")
    lengths = np.array([(s.num_frames - context) / fps for s in seqs])
    short = int((lengths < 2 * max_period_s).sum())
    if len(lengths) and short:
        out.append(f"{short} of {len(lengths)} takes are shorter than {2 * max_period_s:g} s after the context "
                   f"(median {np.median(lengths):.1f} s): the gait metrics (periodicity, stride) search strides "
                   "only up to half a take there and read low or noisy")
    return out


__all__ = ["JointRoles", "RowInputs", "PER_TAKE_KEYS", "motion_heading", "row_metrics", "take_levels", "reference_rows",
           "data_warnings", "FRECHET_WINDOWS_PER_DIM"]
