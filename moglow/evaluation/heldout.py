"""Held-out data for ``moglow evaluate``: which files, read with the checkpoint's own pipeline.

- :class:`Pipeline`: how motion becomes features and back, all taken from the checkpoint
  (data config, skeleton profile, feature definition, scalers; nothing is re-fitted).
- :func:`list_files` / :func:`split_files`: the held-out BVH files (a folder, or one split of
  the checkpoint's own data); :func:`training_overlap`: those that were training files.
- :func:`load_heldout` / :func:`crop`: their features, optionally cropped.
- :func:`world_positions` / :func:`cleaned_positions`: poses along a take's path as world
  joint positions (the raw model's, and on the skeleton with the feet cleaned up).
"""
from __future__ import annotations

import dataclasses
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from collections.abc import Sequence

import numpy as np

from data_pipeline.bvh import read_bvh
from data_pipeline.config import DataConfig
from data_pipeline.errors import MoglowError
from data_pipeline.features import (FeatureDefinition, FeatureSequence, extract_features, feature_definition,
                                    reconstruct_world_positions)
from data_pipeline.profiles import ProfileError, SkeletonProfile
from data_pipeline.scaler import Scaler


class EvaluationError(MoglowError, RuntimeError):
    """The evaluation cannot run (no files, incompatible skeleton, takes too short, ...)."""


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
    def from_checkpoint(cls, ckpt: dict) -> Pipeline:
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

        changed = [str(f) for f, (_, sha) in zip(files, entries, strict=True) if sha and file_sha256(f) != sha]
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



__all__ = ["EvaluationError", "Pipeline", "list_files", "split_files", "load_heldout", "crop", "world_positions",
           "cleaned_positions", "training_overlap"]
