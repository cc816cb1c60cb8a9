"""Self-contained, atomically written training checkpoints.

A checkpoint is one ``torch.save`` file holding only plain data and tensors (so it loads
with ``weights_only=True``, on any device):

    format        "moglow-checkpoint/1"
    config        the experiment config as a plain dict (see :mod:`moglow.config`)
    model         the model's state dict
    optimizer     the optimiser's state dict
    scheduler     the learning-rate schedule's state (:class:`moglow.lr_schedule.LRSchedule`)
    step          optimiser steps done
    rng           python / numpy / torch / CUDA generator states (:func:`rng_state`)
    sampler       the batch order's state (:class:`moglow.batches.StepBatchOrder`)
    data          what is needed to use the model without the training data: pose and
                  control dims, style names, scalers, skeleton, profile, feature
                  definition, data hash and the prepared-data folder (:func:`data_metadata`),
                  and ``start_bank``: real training context windows for sampling
                  (:mod:`moglow.start_bank`; None for data without feature sequences); shipped
                  models (:mod:`moglow.pretrained`) add ``split``: the names and sha256 of
                  the files of each data split
    trainer       counters (skipped steps, rollbacks, best validation NLL, wall time, ...)

Writing goes to a temporary file in the target's folder, is flushed and fsynced, then
renamed over the target (``os.replace``), so a crash leaves the old file or the new one,
never a broken one (:mod:`data_pipeline.output_files`); a kill leaves at most a hidden
``.latest.pt.*.tmp``, which ``--resume`` removes. A state holding NaN or infinity anywhere (model,
optimiser, scalers, start bank, ...) is never written.
"""
from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from data_pipeline.output_files import atomic_write, stale_temporaries
from data_pipeline.plain_data import to_plain
from data_pipeline.errors import MoglowError

FORMAT = "moglow-checkpoint/1"


class CheckpointError(MoglowError, RuntimeError):
    """A checkpoint cannot be written (non-finite values) or read (missing, wrong format)."""


def rng_state() -> dict:
    """Generator states of python ``random``, numpy's global RNG, torch (CPU) and CUDA."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "python": random.getstate(),
        "numpy": (kind, keys.tolist(), int(pos), int(has_gauss), float(cached)),
        "torch": torch.get_rng_state(),
        "cuda": [s for s in torch.cuda.get_rng_state_all()] if torch.cuda.is_available() else [],
    }


def set_rng_state(state: dict) -> None:
    """Restore what :func:`rng_state` recorded (CUDA states only where CUDA is present)."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"].cpu())
    if state.get("cuda") and torch.cuda.is_available():
        cuda = [s.cpu() for s in state["cuda"]]
        if len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda)


def non_finite_entries(state: Any, prefix: str = "") -> list[str]:
    """Names of the non-finite values anywhere in a (nested) checkpoint state.

    Looks into dicts, lists and tuples; checks floating-point tensors and numpy arrays (NaN or
    infinity in any element) and Python floats. Names are dotted paths (``data.scaler.std``).
    """
    bad: list[str] = []
    if isinstance(state, torch.Tensor):
        if state.is_floating_point() and not bool(torch.isfinite(state).all()):
            bad.append(prefix.rstrip("."))
    elif isinstance(state, np.ndarray):
        if np.issubdtype(state.dtype, np.floating) and not bool(np.isfinite(state).all()):
            bad.append(prefix.rstrip("."))
    elif isinstance(state, float):
        if not math.isfinite(state):
            bad.append(prefix.rstrip("."))
    elif isinstance(state, dict):
        for key, value in state.items():
            bad.extend(non_finite_entries(value, f"{prefix}{key}."))
    elif isinstance(state, (list, tuple)):
        if all(isinstance(v, (bool, int, float, str)) or v is None for v in state):  # a flat list: one name
            if any(isinstance(v, float) and not math.isfinite(v) for v in state):
                bad.append(prefix.rstrip("."))
        else:
            for i, value in enumerate(state):
                bad.extend(non_finite_entries(value, f"{prefix}{i}."))
    return bad


def remove_stale_temporaries(run_dir: str | Path, names: tuple[str, ...] = ("latest.pt", "best.pt")) -> list[Path]:
    """Delete the temporary files a process killed while writing a checkpoint left in ``run_dir``
    (``.latest.pt.*.tmp``); returns what was removed. Only call it when no other process is
    writing into the folder."""
    removed = []
    for name in names:
        for tmp in stale_temporaries(run_dir, name):
            tmp.unlink(missing_ok=True)
            removed.append(tmp)
    return removed


def save_checkpoint(state: dict, path: str | Path) -> Path:
    """Write ``state`` atomically to ``path``; refuse if any value in it is not finite.

    Every tensor, array and float is checked (model, optimiser, scalers, start bank, trainer
    counters, ...), so a checkpoint never holds a NaN.

    Raises:
        CheckpointError: naming the non-finite entries; nothing is written then.
    """
    path = Path(path)
    bad = non_finite_entries(state)
    if bad:
        raise CheckpointError(f"refusing to write {path}: non-finite values in {', '.join(bad[:8])}"
                              + (f" and {len(bad) - 8} more" if len(bad) > 8 else ""))
    state = {"format": FORMAT, **state}
    with atomic_write(path) as f:
        torch.save(state, f)
    return path


def load_error_summary(e: BaseException) -> str:
    """One line for why ``torch.load(weights_only=True)`` failed (torch's own message is a page)."""
    text = str(e)
    for line in text.splitlines():
        if "WeightsUnpickler error:" in line:
            return ("it holds objects other than tensors and plain data, which are never unpickled: "
                    + line.split("WeightsUnpickler error:", 1)[1].strip().split(". Please use")[0])
    first = next((ln.strip() for ln in text.splitlines() if ln.strip()), type(e).__name__)
    return first[:300]


def resolve_checkpoint(spec: str | Path, prefer: str = "best") -> Path:
    """The ``.pt`` file a ``--checkpoint`` argument names: a file as given, or a run folder's
    ``best.pt`` (else ``latest.pt``; ``prefer="latest"``: its ``latest.pt``, as ``--resume`` needs).
    Every command resolves checkpoints here, so every form works wherever a checkpoint is taken;
    ``pretrained:NAME`` is a model shipped in the package (:mod:`moglow.pretrained`, no network)."""
    from moglow.pretrained import is_pretrained, resolve

    if is_pretrained(spec):
        try:
            return resolve(spec)
        except FileNotFoundError as e:
            raise CheckpointError(str(e)) from None
    path = Path(spec).expanduser()
    if path.is_dir():
        first, second = ("best.pt", "latest.pt") if prefer == "best" else ("latest.pt", "best.pt")
        if (path / first).exists() or not (path / second).exists():
            return path / first
        return path / second
    return path


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu", prefer: str = "latest") -> dict:
    """Read a checkpoint written by :func:`save_checkpoint` onto ``map_location``.

    ``path`` is anything :func:`resolve_checkpoint` takes (a run folder: its ``latest.pt`` by default).
    """
    path = resolve_checkpoint(path, prefer=prefer)
    if not path.exists():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # noqa: BLE001 - re-raised with the file name
        raise CheckpointError(f"{path}: not a readable checkpoint ({load_error_summary(e)})") from e
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a MoGlow checkpoint (format {state.get('format') if isinstance(state, dict) else None!r})")
    return state


def data_metadata(data: Any) -> dict:
    """What a checkpoint keeps of a :class:`data_pipeline.prepare.PreparedData` (plain data).

    Keys: ``pose_dim``, ``control_dim``, ``style_names``, ``data_hash``, ``prepared_dir``,
    ``scaler``, ``control_scaler``, ``skeleton``, ``profile``, ``feature_def``; each taken
    from the attribute of the same name when the object has it (else None).
    """
    meta = {}
    for name in ("pose_dim", "control_dim", "style_names", "data_hash", "scaler", "control_scaler",
                 "profile", "feature_def"):
        meta[name] = to_plain(getattr(data, name, None), keep=(torch.Tensor,), keep_tuples=True)
    skeleton = getattr(data, "skeleton", None)
    if skeleton is not None:
        from data_pipeline.features import skeleton_to_dict

        skeleton = skeleton_to_dict(skeleton)
    meta["skeleton"] = skeleton
    root = getattr(data, "root", None) or getattr(data, "path", None) or getattr(data, "directory", None)
    meta["prepared_dir"] = str(root) if root is not None else None
    return meta


def skeleton_from_dict(d: dict):
    """Rebuild the :class:`data_pipeline.skeleton.Skeleton` stored in ``checkpoint["data"]["skeleton"]``."""
    from data_pipeline.features import skeleton_from_dict as from_plain

    return from_plain(d)


def load_model(path: str | Path, map_location: str | torch.device = "cpu", eval_mode: bool = True):
    """Build the trained model of a checkpoint: ``(model, checkpoint)``.

    ``path`` is a ``.pt`` file, a run folder (``best.pt`` if present, else ``latest.pt``) or
    ``pretrained:NAME`` (a model shipped in the package). The model is on ``map_location``
    and in eval mode unless ``eval_mode`` is False.
    """
    ckpt = load_checkpoint(resolve_checkpoint(path, prefer="best"), map_location)
    from moglow.config import experiment_from_dict
    from moglow.model import build_model

    cfg = experiment_from_dict(ckpt["config"])
    data = ckpt["data"]
    model = build_model(cfg.model, int(data["pose_dim"]), int(data["control_dim"]), data["style_names"])
    model.load_state_dict(ckpt["model"])
    model.to(map_location)
    model.train(not eval_mode)
    return model, ckpt
