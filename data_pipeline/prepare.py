"""``moglow prepare``: BVH folder -> one prepared dataset directory, reused while nothing changed.

Steps: list the files (``cfg.data_dir`` / ``cfg.pattern``), hash them (sha256), split them by
file (:mod:`data_pipeline.splits`), extract features in a process pool (mirrored copies of the
*training* files only, when ``cfg.mirror``), fit the scalers on the training split, write::

    out_dir/
      manifest.json            data hash, per-file sha256 / split / labels / frames, sequences per split
      config.yaml              the data config (``data:`` section), reusable with --config
      profile.yaml             the skeleton profile used
      skeleton.json            the source skeleton (joints and End Sites, file units)
      feature_definition.json  what the feature columns mean (data_pipeline.features.FeatureDefinition)
      scaler.json              {"poses": {mean, std}, "control": {mean, std}}, fitted on train only
      train.npz val.npz test.npz
                               poses (N, D) float32, control (N, 3) float32 (all sequences of the
                               split, concatenated), offsets (S+1,) int64 (sequence s is rows
                               offsets[s]:offsets[s+1]), root_start (S, 3) float64, mirrored (S,) bool,
                               passthrough (N, K) float64 (rotations representation only)

The per-file work (read, extract features, in a process pool) is :mod:`data_pipeline.prepare_workers`;
the split files are written and read by :mod:`data_pipeline.prepared_npz`.

The *data hash* covers the format version, the data config (minus where the folder is), the
profile and every file's relative path and sha256. When it matches the one in an existing
``manifest.json``, nothing is redone ("up to date").

Example::

    >>> out = prepare_dataset(cfg, "../shared/mocap/bandai-namco", "prepared/bn")   # doctest: +SKIP
    >>> data = PreparedData.load(out)                                                  # doctest: +SKIP
    >>> train = data.dataset("train", seq_len=60, tau=10, dropout=0.9, seed=0)       # doctest: +SKIP
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from collections.abc import Callable, Sequence

import yaml

from .config import DataConfig, resolve_data_dir
from .file_patterns import match_files
from .features import FeatureDefinition, FeatureSequence, feature_definition, skeleton_from_dict
from .prepare_workers import FileResult, file_error_text, raise_file_error, run_tasks
from .prepared_npz import read_split, write_split
from .profiles import SkeletonProfile, load_profile
from .scaler import Scaler
from .skeleton import Skeleton
from .splits import SPLITS, split_files
from .styles import label_ids, parse_labels
from .resources import resolve_config
from .typed_config import ConfigError, apply_overrides, from_dict, read_yaml, to_dict
from .errors import MissingKeyError, MoglowError

#: bump when the prepared layout or the meaning of its arrays changes (invalidates old data)
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
#: DataConfig fields that do not change the prepared data (where the files are, error policy)
_NOT_HASHED = ("data_dir", "skip_bad")


class PrepareError(MoglowError, RuntimeError):
    """Preparation cannot go on (bad file, no files, incompatible skeletons, ...)."""


# ============================================================================ config and files
def load_data_config(path: str | Path, overrides: Sequence[str] = ()) -> DataConfig:
    """The ``data:`` section of an experiment YAML (a path or a built-in name) as a :class:`DataConfig`.

    Other top-level sections (``model:``, ``train:``, ...) are ignored here; keys inside
    ``data:`` are checked strictly (a misspelt key is an error naming it and the file). A
    relative ``data_dir`` is taken from the file's folder; ``overrides`` are ``data.KEY=VALUE``.
    """
    path = resolve_config(path)
    doc = read_yaml(path)
    if isinstance(doc, dict):
        resolve_data_dir(doc.get("data"), path.parent)
        doc = apply_overrides(doc, overrides)
    if not isinstance(doc, dict) or "data" not in doc:
        keys = ", ".join(doc) if isinstance(doc, dict) else type(doc).__name__
        raise ConfigError(f"{path}: no 'data:' section (top-level keys: {keys or 'none'})")
    try:
        return from_dict(DataConfig, doc["data"], "data")
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None


def list_data_files(data_dir: str | Path, cfg: DataConfig, log: Callable[[str], None] | None = None) -> list[str]:
    """Relative ``/``-separated paths of the files ``cfg.pattern`` (one glob or several) selects in
    ``data_dir`` (``**`` recurses), sorted; at most ``cfg.max_files``. ``log`` gets how many files
    each of several patterns matched."""
    root = Path(data_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"data folder not found: {root}")
    files = sorted(p.relative_to(root).as_posix() for p in match_files(root, cfg.pattern, log))
    if not files:
        raise FileNotFoundError(f"no files matching {cfg.pattern!r} in {root}")
    return files[: cfg.max_files] if cfg.max_files else files


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def code_hash() -> str:
    """sha256 of the ``data_pipeline`` sources: recorded in the manifest, so that reusing data
    prepared by different code can be pointed out (it does not by itself force re-preparing)."""
    h = hashlib.sha256()
    for p in sorted(Path(__file__).parent.glob("*.py")):
        h.update(p.name.encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


def compute_data_hash(cfg: DataConfig, profile: SkeletonProfile, file_hashes: dict[str, str]) -> str:
    """sha256 over the format version, the config (minus :data:`_NOT_HASHED`), the profile and
    the sorted ``(relative path, sha256)`` pairs."""
    conf = {k: v for k, v in to_dict(cfg).items() if k not in _NOT_HASHED}
    blob = json.dumps({"format": FORMAT_VERSION, "config": conf, "profile": to_dict(profile),
                       "files": sorted(file_hashes.items())}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()



# ============================================================================ prepare
def prepare_dataset(cfg: DataConfig, data_dir: str | Path | None, out_dir: str | Path, skip_bad: bool = False,
                    progress: bool = True, *, force: bool = False, workers: int | None = None,
                    log: Callable[[str], None] | None = None) -> Path:
    """Prepare (or reuse) the dataset described by ``cfg`` from the files in ``data_dir``.

    Args:
        cfg: the data configuration.
        data_dir: the BVH folder; None: ``cfg.data_dir``.
        out_dir: the prepared dataset directory (created; replaced as a whole when stale).
        skip_bad: skip unreadable files with a warning (also on when ``cfg.skip_bad``).
        progress: tqdm progress bar over files.
        force: prepare again even when the data hash matches.
        workers: processes for feature extraction (default: the CPU count, at most 8).
        log: where one-line messages go (default: ``print`` when ``progress``, else nowhere).
    Returns:
        ``out_dir`` as a Path.
    Raises:
        BVHError / ProfileError: a bad file (unless skipping); PrepareError: nothing usable, skeletons
        that differ in topology, or ``out_dir`` holding something that is not a prepared dataset.
    """
    t0 = time.perf_counter()
    log = log or (print if progress else (lambda s: None))
    data_dir = Path(cfg.data_dir if data_dir is None else data_dir)
    out_dir = Path(out_dir)
    skip_bad = skip_bad or cfg.skip_bad
    profile = load_profile(cfg.profile)

    files = list_data_files(data_dir, cfg, log)
    hashes = {rel: file_sha256(data_dir / rel) for rel in files}
    data_hash = compute_data_hash(cfg, profile, hashes)

    manifest_path = out_dir / MANIFEST
    if out_dir.exists():
        old = _read_manifest(manifest_path) if is_prepared_dir(out_dir) else None
        if old is None and any(out_dir.iterdir()):
            raise PrepareError(f"{out_dir} exists and is not a prepared dataset (no readable {MANIFEST}); "
                               "refusing to overwrite it; choose another --out")
        if old is not None and not force and old.get("data_hash") == data_hash and _outputs_present(out_dir, old):
            log(f"up to date: {out_dir} (data hash {data_hash[:12]}, {len(files)} files)")
            if old.get("code_hash") != code_hash():
                log("note: the data_pipeline code changed since this was prepared; --force prepares it again")
            return out_dir

    # ---- labels and splits (by file, before anything is read)
    pattern = profile.style_pattern
    labels: dict[str, dict[str, str | None]] = {}
    for rel in files:
        lab = parse_labels(rel, pattern) or {}
        style = lab.get("style")
        labels[rel] = {"style": cfg.style_aliases.get(style, style) if style else None,
                       "content": lab.get("content")}
    split_of = {rel: s for s, names in split_files(files, cfg.split, labels).items() for rel in names}

    # ---- features (mirrored copies of training files only)
    workers = workers or min(os.cpu_count() or 1, 8)
    tasks = [(str(data_dir / rel), rel, bool(cfg.mirror and split_of[rel] == "train"), cfg, profile)
             for rel in files]
    results = run_tasks(tasks, workers, progress)

    bad: dict[str, str] = {}
    good: list[FileResult] = []
    for r in results:
        if r.error is None:
            good.append(r)
        elif skip_bad:
            bad[r.rel] = file_error_text(r.error)
            warnings.warn(f"skipping bad file: {file_error_text(r.error)}", stacklevel=2)
        else:
            raise_file_error(r.error)
    if not any(split_of[r.rel] == "train" for r in good):
        raise PrepareError(f"no readable training file among the {len(files)} files in {data_dir}"
                           + (f" ({len(bad)} bad)" if bad else ""))

    skeleton_dict = next(r.skeleton for r in good if split_of[r.rel] == "train")
    skeleton = skeleton_from_dict(skeleton_dict)
    for r in good:
        if r.skeleton["names"] != skeleton_dict["names"] or r.skeleton["parents"] != skeleton_dict["parents"]:
            raise PrepareError(f"{r.rel}: skeleton differs in joints or hierarchy from the other files; "
                               "prepare different skeletons separately")
    fdef = feature_definition(skeleton, profile, cfg)

    by_split: dict[str, list[FeatureSequence]] = {s: [] for s in SPLITS}
    for r in good:
        by_split[split_of[r.rel]].extend(r.sequences)
    pose_scaler = Scaler.fit(s.poses for s in by_split["train"])
    control_scaler = Scaler.fit(s.control for s in by_split["train"])

    # ---- write into a temporary sibling, then swap it in
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_dir.parent / f".{out_dir.name}.tmp-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    frames_of = {r.rel: r.sequences[0].num_frames for r in good}
    source_frames_of = {r.rel: r.source_frames for r in good}
    split_info = {}
    for s in SPLITS:
        split_info[s] = write_split(tmp / f"{s}.npz", by_split[s], fdef, labels)
    manifest = {
        "format_version": FORMAT_VERSION,
        "data_hash": data_hash,
        "code_hash": code_hash(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "data_dir": str(data_dir.resolve()),
        "profile": profile.name,
        "representation": cfg.representation,
        "fps": float(cfg.fps),
        "mirror": bool(cfg.mirror),
        "pose_dim": fdef.pose_dim,
        "control_dim": fdef.control_dim,
        "style_names": sorted(label_ids(v["style"] for v in labels.values())),
        "content_names": sorted(label_ids(v["content"] for v in labels.values())),
        "num_files": len(files),
        "files": [{"path": rel, "sha256": hashes[rel], "split": split_of[rel], **labels[rel],
                   "source_frames": source_frames_of.get(rel),
                   "frames": frames_of.get(rel), "status": "bad: " + bad[rel] if rel in bad else "ok"}
                  for rel in files],
        "skipped_bad": sorted(bad),
        "splits": split_info,
        "prepare_seconds": round(time.perf_counter() - t0, 3),
    }
    _write_json(tmp / "skeleton.json", skeleton_dict)
    _write_json(tmp / "feature_definition.json", fdef.to_dict())
    _write_json(tmp / "scaler.json", {"poses": pose_scaler.to_dict(), "control": control_scaler.to_dict()})
    (tmp / "config.yaml").write_text(yaml.safe_dump({"data": to_dict(cfg)}, sort_keys=False))
    (tmp / "profile.yaml").write_text(yaml.safe_dump(to_dict(profile), sort_keys=False))
    _write_json(tmp / MANIFEST, manifest)  # last: its presence marks a complete directory

    if out_dir.exists():
        trash = out_dir.parent / f".{out_dir.name}.old-{os.getpid()}"
        out_dir.rename(trash)
        tmp.rename(out_dir)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        tmp.rename(out_dir)
    n_seq = {s: len(by_split[s]) for s in SPLITS}
    log(f"prepared {out_dir}: {len(good)} files ({', '.join(f'{s} {n_seq[s]} seq' for s in SPLITS)}"
        f"{', mirrored train' if cfg.mirror else ''}), {len(bad)} skipped, "
        f"{time.perf_counter() - t0:.1f} s, data hash {data_hash[:12]}")
    return out_dir



def _write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, indent=1))


def is_prepared_dir(path: str | Path) -> bool:
    """True if ``path`` holds a prepared dataset (its manifest has this module's keys; another
    tool's ``manifest.json``, e.g. ``moglow generate-data``'s, does not count)."""
    m = _read_manifest(Path(path) / MANIFEST)
    return m is not None and "data_hash" in m and "format_version" in m


def _read_manifest(path: Path) -> dict | None:
    try:
        m = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return m if isinstance(m, dict) else None


def _outputs_present(out_dir: Path, manifest: dict) -> bool:
    needed = ["skeleton.json", "feature_definition.json", "scaler.json", "config.yaml", "profile.yaml"]
    needed += [info["file"] for info in manifest.get("splits", {}).values()]
    return manifest.get("format_version") == FORMAT_VERSION and all((out_dir / n).is_file() for n in needed)


# ============================================================================ loading
@dataclass
class PreparedData:
    """A prepared dataset directory, loaded.

    Attributes:
        path: the directory.
        config: the :class:`DataConfig` it was prepared with.
        feature_def: what the pose and control columns mean.
        scaler: the pose scaler (D,), fitted on the training split (mirrored copies included).
        control_scaler: the control scaler (C,), fitted likewise.
        skeleton: the source skeleton (file units).
        profile: the skeleton profile.
        data_hash: hash of config + profile + files (see :func:`compute_data_hash`).
        splits: ``{"train"|"val"|"test": [FeatureSequence]}``, un-normalised; arrays are views
            into one block per split.
        style_names: sorted style labels of all files (id = index); content_names: the same
            for content labels (walk, run, ...).
        manifest: the parsed ``manifest.json``.
    """

    path: Path
    config: DataConfig
    feature_def: FeatureDefinition
    scaler: Scaler
    control_scaler: Scaler
    skeleton: Skeleton
    profile: SkeletonProfile
    data_hash: str
    splits: dict[str, list[FeatureSequence]]
    style_names: list[str]
    content_names: list[str]
    manifest: dict[str, Any]

    @property
    def pose_dim(self) -> int:
        return self.feature_def.pose_dim

    @property
    def control_dim(self) -> int:
        return self.feature_def.control_dim

    @classmethod
    def load(cls, path: str | Path) -> "PreparedData":
        """Load a directory written by :func:`prepare_dataset`."""
        path = Path(path)
        manifest = _read_manifest(path / MANIFEST)
        if manifest is None:
            raise FileNotFoundError(f"{path} is not a prepared dataset (no readable {MANIFEST}); "
                                    "run `moglow prepare` first")
        if manifest.get("format_version") != FORMAT_VERSION:
            raise PrepareError(f"{path}: prepared with format {manifest.get('format_version')}, this code reads "
                               f"format {FORMAT_VERSION}; prepare it again (moglow prepare --force)")
        doc = yaml.safe_load((path / "config.yaml").read_text())
        config = from_dict(DataConfig, doc["data"], "data")
        fdef = FeatureDefinition.from_dict(json.loads((path / "feature_definition.json").read_text()))
        sc = json.loads((path / "scaler.json").read_text())
        fps = float(manifest["fps"])
        splits: dict[str, list[FeatureSequence]] = {}
        for s, info in manifest["splits"].items():
            splits[s] = read_split(path / info["file"], info["sequences"], fps)
        return cls(path=path, config=config, feature_def=fdef, scaler=Scaler.from_dict(sc["poses"]),
                   control_scaler=Scaler.from_dict(sc["control"]),
                   skeleton=skeleton_from_dict(json.loads((path / "skeleton.json").read_text())),
                   profile=load_profile(path / "profile.yaml"), data_hash=manifest["data_hash"], splits=splits,
                   style_names=list(manifest["style_names"]), content_names=list(manifest["content_names"]),
                   manifest=manifest)

    def style_id(self, style: str | None) -> int:
        """Integer id of a style label (index in :attr:`style_names`), -1 for None/unknown."""
        return self.style_names.index(style) if style in self.style_names else -1

    def dataset(self, split: str, seq_len: int, tau: int, lookahead: int = 0, dropout: float = 0.0,
                seed: int | None = None, stride: int = 1):
        """A :class:`~data_pipeline.dataset.WindowDataset` over one split, normalised with the
        training scalers and labelled with style ids. Data dropout is a training augmentation:
        asking for it on ``val`` or ``test`` is an error (they are evaluated without it)."""
        from .dataset import WindowDataset

        if split not in self.splits:
            raise MissingKeyError(f"no split {split!r}; have {', '.join(self.splits)}")
        if dropout and split != "train":
            raise ValueError(f"data dropout is for training only; the {split} split is evaluated with dropout 0")
        return WindowDataset(self.splits[split], seq_len=seq_len, tau=tau, lookahead=lookahead, dropout=dropout,
                             seed=seed, scaler=self.scaler, control_scaler=self.control_scaler,
                             style_names=self.style_names, stride=stride)
