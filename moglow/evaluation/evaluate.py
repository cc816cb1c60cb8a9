"""``moglow evaluate``: the numbers a motion paper puts in its table, for a checkpoint on held-out BVH files.

Steps:

1. Read the held-out BVH files and extract their features with the *checkpoint's own*
   pipeline (its data config, skeleton profile, feature definition and scalers; nothing is
   re-fitted), optionally cropped to ``max_seconds`` (:mod:`moglow.evaluation.heldout`).
2. Held-out NLL with data dropout off, in nats and bits per frame
   (:func:`moglow.evaluation.likelihood.heldout_nll`).
3. For every take, ``num_samples`` motions generated along the take's own control path, seeded
   with its first ``tau`` real poses (:func:`moglow.evaluation.generation.generate_along_paths`).
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
import time
import warnings
from pathlib import Path
from typing import Any
from collections.abc import Callable, Sequence

import numpy as np
import torch

from data_pipeline.config import DataConfig
from data_pipeline.features import FeatureDefinition, FeatureSequence
from data_pipeline.profiles import SkeletonProfile, load_profile
from data_pipeline.typed_config import to_dict
from moglow.cleanup import contact_spec_for

from .config import EvaluationConfig
from .frechet_rows import add_frechet_rows
from .generation import generate_along_paths
from .generators import GeneratorSetup, load_generator_factory, row_name
from .heldout import (EvaluationError, Pipeline, cleaned_positions, list_files, load_heldout, split_files,
                      training_overlap, world_positions)
from .likelihood import heldout_nll
from .result import CLEANED, GENERATED, REFERENCE, EvaluationResult
from .rows import JointRoles, RowInputs, data_warnings, reference_rows, row_metrics


def _style_ids(seqs: Sequence[FeatureSequence], pipeline: Pipeline, model: torch.nn.Module) -> list[int]:
    if getattr(model, "style", None) is None:
        return [-1] * len(seqs)
    return [pipeline.style_names.index(s.style) if s.style in pipeline.style_names else -1 for s in seqs]


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
    from moglow.sampling import SamplingMeta, optimise_for_sampling
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
        raise EvaluationError(f"no held-out take in {data_dir} is longer than tau + lookahead + 4 = "
                              f"{tau + la + 4} frames")
    seqs = keep
    sids = _style_ids(seqs, pipeline, model)

    window = int(ckpt["config"]["train"]["seq_len"]) if cfg.nll_window is None else cfg.nll_window
    nll = heldout_nll(model, seqs, pipeline, window, cfg.batch_size, dev, sids)
    log(f"held-out NLL: {nll['nats_per_frame']:.3f} nats/frame ({nll['bits_per_frame']:.3f} bits/frame)")

    ref_takes, ref_row, ref_feats = reference_rows(seqs, fdef, roles, pipeline, cfg, tau, la)
    temperature = cfg.temperature
    if temperature is None:  # the model's own
        temperature = SamplingMeta.from_checkpoint(ckpt).default_temperature()
    generated = generate_along_paths(model, seqs, pipeline, cfg.num_samples, temperature, cfg.seed,
                                     cfg.batch_size, sids, progress)
    gen_takes = []
    for seq, poses, ref in zip(seqs, generated, ref_takes, strict=True):
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
    add_frechet_rows(rows, ref_feats, gen_feats, cfg, clean_feats, other_feats)
    notes = data_warnings(rows, seqs, tau, pipeline.fps, len(roles.names))
    for w in notes:
        warnings.warn(w, stacklevel=2)

    info = {
        "checkpoint": str(checkpoint), "step": ckpt.get("step"), "data_dir": str(data_dir), "files": len(seqs),
        "split": split, "fps": pipeline.fps, "profile": pipeline.profile.name, "representation": fdef.representation,
        "context_frames": tau, "lookahead": la, "num_samples": cfg.num_samples, "temperature": temperature,
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
    _, row, feats = reference_rows(seqs, fdef, roles, pipeline, cfg, 0, 0)
    rows = {REFERENCE: row}
    add_frechet_rows(rows, feats, None, cfg)
    notes = data_warnings(rows, seqs, 0, pipeline.fps, len(roles.names))
    for w in notes:
        warnings.warn(w, stacklevel=2)
    info = {"checkpoint": None, "data_dir": str(data_dir), "files": len(seqs), "fps": pipeline.fps,
            "profile": prof.name, "representation": "positions", "context_frames": 0, "lookahead": 0,
            "num_samples": None, "temperature": None, "config": to_dict(cfg), "warnings": notes}
    return EvaluationResult(info, None, rows)


__all__ = ["evaluate_checkpoint", "evaluate_reference"]
