"""Writing generated samples: one BVH per sample on the training skeleton, one ``.npz`` for analysis.

BVH: for the ``rotations`` representation the features invert exactly
(:func:`data_pipeline.features.features_to_motion`). For ``positions`` the joint rotations are
fitted to the generated positions (:mod:`data_pipeline.ik`; all samples in one vectorised fit).
Then, by default, the feet are cleaned up (:mod:`moglow.cleanup`: planted feet locked, legs
solved by IK, feet above the floor); ``cleanup=False`` (``--no-cleanup``) writes the raw model.
The error reported per sample (metres, per joint; printed and stored in ``report.json``) is
how far the fitted skeleton, before the clean-up, is from the generated joints (the fit's
error: 0 for ``rotations``); each written file is also read back and checked against the
``positions`` the npz holds (rounding only).

``samples.npz`` keys (the ``moglow render`` command reads ``positions``, ``parents``, ``path``,
``fps``, ``labels``, ``root``, ``ground_truth``, ``ground_truth_path``)::

    positions    (N, T, M, 3) float32 world positions of the model joints, metres, Y up: what the
                 BVH shows (feet cleaned up), or the model's own positions with --no-cleanup
    raw_positions (N, T, M, 3) the model's own joint positions (only when cleaned up)
    contacts     (N, T, K) contact scores of contact_joints (K,) (models with contact channels)
    cleaned      whether the feet were cleaned up
    parents      (M,) parent of each model joint (-1: none)
    joints       (M,) model joint names
    path         (T, 2) root floor path x, z in metres shared by all samples, or (N, T, 2)
    heading      (N, T) radians
    poses        (N, T, D) un-normalised features;  columns (D,) their names
    control      (N, T, 3) dx, dz (m/frame), dtheta (rad/frame)
    start        (N, 3) root x, z, heading at the first frame
    fps, temperature, seed, representation, labels (N,), root (index of the root joint)
    export_error (N, T, M) metres: |fitted skeleton before clean-up - generated joints| (the fit's error)
    ground_truth (T, M, 3), ground_truth_path (T, 2): the source take of a ``bvh:`` path
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from data_pipeline.bvh import read_bvh
from data_pipeline.bvh_writer import write_bvh
from data_pipeline.features import ROTATIONS, FeatureDefinition, features_to_motion
from data_pipeline.ik import inverse_kinematics, joint_position_error
from data_pipeline.kinematics import motion_from_local
from data_pipeline.plain_data import to_plain
from data_pipeline.output_files import atomic_write, make_folder, refuse_overwrite, write_text_atomic
from data_pipeline.skeleton import Motion

__all__ = ["SampleExport", "ExportReport", "samples_to_motions", "export_samples", "export_paths", "write_samples_npz"]


@dataclass
class SampleExport:
    """One written sample: its file and how well the file reproduces the generated positions (metres)."""

    name: str
    bvh: str | None
    frames: int
    mean_error_m: float | None
    max_error_m: float | None
    joint_mean_error_m: dict[str, float] = field(default_factory=dict)


@dataclass
class ExportReport:
    """What :func:`export_samples` wrote.

    Attributes:
        out_dir: the folder.
        representation: ``positions`` (BVH by IK) or ``rotations`` (exact).
        samples: per sample, its file and error.
        npz: the npz file, or None.
        info: free-form metadata (command, checkpoint, path, seed...).
        cleaned: whether the feet were cleaned up (:mod:`moglow.cleanup`).
    """

    out_dir: str
    representation: str
    samples: list[SampleExport]
    npz: str | None = None
    info: dict[str, Any] = field(default_factory=dict)
    cleaned: bool = False

    @property
    def mean_error_m(self) -> float | None:
        """Mean joint position error over all samples, metres (None: no BVH written)."""
        errs = [s.mean_error_m for s in self.samples if s.mean_error_m is not None]
        return float(np.mean(errs)) if errs else None

    @property
    def max_error_m(self) -> float | None:
        errs = [s.max_error_m for s in self.samples if s.max_error_m is not None]
        return float(max(errs)) if errs else None

    def to_dict(self) -> dict[str, Any]:
        return {"out_dir": self.out_dir, "representation": self.representation, "npz": self.npz,
                "cleaned": self.cleaned,
                "mean_error_m": self.mean_error_m, "max_error_m": self.max_error_m,
                "samples": [asdict(s) for s in self.samples], "info": self.info}

    def write_json(self, path: str | Path) -> Path:
        return write_text_atomic(path, json.dumps(to_plain(self.to_dict(), fallback=str), indent=2))

    def summary(self) -> str:
        """Lines for the console: one per sample, then the mean."""
        if self.mean_error_m is None:
            return f"{len(self.samples)} sample(s), no BVH written"
        how = "IK fit" if self.representation != ROTATIONS else "exact inverse"
        how += ", before the foot clean-up" if self.cleaned else ""
        lines = [f"  {s.bvh}: {s.frames} frames; joint error of the file ({how}): mean {100 * s.mean_error_m:.3f} cm,"
                 f" max {100 * s.max_error_m:.3f} cm" for s in self.samples]
        lines.append(f"mean joint error over {len(self.samples)} sample(s): {100 * self.mean_error_m:.3f} cm "
                     f"(max {100 * self.max_error_m:.3f} cm)")
        return "\n".join(lines)


def samples_to_motions(poses: np.ndarray, control: np.ndarray, start: np.ndarray, feature_def: FeatureDefinition,
                       positions: np.ndarray | None = None, names: list[str] | None = None,
                       **ik_options) -> list[Motion]:
    """BVH motions on the source skeleton, one per sample.

    Args:
        poses: (N, T, D) un-normalised features; control: (N, T, 3); start: (N, 3).
        feature_def: the layout (with the source skeleton).
        positions: (N, T, M, 3) world positions in metres (``positions`` representation; computed
            from the features if None).
        names: motion source names.
        **ik_options: passed to :func:`data_pipeline.ik.inverse_kinematics`.
    Returns:
        N motions in file units at ``feature_def.fps``.
    """
    n = poses.shape[0]
    names = names or [f"sample_{i:03d}" for i in range(n)]
    skeleton = feature_def.source_skeleton()
    frame_time = 1.0 / feature_def.fps
    if feature_def.representation == ROTATIONS:
        return [features_to_motion(poses[i], control[i], feature_def, start[i], source=names[i]) for i in range(n)]
    if positions is None:
        from data_pipeline.features import reconstruct_world_positions
        positions = reconstruct_world_positions(poses, control, feature_def, start)
    rot, pos = inverse_kinematics(skeleton, positions, feature_def.file_joints, feature_def.root,
                                  feature_def.unit_scale, **ik_options)
    return [motion_from_local(skeleton, rot[i], pos[i], frame_time, source=names[i]) for i in range(n)]


def write_samples_npz(path: str | Path, samples, feature_def: FeatureDefinition, positions: np.ndarray,
                      labels: list[str], export_error: np.ndarray | None = None,
                      raw_positions: np.ndarray | None = None) -> Path:
    """Write the analysis ``.npz`` (keys in the module docstring)."""
    path = Path(path)
    root_xz, heading = samples.root_paths()
    shared = bool(np.allclose(root_xz, root_xz[:1], atol=1e-9))
    root = feature_def.file_joints.index(feature_def.root)
    arrays: dict[str, Any] = dict(
        positions=positions.astype(np.float32), parents=np.asarray(feature_def.parents, dtype=np.int64),
        joints=np.asarray(feature_def.joints), path=(root_xz[0] if shared else root_xz).astype(np.float32),
        heading=heading.astype(np.float32), poses=samples.poses.astype(np.float32),
        columns=np.asarray(feature_def.columns), control=samples.control.astype(np.float32),
        start=np.asarray(samples.start, dtype=np.float64), fps=np.float64(samples.fps),
        temperature=np.float64(samples.temperature), seed=np.int64(-1 if samples.seed is None else samples.seed),
        representation=np.asarray(feature_def.representation), labels=np.asarray(labels), root=np.int64(root))
    if export_error is not None:
        arrays["export_error"] = export_error.astype(np.float32)
    arrays["cleaned"] = np.bool_(raw_positions is not None)
    if raw_positions is not None:
        arrays["raw_positions"] = np.asarray(raw_positions, dtype=np.float32)
    contacts = feature_def.contacts_of(samples.poses)
    if contacts is not None:
        arrays["contacts"] = np.asarray(contacts, dtype=np.float32)
        arrays["contact_joints"] = np.asarray(feature_def.contact_joints)
    if samples.ground_truth is not None:
        gt = np.asarray(samples.ground_truth, dtype=np.float64)
        arrays["ground_truth"] = gt.astype(np.float32)
        arrays["ground_truth_path"] = gt[:, root, [0, 2]].astype(np.float32)
    with atomic_write(path) as f:
        np.savez_compressed(f, **arrays)
    return path


def export_paths(out_dir: str | Path, num: int, prefix: str = "sample", bvh: bool = True,
                 npz: bool = True) -> list[Path]:
    """The files :func:`export_samples` writes into ``out_dir`` (to check before generating)."""
    out = Path(out_dir)
    files = [out / f"{prefix}_{i:03d}.bvh" for i in range(num)] if bvh else []
    return files + ([out / "samples.npz"] if npz else []) + [out / "report.json"]


def export_samples(samples, feature_def: FeatureDefinition, out_dir: str | Path, prefix: str = "sample",
                   bvh: bool = True, npz: bool = True, precision: int = 6, info: dict | None = None,
                   progress: bool = False, force: bool = True, cleanup: bool = True, profile: Any = None,
                   **ik_options) -> ExportReport:
    """Write ``{prefix}_{i:03d}.bvh`` per sample, ``samples.npz`` and ``report.json`` into ``out_dir``.

    Args:
        samples: a :class:`moglow.sampling.Samples`.
        feature_def: the feature layout (with the source skeleton).
        out_dir: created if needed.
        prefix: file name prefix.
        bvh, npz: which files to write.
        precision: decimals in the BVH.
        info: metadata stored in ``report.json``.
        progress: tqdm bar over the files.
        force: overwrite existing files; False: :class:`OutputExistsError` if any exists.
        cleanup: clean up the feet (:mod:`moglow.cleanup`); False writes the raw model.
        profile: the skeleton profile (contact thresholds for models without contact channels).
        **ik_options: passed to :func:`data_pipeline.ik.inverse_kinematics`.
    Returns:
        an :class:`ExportReport` (also written as ``report.json``).
    Every file is written to a temporary name and renamed: a failure leaves no truncated file.
    """
    from data_pipeline.kinematics import motion_from_local
    from moglow.cleanup import skeleton_motion

    out = Path(out_dir)
    refuse_overwrite(export_paths(out, samples.num, prefix, bvh, npz), force)
    make_folder(out)
    names = [f"{prefix}_{i:03d}" for i in range(samples.num)]
    sk = skeleton_motion(samples.poses, samples.control, samples.start, feature_def, profile, cleanup, **ik_options)
    positions = sk.positions
    entries: list[SampleExport] = []
    if bvh:
        skeleton = feature_def.source_skeleton()
        items = range(samples.num)
        if progress:
            from data_pipeline.progress import progress_bar
            items = progress_bar(items, desc="writing BVH", unit="file")
        target = positions if sk.cleaned else sk.raw_positions
        for i in items:
            file = out / f"{names[i]}.bvh"
            write_bvh(motion_from_local(skeleton, sk.local_rot[i], sk.local_pos[i], 1.0 / feature_def.fps,
                                        source=names[i]), file, precision=precision)
            back = read_bvh(file)  # what the file holds, after rounding
            err = joint_position_error(back, target[i], feature_def.file_joints, feature_def.unit_scale)
            if sk.cleaned:  # the fit's error before the clean-up moved the legs on purpose, or the rounding
                err = np.maximum(sk.fit_error[i], err)
            entries.append(SampleExport(names[i], file.name, samples.num_frames, float(err.mean()), float(err.max()),
                                        {j: float(e) for j, e in zip(feature_def.joints, err.mean(axis=0))}))
    else:
        entries = [SampleExport(n, None, samples.num_frames, None, None) for n in names]
    error = np.stack([sk.fit_error[i] for i in range(samples.num)]) if bvh else None
    npz_path = write_samples_npz(out / "samples.npz", samples, feature_def, positions, names, error,
                                 sk.raw_positions if sk.cleaned else None) if npz else None
    report = ExportReport(str(out), feature_def.representation, entries, npz_path.name if npz_path else None,
                          dict(info or {}), sk.cleaned)
    report.write_json(out / "report.json")
    return report
