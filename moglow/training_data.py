"""What the trainer reads from prepared data: the training and validation window datasets
(:func:`make_datasets`) and the start bank a checkpoint keeps for sampling (:func:`start_bank_for`)."""
from __future__ import annotations

import warnings
from typing import Any

from data_pipeline.errors import InputError
from moglow.config import ExperimentConfig
from moglow.start_bank import StartBank

__all__ = ["make_datasets", "start_bank_for"]


def make_datasets(cfg: ExperimentConfig, data: Any):
    """(train, val) :class:`data_pipeline.dataset.WindowDataset`; val is None without held-out files.

    Both are built with dropout 0: the trainer draws the training masks itself
    (:func:`moglow.batches.dropout_keep_mask`), validation never drops.
    """
    from data_pipeline.dataset import WindowDataset

    tc, mc = cfg.train, cfg.model
    common = dict(tau=mc.tau, lookahead=mc.lookahead, dropout=0.0, **_dataset_kwargs(data))
    train = WindowDataset(data.splits["train"], tc.seq_len, stride=tc.stride, **common)
    val_seqs = data.splits.get("val") or []
    val = None
    if val_seqs:
        try:
            val = WindowDataset(val_seqs, tc.seq_len, stride=tc.val_stride or tc.seq_len, **common)
        except InputError as e:  # every validation file shorter than one window
            warnings.warn(f"no validation: {e}")
    return train, val


def _dataset_kwargs(data: Any) -> dict:
    """Scalers and style names of prepared data, for WindowDataset (sequences there are un-normalised)."""
    kw: dict[str, Any] = {}
    if getattr(data, "normalised", False):
        return kw
    if getattr(data, "scaler", None) is not None:
        kw["scaler"] = data.scaler
    if getattr(data, "control_scaler", None) is not None:
        kw["control_scaler"] = data.control_scaler
    if getattr(data, "style_names", None):
        kw["style_names"] = list(data.style_names)
    return kw


def start_bank_for(data: Any, tau: int, seed: int = 0) -> dict | None:
    """The checkpoint's :class:`moglow.start_bank.StartBank` of training windows (plain data), or
    None when the data has no un-normalised training feature sequences long enough."""
    seqs = (getattr(data, "splits", None) or {}).get("train") or []
    if getattr(data, "normalised", False) or not seqs or not all(hasattr(s, "fps") for s in seqs):
        return None
    try:
        return StartBank.from_sequences(seqs, tau, seed=seed).to_dict()
    except InputError:  # no training sequence of tau frames
        return None
