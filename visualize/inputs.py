"""Reading clips to render: BVH files (any skeleton) and ``.npz`` arrays of joint positions.

``.npz`` keys:
    positions: (F, J, 3) or (N, F, J, 3) world joint positions in metres, Y up (required).
    parents: (J,) parent indices, -1 for the root (required).
    path: (F, 2) control path shared by all samples, or (N, F, 2) one per sample, metres (x, z).
    fps: frames per second (default 20).
    labels: (N,) sample names.
    ground_truth: (F', J, 3) metres, drawn beside the samples; ground_truth_path: (F', 2).
    root: index of the joint the camera follows (default: chosen from the motion).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import geometry as geo
from data_pipeline.errors import InputError, MissingKeyError

#: fps of an .npz file without an ``fps`` key (the feature pipeline's default rate)
DEFAULT_NPZ_FPS = 20.0

#: farthest a joint may be from the origin to be drawn, metres (10 km; beyond that a file is
#: in the wrong unit or broken, and float32 vertex positions lose centimetre precision)
MAX_POSITION_M = 1e4


def check_positions(positions: np.ndarray, source: str, what: str = "positions") -> None:
    """Raise ValueError naming ``source`` unless every coordinate is finite and within
    :data:`MAX_POSITION_M` metres of the origin."""
    x = np.asarray(positions)
    if x.size == 0:
        return
    finite = np.isfinite(x)
    if not finite.all():
        frame = int(np.argwhere(~finite)[0][-3]) if x.ndim >= 3 else 0
        raise InputError(f"{source}: {what} hold NaN or infinity (first at frame {frame}); cannot render")
    far = float(np.abs(x).max())
    if far > MAX_POSITION_M:
        raise InputError(f"{source}: {what} reach {far:.3g} m from the origin; at most {MAX_POSITION_M:g} m can be "
                         f"rendered (wrong unit? see --unit-scale)")


@dataclass
class Clip:
    """Everything :func:`visualize.render.render_positions` needs.

    Attributes:
        positions: (N, F, J, 3) metres; parents: (J,); fps: frames per second.
        paths: (F, 2) shared or (N, F, 2) per-sample path in metres, or None.
        labels: N names or None; ground_truth: (F', J, 3) or None; ground_truth_path: (F', 2) or None.
        root: joint the camera follows; names: J joint names (BVH) or None.
        unit_scale: file units -> metres that was applied (1 for npz).
    """

    positions: np.ndarray
    parents: np.ndarray
    fps: float
    paths: np.ndarray | None = None
    labels: list[str] | None = None
    ground_truth: np.ndarray | None = None
    ground_truth_path: np.ndarray | None = None
    root: int = 0
    names: list[str] | None = None
    unit_scale: float = 1.0


def guess_unit_scale(height_in_file_units: float) -> float:
    """File units -> metres from a skeleton's height: taller than 3 units means centimetres."""
    return 0.01 if height_in_file_units > 3.0 else 1.0


def _resample_positions(x: np.ndarray, src_fps: float, dst_fps: float) -> np.ndarray:
    """Linear resampling of (..., F, ...) arrays along axis ``-3``/frames; x: (N, F, ...)."""
    from data_pipeline.resample import lerp_frames, resample_indices  # noqa: PLC0415

    idx0, idx1, alpha = resample_indices(x.shape[1], src_fps, dst_fps)
    return np.stack([lerp_frames(s, idx0, idx1, alpha) for s in x])


def _window(x: np.ndarray | None, start: int, frames: int | None, axis: int) -> np.ndarray | None:
    if x is None:
        return None
    stop = None if frames is None else start + frames
    index = [slice(None)] * x.ndim
    index[axis] = slice(start, stop)
    return x[tuple(index)]


def _read_bvh_window(path: str | Path, fps: float | None, start: int, frames: int | None):
    """``(motion, fps)``: the frames ``start .. start + frames - 1`` of a BVH file at ``fps``
    (None: the file's rate), reading and resampling only the source frames they need.

    The result equals reading the whole file, resampling it and cutting the window (each output
    frame depends only on its two neighbouring source frames), at the cost of the window.
    """
    from data_pipeline.bvh import read_bvh_frames, read_bvh_header  # noqa: PLC0415
    from data_pipeline.kinematics import local_transforms, motion_from_local  # noqa: PLC0415
    from data_pipeline.resample import lerp_frames, resample_indices, slerp_frames, snap_fps  # noqa: PLC0415

    _, total, frame_time = read_bvh_header(path)
    src_fps = snap_fps(1.0 / frame_time)
    if fps is None or abs(fps - src_fps) <= 1e-6:
        if start >= total:
            raise InputError(f"{path}: start frame {start} is past its {total} frames")
        return read_bvh_frames(path, start, total if frames is None else start + frames), src_fps
    out_fps = float(fps)
    idx0, idx1, alpha = resample_indices(total, src_fps, out_fps)
    if start >= len(idx0):
        raise InputError(f"{path}: start frame {start} is past its {len(idx0)} frames at {fps:g} fps")
    window = slice(start, len(idx0) if frames is None else min(len(idx0), start + frames))
    i0, i1, a = idx0[window], idx1[window], alpha[window]
    first, last = int(i0.min()), int(i1.max())
    src = read_bvh_frames(path, first, last + 1)
    rot, pos = local_transforms(src)
    motion = motion_from_local(src.skeleton, slerp_frames(rot, i0 - first, i1 - first, a),
                               lerp_frames(pos, i0 - first, i1 - first, a), 1.0 / out_fps, source=src.source)
    return motion, out_fps


def load_bvh_clip(path: str | Path, unit_scale: float | None = None, profile=None, fps: float | None = None,
                  start: int = 0, frames: int | None = None) -> Clip:
    """Read a BVH file, run forward kinematics, convert to metres, and keep the subtree under
    the root joint (so a still top joint at the origin does not pull a bone across the floor).

    Args:
        path: the .bvh file.
        unit_scale: file units -> metres; None: the profile's, else guessed from the height
            (:func:`guess_unit_scale`).
        profile: a skeleton profile name/path/object (gives unit_scale and root), or None.
        fps: resample to this rate (None: keep the file's).
        start, frames: first frame and number of frames to keep (after resampling).

    Returns:
        :class:`Clip` with one sample; its path is the root's floor trajectory.
    """
    from data_pipeline.kinematics import forward_kinematics  # noqa: PLC0415

    motion, out_fps = _read_bvh_window(path, fps, start, frames)
    world, _ = forward_kinematics(motion)                    # (F, J, 3) file units, the window only
    skeleton = motion.skeleton
    root_name = None
    if profile is not None:
        from data_pipeline.profiles import load_profile  # noqa: PLC0415

        prof = load_profile(profile).bind(skeleton)
        root_name = prof.root
        if unit_scale is None:
            unit_scale = prof.unit_scale
    if unit_scale is None:
        unit_scale = guess_unit_scale(geo.character_height(world))
    positions = world * unit_scale
    check_positions(positions, str(path), "joint positions (in metres)")
    height = geo.character_height(positions)
    if not 0.4 <= height <= 3.0:
        warnings.warn(f"{path}: with unit scale {unit_scale:g} the skeleton is {height:.2f} m tall; "
                      "pass --unit-scale or --profile if that is wrong", stacklevel=2)
    root = skeleton.index(root_name) if root_name else geo.choose_root(skeleton.parents)
    keep, parents = geo.subtree(skeleton.parents, root)
    positions = positions[:, keep]
    return Clip(positions=positions[None], parents=parents, fps=out_fps, paths=positions[:, 0, [0, 2]],
                root=0, names=[skeleton.names[k] for k in keep], unit_scale=float(unit_scale))


def load_npz_clip(path: str | Path, fps: float | None = None, start: int = 0,
                  frames: int | None = None) -> Clip:
    """Read an .npz of joint positions (keys in the module docstring)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            d = {k: data[k] for k in data.files}
    except ValueError as e:  # an object array: a pickle inside, never loaded
        raise InputError(f"{path}: {e} (objects inside an .npz are never unpickled)") from None
    except (OSError, EOFError) as e:
        raise InputError(f"{path}: not a readable .npz file ({e})") from None
    for key in ("positions", "parents"):
        if key not in d:
            raise MissingKeyError(f"{path}: missing key {key!r} (has: {', '.join(sorted(d)) or 'nothing'})")
    positions = np.asarray(d["positions"], dtype=np.float64)
    if positions.ndim == 3:
        positions = positions[None]
    if positions.ndim != 4 or positions.shape[-1] != 3:
        raise InputError(f"{path}: positions must be (F, J, 3) or (N, F, J, 3); got {positions.shape}")
    check_positions(positions, str(path))
    for key in ("path", "ground_truth", "ground_truth_path"):
        if key in d:
            check_positions(d[key], str(path), key)
    parents = np.asarray(d["parents"], dtype=np.int64)
    if parents.shape != (positions.shape[2],):
        raise InputError(f"{path}: parents has shape {parents.shape}, positions have {positions.shape[2]} joints")
    src_fps = float(d["fps"]) if "fps" in d else DEFAULT_NPZ_FPS
    paths = d.get("path")
    gt, gt_path = d.get("ground_truth"), d.get("ground_truth_path")
    if fps is not None and abs(fps - src_fps) > 1e-6:
        positions = _resample_positions(positions, src_fps, fps)
        if paths is not None:
            paths = _resample_positions(paths[None] if paths.ndim == 2 else paths, src_fps, fps)
            paths = paths[0] if d["path"].ndim == 2 else paths
        gt = None if gt is None else _resample_positions(gt[None], src_fps, fps)[0]
        gt_path = None if gt_path is None else _resample_positions(gt_path[None], src_fps, fps)[0]
    positions = _window(positions, start, frames, axis=1)
    if positions.shape[1] == 0:
        raise InputError(f"{path}: no frames left after --start {start}")
    if paths is not None:
        paths = _window(paths, start, frames, axis=paths.ndim - 2)
    gt, gt_path = _window(gt, start, frames, 0), _window(gt_path, start, frames, 0)
    labels = [str(s) for s in d["labels"]] if "labels" in d else None
    root = int(d["root"]) if "root" in d else geo.choose_root(parents)
    return Clip(positions=positions, parents=parents, fps=float(fps or src_fps), paths=paths, labels=labels,
                ground_truth=gt, ground_truth_path=gt_path, root=root)


def load_clip(path: str | Path, unit_scale: float | None = None, profile=None, fps: float | None = None,
              start: int = 0, frames: int | None = None) -> Clip:
    """Load a .bvh or .npz file (see :func:`load_bvh_clip` and :func:`load_npz_clip`)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such file: {path}")
    suffix = path.suffix.lower()
    if suffix == ".bvh":
        return load_bvh_clip(path, unit_scale, profile, fps, start, frames)
    if suffix == ".npz":
        return load_npz_clip(path, fps, start, frames)
    raise InputError(f"{path}: cannot render a {suffix or 'suffix-less'} file; give a .bvh or .npz")
