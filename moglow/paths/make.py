"""From a spec to a trajectory: :func:`make_path` for built-in shapes, path files and ``bvh:`` takes
(a take's own control, extracted exactly as in training)."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from data_pipeline.config import DataConfig
from data_pipeline.features import integrate_control
from moglow.paths.trajectory import PathError, PathSpec, Trajectory, trajectory_from_facing
from moglow.paths.shapes import BUILT_INS, convert_params, shape_defaults
from moglow.paths.files import file_trajectory
from moglow.paths.spec import parse_path_spec

__all__ = ["make_path"]


def _bvh_path(spec: PathSpec, num_frames: int | None, cfg: DataConfig, profile) -> Trajectory:
    """The take's own features, extracted exactly as in training (resampling, heading, control)."""
    from data_pipeline.bvh import read_bvh
    from data_pipeline.features import extract_features, model_joint_positions
    from data_pipeline.profiles import load_profile
    from data_pipeline.resample import resample_motion

    if spec.params:
        raise PathError(f"bvh paths take no parameters, got {', '.join(spec.params)}")
    if profile is None:
        raise PathError("a bvh: path needs the skeleton profile of the training data")
    path = Path(spec.target or "")
    if not path.exists():
        raise PathError(f"BVH take not found: {path}")
    profile = load_profile(profile)
    motion = read_bvh(path)
    seq = extract_features(motion, profile, cfg)
    root_xz, theta = integrate_control(seq.control, seq.root_start)
    truth = model_joint_positions(resample_motion(motion, float(cfg.fps), cfg.source_fps_tolerance), profile)
    if truth.shape[0] != seq.num_frames:  # both come from the same resampling; guard anyway
        truth = None
    traj = Trajectory(root_xz, theta, float(cfg.fps), spec.text or str(path), exact_control=seq.control,
                      poses=seq.poses, ground_truth=truth, source=str(path))
    if num_frames is not None:
        if num_frames > traj.num_frames:
            warnings.warn(f"{path} has {traj.num_frames} frames at {cfg.fps:g} fps, fewer than the {num_frames} "
                          "asked for; using the whole take", stacklevel=3)
        else:
            traj = traj.crop(num_frames)
    return traj



def make_path(spec: str | PathSpec, num_frames: int | None, cfg: DataConfig, profile=None) -> Trajectory:
    """Build the trajectory a spec describes.

    Args:
        spec: a path spec (see the module docstring) or a parsed :class:`PathSpec`.
        num_frames: frames at ``cfg.fps``; None: a file's or take's own length (required
            for built-in paths).
        cfg: the training data config: frame rate and heading smoothing (and, for ``bvh:``
            takes, the whole feature extraction).
        profile: the skeleton profile (name, path or object), needed for ``bvh:`` takes.
    Returns:
        a :class:`Trajectory`; its :meth:`Trajectory.control` is the model's control signal
        (un-normalised).
    """
    spec = parse_path_spec(spec) if isinstance(spec, str) else spec
    if spec.kind == "bvh":
        return _bvh_path(spec, num_frames, cfg, profile)
    if spec.kind == "file":
        try:
            return file_trajectory(spec, num_frames, cfg)
        except PathError as e:  # every problem of a path file names the file
            if str(spec.target) in str(e):
                raise
            raise PathError(f"{spec.target}: {e}") from None
    if num_frames is None or num_frames < 2:
        raise PathError(f"path {spec.kind!r} needs a length of at least 2 frames, got {num_frames}")
    fn = BUILT_INS[spec.kind][0]
    params = convert_params(spec.params, shape_defaults(fn), spec.kind)
    fps = float(cfg.fps)
    times = np.arange(int(num_frames)) / fps
    xz, facing = fn(times, fps, **params)
    return trajectory_from_facing(xz, facing, cfg, spec.text or spec.kind)
