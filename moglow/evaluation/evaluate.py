"""``moglow evaluate``: the numbers a motion paper puts in its table, for a checkpoint on held-out BVH files.

Steps:

1. Read the held-out BVH files and extract their features with the *checkpoint's own*
   pipeline (its data config, skeleton profile, feature definition and scalers; nothing is
   re-fitted), optionally cropped to ``max_seconds``.
2. Held-out NLL with data dropout off, in nats and bits per frame (:func:`heldout_nll`).
3. For every take, ``num_samples`` motions generated along the take's own control path,
   seeded with its first ``tau`` real poses (:func:`generate_along_paths`).
4. The same metrics (:mod:`moglow.evaluation.metrics`, :mod:`moglow.evaluation.frechet`)
   on the generated motion as the model makes it (``generated``: the raw model), on what the
   user gets (``cleaned``: on the training skeleton with the feet cleaned up, as every output
   writes it, :mod:`moglow.cleanup`; left out with ``cleanup=False``) and, as the reference
   row, on the held-out mocap itself, over the same frames (after the ``tau`` context frames).

Without a checkpoint (:func:`evaluate_reference`) only the mocap row is computed, for any
BVH folder with a skeleton profile.

Example::

    >>> result = evaluate_checkpoint("runs/tiny", "../shared/mocap/bandai-namco/dataset-2")  # doctest: +SKIP
    >>> print(result.to_markdown())                                                          # doctest: +SKIP
"""
from __future__ import annotations

import dataclasses
import json
import math
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from collections.abc import Callable, Sequence

import numpy as np
import torch

from data_pipeline.bvh import read_bvh
from data_pipeline.config import DataConfig
from data_pipeline.features import (FeatureDefinition, FeatureSequence, extract_features, feature_definition,
                                    integrate_control, reconstruct_world_positions)
from data_pipeline.output_files import refuse_overwrite, write_text_atomic
from data_pipeline.heading import forward_directions, heading_angles, smooth_heading
from data_pipeline.profiles import ProfileError, SkeletonProfile, load_profile
from data_pipeline.scaler import Scaler
from data_pipeline.typed_config import to_dict
from moglow.cleanup import contact_spec_for
from moglow.sampling import generate_poses
from moglow.units import nats_to_bits

from . import metrics as M
from .config import EvaluationConfig
from .frechet import feature_scale, frechet_between, window_features
from .generators import GeneratorSetup, load_generator_factory, row_name
from data_pipeline.errors import MoglowError
from data_pipeline.plain_data import to_plain

REFERENCE = "mocap"
GENERATED = "generated"
#: the generated motion as the user gets it: on the skeleton, feet cleaned up (:mod:`moglow.cleanup`)
CLEANED = "cleaned"


class EvaluationError(MoglowError, RuntimeError):
    """The evaluation cannot run (no files, incompatible skeleton, takes too short, ...)."""


# ============================================================================ the pipeline
@dataclass
class Pipeline:
    """How motion becomes features and back: everything taken from the checkpoint.

    Attributes:
        data_config: the checkpoint's :class:`DataConfig` (fps, heading, representation).
        profile: its skeleton profile.
        feature_def: its feature definition (column layout, model joints, parents).
        scaler, control_scaler: its pose and control scalers (None: reference-only mode).
        style_names: the style labels the model knows (index = style id).
    """

    data_config: DataConfig
    profile: SkeletonProfile
    feature_def: FeatureDefinition | None = None
    scaler: Scaler | None = None
    control_scaler: Scaler | None = None
    style_names: list[str] = field(default_factory=list)

    @classmethod
    def from_checkpoint(cls, ckpt: dict) -> "Pipeline":
        """The pipeline stored in a checkpoint dict (:func:`moglow.checkpoint.load_checkpoint`),
        read by :meth:`moglow.sampling.SamplingMeta.from_checkpoint` (its data config takes the
        fps and heading settings of the feature definition)."""
        from moglow.sampling import SamplingMeta

        data = ckpt.get("data") or {}
        missing = [k for k in ("profile", "feature_def", "scaler", "control_scaler") if not data.get(k)]
        if missing:
            raise EvaluationError(f"the checkpoint lacks {', '.join(missing)} in its data metadata: it was "
                                  "not trained on prepared BVH data, so held-out files cannot be prepared like it")
        meta = SamplingMeta.from_checkpoint(ckpt)
        return cls(data_config=meta.data_config, profile=meta.profile, feature_def=meta.feature_def,
                   scaler=meta.scaler, control_scaler=meta.control_scaler, style_names=list(meta.style_names))

    @property
    def fps(self) -> float:
        return float(self.feature_def.fps if self.feature_def is not None else self.data_config.fps)


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
    def of(cls, feature_def: FeatureDefinition, profile: SkeletonProfile) -> "JointRoles":
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


# ============================================================================ held-out data
def list_files(data_dir: str | Path, pattern: str | Sequence[str] = "*.bvh", max_files: int | None = None,
               only: Sequence[Path] | None = None) -> list[Path]:
    """Files matching ``pattern`` (one glob or several; how many each matched is printed) in
    ``data_dir`` (``**`` recurses), sorted, at most ``max_files``; with ``only``, just those of
    them that are in ``only`` (e.g. :func:`split_files`)."""
    from data_pipeline.file_patterns import match_files

    root = Path(data_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"held-out data folder not found: {root}")
    files = match_files(root, pattern, log=lambda m: print(m, file=sys.stderr))
    if only is not None:
        keep = {Path(f).resolve() for f in only}
        files = [f for f in files if f.resolve() in keep]
    if not files:
        raise FileNotFoundError(f"no files matching {pattern!r} in {root}" + (" in the chosen split" if only else ""))
    return files[:max_files] if max_files else files


def split_files(ckpt: dict, split: str, data_dir: str | Path | None = None) -> tuple[Path, list[Path]]:
    """The files of one split (``"train"``, ``"val"``, ``"test"``) of the data a checkpoint was
    trained on: (the raw data folder, its files).

    From the prepared data's ``manifest.json`` when it is still there; else (a shipped model,
    :mod:`moglow.pretrained`, or a cleared cache) from the names and sha256 the checkpoint
    stores (``data["split"]``), found in ``data_dir`` or the folder recorded at training
    (relative to the working directory), each checked by its sha256.

    Raises:
        EvaluationError: the split cannot be found (the message says which files are missing).
    """
    meta = ckpt.get("data") or {}
    prepared = meta.get("prepared_dir")
    manifest = Path(prepared) / "manifest.json" if prepared else None
    if manifest is not None and manifest.is_file():
        man = json.loads(manifest.read_text())
        root = Path(data_dir) if data_dir is not None else Path(man["data_dir"])
        entries = [(f["path"], f.get("sha256") if data_dir is not None else None)
                   for f in man["files"] if f.get("split") == split]
        known = sorted({f.get("split") for f in man["files"]})
    elif meta.get("split"):
        stored = meta["split"]
        places = [Path(stored["data_dir"])] + ([Path(stored["data_dir_at_training"])]
                                               if stored.get("data_dir_at_training") else [])
        root = Path(data_dir) if data_dir is not None else next((p for p in places if p.is_dir()), places[0])
        entries = [(rel, sha) for rel, sha in stored["files"].get(split, [])]
        known = sorted(stored["files"])
    elif manifest is not None and not manifest.is_file():
        raise EvaluationError(f"{manifest} is gone (prepared cache cleared?); prepare the data again with the "
                              "run's config, or give the held-out folder with --data")
    else:
        raise EvaluationError("this checkpoint records no prepared-data folder, so its splits are unknown; "
                              "give the held-out folder with --data instead")
    if not entries:
        raise EvaluationError(f"the checkpoint's data has no {split!r} files (splits: {known})")
    files = [root / rel for rel, _ in entries]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise EvaluationError(f"{len(missing)} of the {len(files)} {split!r} files are not in {root} (e.g. "
                              f"{missing[0]}); give the folder that holds them with --data")
    if any(sha for _, sha in entries):
        from data_pipeline.prepare import file_sha256

        changed = [str(f) for f, (_, sha) in zip(files, entries) if sha and file_sha256(f) != sha]
        if changed:
            raise EvaluationError(f"{len(changed)} {split!r} file(s) in {root} differ from the ones the model was "
                                  f"split on (sha256), e.g. {changed[0]}")
    return root, files


def load_heldout(files: Sequence[Path], pipeline: Pipeline, max_seconds: float | None = None,
                 progress: bool = True) -> tuple[list[FeatureSequence], FeatureDefinition]:
    """Features of the held-out takes, made with the pipeline's config and profile.

    Args:
        files: BVH files. pipeline: the checkpoint's pipeline (its feature definition, when
            present, must match the files' layout). max_seconds: crop each take (None: whole).
    Returns:
        (sequences, feature definition); un-normalised features at the pipeline's fps.
    """
    seqs: list[FeatureSequence] = []
    fdef = pipeline.feature_def
    it = files
    if progress:
        from data_pipeline.progress import progress_bar
        it = progress_bar(files, desc="reading held-out files", unit="file")
    for path in it:
        motion = read_bvh(path)
        try:
            mine = feature_definition(motion.skeleton, pipeline.profile, pipeline.data_config)
        except ProfileError as e:  # a joint the profile needs is missing: say which file lacks it
            raise ProfileError(f"{path}: {e}") from None
        if fdef is None:
            fdef = mine
        elif mine.columns != fdef.columns or mine.joints != fdef.joints:
            raise EvaluationError(f"{path}: its features do not match the checkpoint's layout "
                                  f"({len(mine.columns)} vs {len(fdef.columns)} columns); is it the same skeleton?")
        seq = extract_features(motion, pipeline.profile, pipeline.data_config)
        seq.source = str(path)
        if max_seconds is not None:
            seq = crop(seq, int(round(max_seconds * seq.fps)))
        seqs.append(seq)
    return seqs, fdef


def crop(seq: FeatureSequence, frames: int) -> FeatureSequence:
    """The first ``frames`` frames of a sequence (the start stays the same)."""
    if frames >= seq.num_frames:
        return seq
    return dataclasses.replace(seq, poses=seq.poses[:frames], control=seq.control[:frames],
                               passthrough=seq.passthrough[:frames])


def world_positions(poses: np.ndarray, seq: FeatureSequence, fdef: FeatureDefinition) -> np.ndarray:
    """World positions (..., F, J, 3) metres of poses (..., F, D) driven by ``seq``'s control and start."""
    f = poses.shape[-2]
    control = seq.control[:f]
    if fdef.representation == "positions":
        return reconstruct_world_positions(poses, np.broadcast_to(control, poses.shape[:-1] + control.shape[-1:]),
                                           fdef, seq.root_start)
    flat = poses.reshape(-1, f, poses.shape[-1])
    out = [reconstruct_world_positions(p, control, fdef, seq.root_start, seq.passthrough[:f]) for p in flat]
    return np.stack(out).reshape(poses.shape[:-1] + out[0].shape[-2:])


def cleaned_positions(poses: np.ndarray, seq: FeatureSequence, fdef: FeatureDefinition, profile: Any = None
                      ) -> np.ndarray:
    """(S, F, J, 3) metres: poses (S, F, D) along ``seq``'s path as the user gets them (:mod:`moglow.cleanup`)."""
    from moglow.cleanup import skeleton_motion

    f = poses.shape[-2]
    control = np.broadcast_to(seq.control[:f], poses.shape[:-1] + seq.control.shape[-1:])
    start = np.broadcast_to(seq.root_start, poses.shape[:-2] + (3,))
    pt = seq.passthrough[:f] if fdef.representation == "rotations" else None
    return skeleton_motion(poses, control, start, fdef, profile, cleanup=True, passthrough=pt).positions


def training_overlap(ckpt: dict, files: Sequence[Path]) -> list[str]:
    """Held-out files whose bytes are those of a *training* file of the checkpoint (by sha256),
    when the checkpoint's prepared-data folder is still there to tell; else []."""
    from data_pipeline.prepare import file_sha256

    prepared = (ckpt.get("data") or {}).get("prepared_dir")
    manifest = Path(prepared) / "manifest.json" if prepared else None
    stored = (ckpt.get("data") or {}).get("split")
    if (manifest is None or not manifest.is_file()) and stored:
        train = {sha for _, sha in stored["files"].get("train", [])}
        return [str(p) for p in files if file_sha256(p) in train]
    if manifest is None or not manifest.is_file():
        return []
    try:
        entries = json.loads(manifest.read_text()).get("files", [])
    except (OSError, json.JSONDecodeError):
        return []
    train = {e.get("sha256") for e in entries if e.get("split") == "train"}
    return [str(p) for p in files if file_sha256(p) in train]


# ============================================================================ likelihood
@torch.no_grad()
def heldout_nll(model: torch.nn.Module, seqs: Sequence[FeatureSequence], pipeline: Pipeline,
                window: int, batch_size: int = 32, device: torch.device | str = "cpu",
                style_ids: Sequence[int] | None = None) -> dict[str, Any]:
    """Negative log-likelihood per frame of the held-out takes, data dropout off.

    Args:
        model: a :class:`moglow.model.MoGlow` (eval mode).
        seqs: un-normalised held-out sequences. pipeline: gives the scalers.
        window: target frames per window (non-overlapping windows, each starting with fresh
            recurrent state, as the trainer's validation); 0: whole takes.
        style_ids: per sequence (-1: none).
    Returns:
        ``nats_per_frame`` and ``bits_per_frame`` (of the normalised features, as in the
        training logs), ``nats_per_frame_unnormalised`` (of the features in their own units:
        plus the sum of log scaler std), ``frames`` scored, ``windows``, ``window``.
    """
    tau, la = model.tau, model.lookahead
    style_ids = list(style_ids) if style_ids is not None else [-1] * len(seqs)
    items: list[tuple[np.ndarray, np.ndarray, int]] = []  # normalised (poses, control, style)
    for seq, sid in zip(seqs, style_ids):
        poses = pipeline.scaler.transform(seq.poses.astype(np.float32))
        control = pipeline.control_scaler.transform(seq.control.astype(np.float32))
        f = seq.num_frames - la
        if window == 0:
            if f - tau >= 1:
                items.append((poses[:f], control[:f + la], sid))
            continue
        for s in range(0, f - tau - window + 1, window):
            items.append((poses[s:s + tau + window], control[s:s + tau + window + la], sid))
    if not items:
        raise EvaluationError(f"no held-out take is long enough for one NLL window (tau {tau} + {window or 1} "
                              f"frames + lookahead {la}); use a smaller nll_window or 0")
    items.sort(key=lambda it: -it[0].shape[0])
    total, frames = 0.0, 0
    for a in range(0, len(items), batch_size):
        group = items[a:a + batch_size]
        n = group[-1][0].shape[0]  # windows share one length; whole takes: score each on its own
        if any(g[0].shape[0] != n for g in group):
            group_sets = [[g] for g in group]
        else:
            group_sets = [group]
        for gs in group_sets:
            batch = {"poses": torch.as_tensor(np.stack([g[0] for g in gs]), device=device),
                     "control": torch.as_tensor(np.stack([g[1] for g in gs]), device=device),
                     "style": torch.as_tensor([g[2] for g in gs], dtype=torch.int64, device=device)}
            logp = model.log_prob(batch).double()
            total -= float(logp.sum())
            frames += logp.numel()
    nats = total / frames
    log_std = float(np.log(pipeline.scaler.std).sum())
    return {"nats_per_frame": nats, "bits_per_frame": float(nats_to_bits(nats)),
            "nats_per_frame_unnormalised": nats + log_std, "frames": frames, "windows": len(items),
            "window": window}


# ============================================================================ generation
@torch.no_grad()
def generate_along_paths(model: torch.nn.Module, seqs: Sequence[FeatureSequence], pipeline: Pipeline,
                         num_samples: int, temperature: float = 1.0, seed: int = 0, batch_size: int = 64,
                         style_ids: Sequence[int] | None = None, progress: bool = True) -> list[np.ndarray]:
    """``num_samples`` motions per take along the take's own control path.

    Each is seeded with the take's first ``tau`` real poses and generates frames ``tau ..
    F - lookahead - 1``. Takes of different lengths are generated in one batch: the control
    of shorter ones is padded at the end, which cannot change their frames because
    sampling is causal (frame t sees control up to t + lookahead only). Batch ``b`` draws its
    latents from a generator seeded with ``seed + b`` (:func:`moglow.sampling.generate_poses`),
    on the model's device.

    Returns:
        per take, (S, tau + T, D) un-normalised poses: the real context, then T generated frames.
    """
    tau, la = model.tau, model.lookahead
    style_ids = list(style_ids) if style_ids is not None else [-1] * len(seqs)
    lengths = [s.num_frames - tau - la for s in seqs]
    short = [s.source for s, n in zip(seqs, lengths) if n < 1]
    if short:
        raise EvaluationError(f"{len(short)} take(s) too short to generate from (need more than tau {tau} + "
                              f"lookahead {la} frames), e.g. {short[0]}")
    poses_n = [pipeline.scaler.transform(s.poses.astype(np.float32)) for s in seqs]
    control_n = [pipeline.control_scaler.transform(s.control.astype(np.float32)) for s in seqs]
    jobs = sorted(((i, k) for i in range(len(seqs)) for k in range(num_samples)), key=lambda j: -lengths[j[0]])
    out = [np.zeros((num_samples, tau + lengths[i], seqs[i].poses.shape[1]), np.float32) for i in range(len(seqs))]
    batches = range(0, len(jobs), batch_size)
    if progress:
        from data_pipeline.progress import progress_bar
        batches = progress_bar(batches, desc=f"generating {len(jobs)} motions", unit="batch")
    for a in batches:
        group = jobs[a:a + batch_size]
        t_max = max(lengths[i] for i, _ in group)
        ctx = np.stack([poses_n[i][:tau] for i, _ in group])
        ctrl = np.stack([np.pad(control_n[i][: tau + lengths[i] + la], ((0, t_max - lengths[i]), (0, 0)), mode="edge")
                         for i, _ in group])
        style = torch.as_tensor([style_ids[i] for i, _ in group], dtype=torch.int64)
        x = generate_poses(model, torch.as_tensor(ctx), torch.as_tensor(ctrl), temperature,
                           seed=int(seed) + a // batch_size,
                           style=style if getattr(model, "style", None) is not None else None)
        x = x.float().cpu().numpy()
        for b, (i, k) in enumerate(group):
            out[i][k, :tau] = seqs[i].poses[:tau]
            out[i][k, tau:] = pipeline.scaler.inverse_transform(x[b, : lengths[i]])
    return out


# ============================================================================ metrics of one row
@dataclass
class RowInputs:
    """One take's motions for a row.

    Attributes:
        motions: (S, F, J, 3) world positions, metres (S = 1 for mocap).
        levels: (K,) ground level of each foot joint (or one floor height), metres.
        path_xz: (F, 2) the commanded root path, metres. heading: (F,) the commanded heading, rad.
        first: frames before this one are context: not scored, but used to smooth the
            motion's heading the way the data pipeline smooths a whole take.
    """

    motions: np.ndarray
    levels: np.ndarray | float
    path_xz: np.ndarray
    heading: np.ndarray
    first: int = 0


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


def row_metrics(takes: Sequence[RowInputs], roles: JointRoles, fps: float, cfg: EvaluationConfig,
                data_config: DataConfig) -> tuple[dict[str, Any], list[np.ndarray]]:
    """Every per-motion metric of one row, averaged over takes and samples.

    Returns:
        (row dict, per-take window features (N, D) for the Fréchet distance).
    """
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
        "foot_skating_cm_s_per_joint": {roles.names[f]: m.value for f, m in zip(roles.feet, per_joint)},
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


# ============================================================================ the whole evaluation
@dataclass
class EvaluationResult:
    """What ``moglow evaluate`` found.

    Attributes:
        info: what was evaluated (checkpoint, step, data folder, files, fps, settings).
        nll: :func:`heldout_nll`'s dict, or None (reference-only).
        rows: ``{"mocap": {...}, "generated": {...}}`` (metric name -> value; None: not defined).
        clips: the first takes as :class:`moglow.evaluation.clips.EvaluationClip` (``clips=N`` of
            :func:`evaluate_checkpoint`; not in the JSON).
    """

    info: dict[str, Any]
    nll: dict[str, Any] | None
    rows: dict[str, dict[str, Any]]
    clips: list[Any] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"info": self.info, "nll": self.nll, "rows": self.rows, "metrics": METRICS_DOC}

    def to_json(self) -> str:
        return json.dumps(to_plain(self.to_dict(), finite=True), indent=1)

    def to_markdown(self) -> str:
        return format_table(self)

    @staticmethod
    def output_paths(out_dir: str | Path) -> tuple[Path, Path]:
        """The two files :meth:`write` writes into ``out_dir``."""
        return Path(out_dir) / "evaluation.json", Path(out_dir) / "evaluation.md"

    def write(self, out_dir: str | Path, force: bool = True) -> tuple[Path, Path]:
        """Write ``evaluation.json`` and ``evaluation.md`` into ``out_dir`` (each to a temporary
        name, then renamed); returns both paths. ``force=False``: refuse to replace them."""
        j, m = self.output_paths(out_dir)
        refuse_overwrite([j, m], force)
        write_text_atomic(j, self.to_json() + "\n")
        write_text_atomic(m, self.to_markdown() + "\n")
        return j, m


#: (key, label, unit, better) of every row metric, in table order
METRICS: list[tuple[str, str, str, str]] = [
    ("foot_skating_cm_s", "foot skating (speed in contact)", "cm/s", "lower"),
    ("foot_skating_fraction", "skating contact samples", "fraction", "lower"),
    ("foot_contact_fraction", "foot contact", "fraction", "close to mocap"),
    ("penetration_depth_cm", "floor penetration depth", "cm", "lower"),
    ("penetration_fraction", "frames penetrating the floor", "fraction", "lower"),
    ("bone_length_cv_mean", "bone-length CV (mean over bones)", "ratio", "lower (mocap: 0)"),
    ("jerk_m_s3", "jerk", "m/s³", "close to mocap"),
    ("gait_periodicity", "gait periodicity (ankle height)", "autocorr.", "close to mocap (~1)"),
    ("gait_stride_period_s", "stride period", "s", "close to mocap"),
    ("gait_left_right_correlation", "left/right ankle height correlation", "corr.", "close to mocap (< 0)"),
    ("gait_height_range_cm", "ankle height range", "cm", "close to mocap"),
    ("gait_high_frequency_share", "ankle height power above 4 Hz", "fraction", "lower (jitter)"),
    ("diversity_cm", "diversity (same path)", "cm", "higher, if quality holds"),
    ("frechet_distance", "Fréchet distance to mocap", "std²", "lower"),
    ("path_error_cm", "root path error", "cm", "lower (~0 by construction)"),
    ("heading_error_deg", "facing vs commanded heading", "deg", "lower"),
]
METRICS_DOC = {k: {"label": label, "unit": unit, "better": better} for k, label, unit, better in METRICS}


def _fmt(v: Any) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    if isinstance(v, float):
        a = abs(v)
        return f"{v:.3g}" if a >= 1000 or a < 0.01 and a != 0 else f"{v:.3f}" if a < 10 else f"{v:.1f}"
    return str(v)


def format_table(result: EvaluationResult) -> str:
    """A markdown table: one line per metric, one column per row (mocap, generated)."""
    info = result.info
    names = [n for n in (REFERENCE, GENERATED, CLEANED) if n in result.rows]
    names += [n for n in result.rows if n not in names]  # baseline generators' rows
    head = {REFERENCE: "mocap (reference)", GENERATED: f"generated (T={info.get('temperature')}, "
                                                        f"{info.get('num_samples')}/path): raw model",
            CLEANED: "generated, cleaned up: what the user gets", **(info.get("baselines") or {})}
    lines = [f"## Evaluation: {info.get('checkpoint') or 'mocap only'}", ""]
    after = (f"; metrics over the frames after the first {info['context_frames']} (the generator's context)"
             if info.get("context_frames") else "")
    split = f", the checkpoint's {info['split']!r} split" if info.get("split") else ""
    lines.append(f"Held-out data: {info['data_dir']}{split} ({info['files']} files, {info['fps']:g} fps, "
                 f"profile {info['profile']}){after}.")
    if result.nll is not None:
        n = result.nll
        span = "whole takes" if n["window"] == 0 else f"windows of {n['window']} frames"
        lines += ["", f"Held-out NLL (data dropout off): **{n['nats_per_frame']:.3f} nats/frame** "
                      f"({n['bits_per_frame']:.3f} bits/frame), {n['frames']} frames in {n['windows']} {span}; "
                      f"{n['nats_per_frame_unnormalised']:.3f} nats/frame on un-normalised features."]
    lines += ["", "| metric | unit | better | " + " | ".join(head[n] for n in names) + " |",
              "|---|---|---|" + "---:|" * len(names)]
    for key, label, unit, better in METRICS:
        lines.append(f"| {label} | {unit} | {better} | " + " | ".join(_fmt(result.rows[n].get(key)) for n in names)
                     + " |")
    for w in info.get("warnings") or []:
        lines += ["", f"**Warning:** {w}."]
    lines += ["", "Fréchet distance: to real half B of the takes, from real half A (mocap: the noise floor) "
                  "and from motion generated along A's paths (same number of windows); "
                  "mocap diversity: undefined (one take per path). – : not defined."]
    return "\n".join(lines)


def _style_ids(seqs: Sequence[FeatureSequence], pipeline: Pipeline, model: torch.nn.Module) -> list[int]:
    if getattr(model, "style", None) is None:
        return [-1] * len(seqs)
    return [pipeline.style_names.index(s.style) if s.style in pipeline.style_names else -1 for s in seqs]


def _levels(real: np.ndarray, roles: JointRoles, cfg: EvaluationConfig) -> np.ndarray | float:
    if cfg.feet.floor is not None:
        return float(cfg.feet.floor)
    return M.foot_levels(real, roles.feet, cfg.feet.level_percentile)


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


def _reference_rows(seqs: Sequence[FeatureSequence], fdef: FeatureDefinition, roles: JointRoles,
                    pipeline: Pipeline, cfg: EvaluationConfig, context: int, lookahead: int
                    ) -> tuple[list[RowInputs], dict[str, Any], list[np.ndarray]]:
    """The mocap row's inputs (scored frames: ``context .. F - lookahead - 1``) and its metrics."""
    takes = []
    for seq in seqs:
        real = world_positions(seq.poses, seq, fdef)
        b = seq.num_frames - lookahead
        xz, theta = integrate_control(seq.control, seq.root_start)
        takes.append(RowInputs(real[None, :b], _levels(real, roles, cfg), xz[:b], theta[:b], first=context))
    row, feats = row_metrics(takes, roles, pipeline.fps, cfg, pipeline.data_config)
    return takes, row, feats


def _frechet_rows(rows: dict[str, dict], real_feats: list[np.ndarray], gen_feats: list[np.ndarray] | None,
                  cfg: EvaluationConfig, cleaned_feats: list[np.ndarray] | None = None,
                  others: dict[str, list[np.ndarray]] | None = None) -> None:
    """Fréchet distances measured like with like: the takes are split into alternate halves A
    and B; the mocap row is d²(real A, real B) (the noise floor) and the generated row is
    d²(generated for the takes of A, real B), with the generated windows subsampled (seeded)
    to the number of real windows in A, so both rows share the reference set and sample size."""
    keep = [i for i, f in enumerate(real_feats) if f.shape[0]]
    usable = [real_feats[i] for i in keep]
    scale = feature_scale(usable) if usable and cfg.frechet.standardise else None
    half_a, half_b = usable[0::2], usable[1::2]
    rows[REFERENCE]["frechet_distance"] = (frechet_between(half_a, half_b, scale) if half_a and half_b else None)
    rows[REFERENCE]["frechet_windows"] = int(sum(f.shape[0] for f in half_a))
    if gen_feats is not None:
        _frechet_generated(rows, GENERATED, keep, real_feats, gen_feats, half_a, half_b, scale)
    if cleaned_feats is not None:
        _frechet_generated(rows, CLEANED, keep, real_feats, cleaned_feats, half_a, half_b, scale)
    for name, feats in (others or {}).items():  # baseline generators' rows (moglow.evaluation.generators)
        _frechet_generated(rows, name, keep, real_feats, feats, half_a, half_b, scale)


def _frechet_generated(rows: dict[str, dict], name: str, keep: list[int], real_feats: list[np.ndarray],
                       gen_feats: list[np.ndarray], half_a: list[np.ndarray], half_b: list[np.ndarray],
                       scale: Any) -> None:
    """The Fréchet distance of one generated row (see :func:`_frechet_rows`)."""
    # gen_feats holds num_samples motions per take, take-major, in the order of real_feats
    per_take = len(gen_feats) // max(1, len(real_feats))
    if per_take < 1 or per_take * len(real_feats) != len(gen_feats):
        raise ValueError("generated window features must come num_samples per take, in the takes' order")
    g = [f for i in keep[0::2] for f in gen_feats[i * per_take:(i + 1) * per_take] if f.shape[0]]
    g = np.concatenate(g) if g else np.zeros((0, 1))
    n = int(sum(f.shape[0] for f in half_a))
    if g.shape[0] > n:
        g = g[np.sort(np.random.default_rng(0).choice(g.shape[0], size=n, replace=False))]
    rows[name]["frechet_distance"] = frechet_between(g, half_b, scale) if half_b and g.shape[0] else None
    rows[name]["frechet_windows"] = int(g.shape[0])


def evaluate_checkpoint(checkpoint: str | Path, data_dir: str | Path | None, cfg: EvaluationConfig | None = None,
                        device: str | torch.device = "auto", progress: bool = True,
                        log: Callable[[str], None] | None = None, split: str | None = None,
                        cleanup: bool = True, baselines: Sequence[str] = (),
                        baseline_options: dict[str, Any] | None = None, clips: int = 0) -> EvaluationResult:
    """Evaluate a checkpoint on a folder of held-out BVH files (see the module docstring).

    Args:
        checkpoint: a ``.pt`` file or a run folder (``best.pt``, else ``latest.pt``).
        data_dir: the held-out BVH folder (``cfg.pattern`` selects files); None with ``split``:
            the checkpoint's own data folder.
        split: ``"test"`` (or ``"val"``, ``"train"``): only the files of that split of the
            checkpoint's own prepared data (:func:`split_files`).
        cfg: settings (default: ``configs/evaluation.yaml``'s defaults).
        device: ``"auto"``, ``"cpu"``, ``"cuda"``.
        progress: tqdm bars. log: one-line messages (default: print when ``progress``).
        cleanup: also score what the user gets (the ``cleaned`` row: skeleton fit and foot clean-up).
        baselines: generators scored as extra rows on the same takes and frames (names or
            ``module:function`` specs, :mod:`moglow.evaluation.generators`), each given ``baseline_options``.
        clips: keep the first ``clips`` takes, generated and mocap, as ``result.clips`` (for the
            3-D viewer, :mod:`moglow.evaluation.clips`).
    """
    from moglow.checkpoint import load_model
    from moglow.sampling import optimise_for_sampling
    from moglow.train import resolve_device

    cfg = cfg or EvaluationConfig()
    log = log or (print if progress else (lambda s: None))
    t0 = time.perf_counter()
    dev = resolve_device(device)
    model, ckpt = load_model(checkpoint, map_location=dev)
    optimise_for_sampling(model)  # eval mode, no gradients, faster per-frame products
    pipeline = Pipeline.from_checkpoint(ckpt)
    only = None
    if split is not None:
        root, only = split_files(ckpt, split, data_dir)
        data_dir = root
    if data_dir is None:
        raise EvaluationError("give a held-out folder, or a split of the checkpoint's own data")
    files = list_files(data_dir, cfg.pattern, cfg.max_files, only)
    overlap = training_overlap(ckpt, files)
    if overlap:
        warnings.warn(f"{len(overlap)} of the {len(files)} 'held-out' files were training files of this "
                      f"checkpoint (e.g. {overlap[0]}); the numbers are not held-out numbers", stacklevel=2)
    seqs, fdef = load_heldout(files, pipeline, cfg.max_seconds, progress)
    roles = JointRoles.of(fdef, pipeline.profile)
    tau, la = model.tau, model.lookahead
    keep = [s for s in seqs if s.num_frames - tau - la >= 4]
    if len(keep) < len(seqs):
        warnings.warn(f"{len(seqs) - len(keep)} take(s) shorter than tau + lookahead + 4 frames left out", stacklevel=2)
    if not keep:
        raise EvaluationError(f"no held-out take in {data_dir} is longer than tau + lookahead + 4 = {tau + la + 4} frames")
    seqs = keep
    sids = _style_ids(seqs, pipeline, model)

    window = int(ckpt["config"]["train"]["seq_len"]) if cfg.nll_window is None else cfg.nll_window
    nll = heldout_nll(model, seqs, pipeline, window, cfg.batch_size, dev, sids)
    log(f"held-out NLL: {nll['nats_per_frame']:.3f} nats/frame ({nll['bits_per_frame']:.3f} bits/frame)")

    ref_takes, ref_row, ref_feats = _reference_rows(seqs, fdef, roles, pipeline, cfg, tau, la)
    generated = generate_along_paths(model, seqs, pipeline, cfg.num_samples, cfg.temperature, cfg.seed,
                                     cfg.batch_size, sids, progress)
    gen_takes = []
    for seq, poses, ref in zip(seqs, generated, ref_takes):
        world = world_positions(poses, seq, fdef)  # (S, tau + T, J, 3): the real context, then T generated
        gen_takes.append(dataclasses.replace(ref, motions=world))
    gen_row, gen_feats = row_metrics(gen_takes, roles, pipeline.fps, cfg, pipeline.data_config)
    rows = {REFERENCE: ref_row, GENERATED: gen_row}
    clean_feats = None
    if cleanup and contact_spec_for(fdef, pipeline.profile) is None:
        log(f"no cleaned row: profile {pipeline.profile.name!r} defines no foot contacts")
        cleanup = False
    if cleanup:
        clean_takes = [dataclasses.replace(ref, motions=cleaned_positions(poses, seq, fdef, pipeline.profile))
                       for seq, poses, ref in zip(seqs, generated, ref_takes, strict=True)]
        rows[CLEANED], clean_feats = row_metrics(clean_takes, roles, pipeline.fps, cfg, pipeline.data_config)
    setup = GeneratorSetup(ckpt, pipeline, Path(data_dir), dict(baseline_options or {}), log, progress)
    other_feats, labels = _baseline_rows(rows, baselines, setup, seqs, ref_takes, roles, cfg, tau, la, cleanup)
    _frechet_rows(rows, ref_feats, gen_feats, cfg, clean_feats, other_feats)
    notes = data_warnings(rows, seqs, tau, pipeline.fps, len(roles.names))
    for w in notes:
        warnings.warn(w, stacklevel=2)

    info = {
        "checkpoint": str(checkpoint), "step": ckpt.get("step"), "data_dir": str(data_dir), "files": len(seqs),
        "split": split, "fps": pipeline.fps, "profile": pipeline.profile.name, "representation": fdef.representation,
        "context_frames": tau, "lookahead": la, "num_samples": cfg.num_samples, "temperature": cfg.temperature,
        "seed": cfg.seed, "device": str(dev), "training_overlap": len(overlap),
        "data_hash": (ckpt.get("data") or {}).get("data_hash"), "config": to_dict(cfg),
        "seconds": round(time.perf_counter() - t0, 2), "warnings": notes, "baselines": labels,
    }
    result = EvaluationResult(info, nll, rows)
    if clips > 0:
        from .clips import take_clips

        result.clips = take_clips(seqs[:clips], generated[:clips], fdef, pipeline.profile, cleanup, tau)
    return result


def _cleaned_once(poses: np.ndarray, seq: FeatureSequence, fdef: FeatureDefinition, profile: Any) -> np.ndarray:
    """:func:`cleaned_positions`, computed once when every sample is the same (a deterministic generator)."""
    if poses.shape[0] > 1 and (poses == poses[:1]).all():
        return np.repeat(cleaned_positions(poses[:1], seq, fdef, profile), poses.shape[0], axis=0)
    return cleaned_positions(poses, seq, fdef, profile)


def _baseline_rows(rows: dict[str, dict], names: Sequence[str], setup: GeneratorSetup,
                   seqs: Sequence[FeatureSequence], ref_takes: Sequence[RowInputs], roles: JointRoles,
                   cfg: EvaluationConfig, tau: int, la: int, cleanup: bool = False
                   ) -> tuple[dict[str, list[np.ndarray]], dict[str, str]]:
    """One row per baseline generator, scored on the reference rows' takes and frames, and with
    ``cleanup`` a second one (``NAME-cleaned``) through the model's clean-up; returns (Fréchet
    window features per row, table label per row)."""
    feats, labels = {}, {}
    fdef = setup.pipeline.feature_def
    for name in names:
        t0 = time.perf_counter()
        gen = load_generator_factory(name)(setup)
        poses = gen.generate(seqs, tau, la, cfg.num_samples, cfg.seed)
        takes = [dataclasses.replace(ref, motions=world_positions(p, s, fdef))
                 for s, p, ref in zip(seqs, poses, ref_takes, strict=True)]
        label = str(getattr(gen, "label", name))
        key = row_name(name, label)
        labels[key] = label
        rows[key], feats[key] = row_metrics(takes, roles, setup.pipeline.fps, cfg, setup.pipeline.data_config)
        if cleanup:
            clean = [dataclasses.replace(ref, motions=_cleaned_once(p, s, fdef, setup.pipeline.profile))
                     for s, p, ref in zip(seqs, poses, ref_takes, strict=True)]
            labels[f"{key}-cleaned"] = f"{label}, cleaned up"
            rows[f"{key}-cleaned"], feats[f"{key}-cleaned"] = row_metrics(clean, roles, setup.pipeline.fps, cfg,
                                                                          setup.pipeline.data_config)
        setup.log(f"{labels[key]}: scored in {time.perf_counter() - t0:.1f} s")
    return feats, labels


def evaluate_reference(data_dir: str | Path, profile: str | Path | SkeletonProfile,
                       data_config: DataConfig | None = None, cfg: EvaluationConfig | None = None,
                       progress: bool = True) -> EvaluationResult:
    """The mocap row alone, for any BVH folder with a skeleton profile (no model).

    The files go through the same feature pipeline (``data_config``, default
    :class:`DataConfig` with this profile: 20 fps, positions), so numbers compare with a
    checkpoint's reference row at the same fps.
    """
    cfg = cfg or EvaluationConfig()
    prof = load_profile(profile)
    dc = dataclasses.replace(data_config or DataConfig(), profile=prof.name, representation="positions")
    pipeline = Pipeline(data_config=dc, profile=prof)
    files = list_files(data_dir, cfg.pattern, cfg.max_files)
    seqs, fdef = load_heldout(files, pipeline, cfg.max_seconds, progress)
    roles = JointRoles.of(fdef, prof)
    _, row, feats = _reference_rows(seqs, fdef, roles, pipeline, cfg, 0, 0)
    rows = {REFERENCE: row}
    _frechet_rows(rows, feats, None, cfg)
    notes = data_warnings(rows, seqs, 0, pipeline.fps, len(roles.names))
    for w in notes:
        warnings.warn(w, stacklevel=2)
    info = {"checkpoint": None, "data_dir": str(data_dir), "files": len(seqs), "fps": pipeline.fps,
            "profile": prof.name, "representation": "positions", "context_frames": 0, "lookahead": 0,
            "num_samples": None, "temperature": None, "config": to_dict(cfg), "warnings": notes}
    return EvaluationResult(info, None, rows)


__all__ = ["CLEANED", "cleaned_positions", "data_warnings", "Pipeline", "JointRoles", "RowInputs", "EvaluationResult",
           "EvaluationError", "list_files",
           "load_heldout", "crop", "world_positions", "training_overlap", "heldout_nll", "generate_along_paths",
           "row_metrics", "motion_heading", "evaluate_checkpoint", "evaluate_reference", "format_table", "METRICS"]
