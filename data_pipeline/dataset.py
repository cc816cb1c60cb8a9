"""A torch Dataset of training windows, cut lazily from whole sequences.

Only the sequences themselves are stored (one float32 array for all poses, one for all
control, plus a few integers per sequence), so memory grows with the number of frames,
not with frames × window length. A window is sliced when it is asked for.

Item layout (``W = tau + seq_len``, frames of one window at times ``s .. s+W-1``)::

    poses    (W, D)                   normalised poses; poses[:tau] is the context of the
                                      first target, targets are poses[tau:]
    control  (W + lookahead, C)       normalised control; control[i] belongs to poses[i],
                                      control[W:] are the ``lookahead`` future frames
    keep     (seq_len, tau) bool      keep[t, j] is False where data dropout replaces the
                                      context pose poses[t + j] of target poses[tau + t]
                                      by the mean pose (0 after normalising)
    style    () int64                 style id, -1 if none

Data dropout is drawn when the item is drawn. With ``seed`` set, the draw depends only on
``(seed, epoch, index)`` (call :meth:`WindowDataset.set_epoch` each epoch), so it is
reproducible whatever the worker count or shuffling; with ``seed=None`` it comes from
torch's global generator, which ``DataLoader`` seeds per worker from ``torch.manual_seed``.
"""
from __future__ import annotations

import warnings
from typing import Any
from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from .scaler import Scaler
from .styles import style_index
from .errors import InputError


class ShortSequenceWarning(UserWarning):
    """Some sequences are too short for one window and were left out."""


class WindowDataset(Dataset):
    """Windows of ``tau + seq_len`` frames (plus ``lookahead`` control frames).

    Args:
        sequences: objects with ``poses`` (F, D) and ``control`` (F, C) arrays (e.g.
            :class:`data_pipeline.features.FeatureSequence`) and optionally ``style``
            (str or None) or ``style_id`` (int). Already normalised unless scalers are given.
        seq_len: number of target frames per window.
        tau: number of context frames before the first target (autoregressive history).
        lookahead: number of future control frames appended after the window.
        dropout: data-dropout probability per (target frame, context slot); 0 turns it off
            (use 0 for validation and test).
        seed: makes dropout a function of ``(seed, epoch, index)``; None: torch's RNG.
        scaler: if given, poses are normalised with it (once, at construction).
        control_scaler: the same for control.
        style_names: sorted style names; a sequence's ``style`` string maps to its index.
        stride: distance in frames between the starts of consecutive windows.
    """

    def __init__(self, sequences: Sequence[Any], seq_len: int, tau: int, lookahead: int = 0,
                 dropout: float = 0.0, seed: int | None = None, *, scaler: Scaler | None = None,
                 control_scaler: Scaler | None = None, style_names: list[str] | None = None,
                 stride: int = 1) -> None:
        if seq_len < 1 or tau < 0 or lookahead < 0 or stride < 1:
            raise ValueError(f"need seq_len >= 1, tau >= 0, lookahead >= 0, stride >= 1; got "
                             f"seq_len={seq_len}, tau={tau}, lookahead={lookahead}, stride={stride}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.seq_len, self.tau, self.lookahead = int(seq_len), int(tau), int(lookahead)
        self.dropout, self.seed, self.stride = float(dropout), seed, int(stride)
        self.epoch = 0
        need = self.min_length

        kept = []
        self.skipped_sources: list[str] = []
        for i, s in enumerate(sequences):
            poses, control = np.asarray(s.poses), np.asarray(s.control)
            if poses.ndim != 2 or control.ndim != 2 or poses.shape[0] != control.shape[0]:
                raise ValueError(f"sequence {getattr(s, 'source', i)}: need poses (F, D) and control (F, C) "
                                 f"with the same F, got {poses.shape} and {control.shape}")
            if poses.shape[0] < need:
                self.skipped_sources.append(str(getattr(s, "source", i)))
            else:
                kept.append(s)
        self.num_skipped = len(self.skipped_sources)
        if self.num_skipped:
            warnings.warn(f"WindowDataset: skipped {self.num_skipped} of {self.num_skipped + len(kept)} "
                          f"sequences shorter than {need} frames (tau + seq_len + lookahead)",
                          ShortSequenceWarning, stacklevel=2)
        if not kept:
            raise InputError(f"WindowDataset: no sequence has the {need} frames one window needs "
                             f"(tau={tau} + seq_len={seq_len} + lookahead={lookahead})")

        dims = {(np.shape(s.poses)[1], np.shape(s.control)[1]) for s in kept}
        if len(dims) != 1:
            raise ValueError(f"sequences disagree on (pose dim, control dim): {sorted(dims)}")
        pose_dim, control_dim = dims.pop()
        lengths = np.array([np.shape(s.poses)[0] for s in kept], dtype=np.int64)
        # one float32 block per stream; sequences are copied in once, normalised on the way
        self.poses = np.empty((int(lengths.sum()), pose_dim), dtype=np.float32)
        self.control = np.empty((int(lengths.sum()), control_dim), dtype=np.float32)
        self.offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        for s, a, b in zip(kept, self.offsets[:-1], self.offsets[1:]):
            p, c = np.asarray(s.poses, dtype=np.float32), np.asarray(s.control, dtype=np.float32)
            self.poses[a:b] = scaler.transform(p) if scaler is not None else p
            self.control[a:b] = control_scaler.transform(c) if control_scaler is not None else c
        self.style_ids = np.array([self._style_id(s, style_names) for s in kept], dtype=np.int64)
        self.sources = [str(getattr(s, "source", i)) for i, s in enumerate(kept)]
        windows = (lengths - need) // self.stride + 1
        self.window_offsets = np.concatenate([[0], np.cumsum(windows)]).astype(np.int64)

    @staticmethod
    def _style_id(s: Any, style_names: list[str] | None) -> int:
        sid = getattr(s, "style_id", None)
        if sid is not None:
            return int(sid)
        style = getattr(s, "style", None)
        return style_index(style, style_names) if style_names is not None else -1

    @property
    def min_length(self) -> int:
        """Frames a sequence needs for one window: tau + seq_len + lookahead."""
        return self.tau + self.seq_len + self.lookahead

    @property
    def num_sequences(self) -> int:
        return len(self.sources)

    @property
    def pose_dim(self) -> int:
        return int(self.poses.shape[1])

    @property
    def control_dim(self) -> int:
        return int(self.control.shape[1])

    @property
    def nbytes(self) -> int:
        """Bytes held by the stored arrays (the dataset's memory, whatever tau and seq_len)."""
        return sum(a.nbytes for a in (self.poses, self.control, self.offsets, self.style_ids, self.window_offsets))

    def set_epoch(self, epoch: int) -> None:
        """Select the dropout draw of this epoch (only matters with ``seed`` set)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return int(self.window_offsets[-1])

    def locate(self, index: int) -> tuple[int, int]:
        """(sequence number, first frame within that sequence) of window ``index``."""
        n = len(self)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError(f"window index {index} out of range for {n} windows")
        seq = int(np.searchsorted(self.window_offsets, index, side="right")) - 1
        return seq, int(index - self.window_offsets[seq]) * self.stride

    def _keep(self, index: int) -> torch.Tensor:
        shape = (self.seq_len, self.tau)
        if self.dropout == 0.0:
            return torch.ones(shape, dtype=torch.bool)
        if self.seed is None:
            return torch.rand(shape) >= self.dropout
        rng = np.random.default_rng([int(self.seed), self.epoch, index])
        return torch.from_numpy(rng.random(shape) >= self.dropout)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        seq, first = self.locate(int(index))
        start = int(self.offsets[seq]) + first
        w = self.tau + self.seq_len
        return {
            "poses": torch.from_numpy(self.poses[start:start + w].copy()),
            "control": torch.from_numpy(self.control[start:start + w + self.lookahead].copy()),
            "keep": self._keep(index % len(self)),
            "style": torch.tensor(self.style_ids[seq], dtype=torch.int64),
        }

    def __repr__(self) -> str:
        return (f"WindowDataset({len(self)} windows from {self.num_sequences} sequences, "
                f"tau={self.tau}, seq_len={self.seq_len}, lookahead={self.lookahead}, "
                f"dropout={self.dropout}, skipped={self.num_skipped})")
