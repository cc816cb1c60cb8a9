"""Motion matching as a ``moglow evaluate`` generator (entry point ``moglow.generators``: ``motion-matching``).

The database is the checkpoint's *training* split, prepared with the checkpoint's own pipeline
(the features the model trained on: its prepared folder when it still exists, else the training
files read again from the split the checkpoint stores, mirrored copies included when the data
config mirrors). Options (``moglow evaluate --baseline-set KEY=VALUE``) are the fields of
:class:`~baselines.motion_matching.database.MatchingSettings`.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from data_pipeline.bvh import read_bvh
from data_pipeline.errors import InputError
from data_pipeline.features import FeatureDefinition, FeatureSequence, extract_features
from data_pipeline.profiles import ProfileError
from moglow.evaluation.generators import GeneratorSetup
from moglow.evaluation.heldout import EvaluationError, Pipeline, split_files
from moglow.evaluation.rows import JointRoles

from .controller import MatchingController
from .database import MatchingDatabase, MatchingSettings


def training_clips(ckpt: dict, pipeline: Pipeline, data_dir: str | Path | None = None, progress: bool = False,
                   log: Callable[[str], None] = print) -> list[FeatureSequence]:
    """The checkpoint's training takes as un-normalised features (mirrored copies when its data mirrors)."""
    prepared = (ckpt.get("data") or {}).get("prepared_dir")
    if pipeline.feature_def is None:
        raise InputError("motion matching needs a checkpoint's feature definition")
    if prepared and (Path(prepared) / "manifest.json").is_file():
        from data_pipeline.prepare import PreparedData

        data = PreparedData.load(prepared)
        if data.feature_def.columns == pipeline.feature_def.columns:
            log(f"motion matching: database = the {len(data.splits['train'])} training sequences in {prepared}")
            return list(data.splits["train"])
    try:
        _, files = split_files(ckpt, "train", data_dir)
    except EvaluationError:  # the held-out folder may not hold the training files: try the recorded folder
        _, files = split_files(ckpt, "train", None)
    mirrors = (False, True) if pipeline.data_config.mirror else (False,)
    it: Sequence[Path] = files
    if progress:
        from data_pipeline.progress import progress_bar
        it = progress_bar(files, desc="motion-matching database", unit="file")
    clips = []
    for path in it:
        motion = read_bvh(path)
        for m in mirrors:
            seq = extract_features(motion, pipeline.profile, pipeline.data_config, mirror=m)
            seq.source = str(path)
            clips.append(seq)
    log(f"motion matching: database = {len(files)} training files ({len(clips)} sequences with mirrors)"
        if len(mirrors) == 2 else f"motion matching: database = {len(files)} training files")
    return clips


def ankles_of(fdef: FeatureDefinition, pipeline: Pipeline) -> list[str]:
    """The model-joint names of the left and right ankle (the first foot joint of each side)."""
    roles = JointRoles.of(fdef, pipeline.profile)
    if roles.ankles is None:
        raise ProfileError(f"profile {pipeline.profile.name!r}: motion matching needs a left and a right ankle in feet")
    return [roles.names[roles.ankles[0]], roles.names[roles.ankles[1]]]


def settings_from(options: dict[str, Any]) -> MatchingSettings:
    """:class:`MatchingSettings` with ``options`` (strings from the command line are converted)."""
    names = {f.name: f for f in dataclasses.fields(MatchingSettings)}
    unknown = sorted(set(options) - set(names))
    if unknown:
        raise InputError(f"unknown motion-matching option(s) {unknown}; known: {sorted(names)}")
    base = MatchingSettings()
    values: dict[str, Any] = {}
    for k, v in options.items():
        cur = getattr(base, k)
        if isinstance(v, str):
            if isinstance(cur, bool):
                v = v.lower() in ("1", "true", "yes")
            elif isinstance(cur, int):
                v = int(v)
            elif isinstance(cur, float):
                v = float(v)
            elif isinstance(cur, tuple):
                v = tuple(float(x) for x in v.split(","))
            elif isinstance(cur, dict):
                v = {**cur, **{a: float(b) for a, b in (kv.split("=") for kv in v.split(","))}}
        values[k] = v
    out = dataclasses.replace(base, **values)
    out.validate()
    return out


class MotionMatchingGenerator:
    """A :class:`moglow.evaluation.generators.PathGenerator`: motion matching over a database."""

    label = "motion matching"

    def __init__(self, db: MatchingDatabase) -> None:
        self.db = db
        self.controller = MatchingController(db)

    def generate(self, seqs: Sequence[FeatureSequence], context: int, lookahead: int, num_samples: int,
                 seed: int) -> list[np.ndarray]:
        out = []
        for i, seq in enumerate(seqs):
            rng = np.random.default_rng([int(seed), i])
            first = self.controller.play(seq, context, lookahead, rng=rng)
            if self.db.settings.top_k == 1:  # deterministic: every sample is the same
                out.append(np.repeat(first[None], num_samples, axis=0))
                continue
            rest = [self.controller.play(seq, context, lookahead, rng=rng) for _ in range(num_samples - 1)]
            out.append(np.stack([first, *rest]))
        return out


def make_generator(setup: GeneratorSetup) -> MotionMatchingGenerator:
    """The ``motion-matching`` generator for a checkpoint (see the module docstring)."""
    pipeline = setup.pipeline
    fdef = pipeline.feature_def
    if fdef is None:
        raise InputError("motion matching needs a checkpoint's feature definition")
    settings = settings_from(setup.options)
    clips = training_clips(setup.checkpoint, pipeline, setup.data_dir, setup.progress, setup.log)
    return MotionMatchingGenerator(MatchingDatabase(clips, fdef, ankles_of(fdef, pipeline), settings))


__all__ = ["training_clips", "ankles_of", "settings_from", "MotionMatchingGenerator", "make_generator"]
