"""Real motion to start sampling from: a bank of context windows kept in the checkpoint.

MoGlow generates frame ``t`` from the ``tau`` poses before it. A sample along a built-in path
needs ``tau`` poses before its first frame; the mean pose (all zeros after normalising) is
what data dropout trains the model to accept, but it is a legs-together pose that belongs to
no gait phase, and a small model started there may never take a step (it glides along the
path at temperature 0; ``docs/results_moglow.md`` measured it). Starting from ``tau`` frames
of *real* motion that already moves at about the path's speed puts the model in a gait phase
it knows.

:class:`StartBank` holds up to ``max_windows`` context windows of the training split (never
validation or test files), each with its own control and its mean speed and turn rate; the
trainer stores it in every checkpoint (``checkpoint["data"]["start_bank"]``, about 1 MB for the
paper's model). :meth:`StartBank.match` picks, for each sample, a window whose velocity over
its ``tau`` frames is close to the path's over the same frames (sample ``i`` gets the
``i``-th nearest, so ``N`` samples start from ``N`` different real windows).

Example::

    >>> from types import SimpleNamespace                     # any objects with poses, control, fps, source
    >>> takes = [SimpleNamespace(poses=np.full((200, 6), k, np.float32), fps=20.0, source=f"take{k}.bvh",
    ...                          control=np.tile([0.0, speed / 20, 0.0], (200, 1)))   # dx, dz m/frame; dθ rad/frame
    ...          for k, speed in enumerate([1.0, 2.5])]                           # a walk and a run, (F, D) poses
    >>> bank = StartBank.from_sequences(takes, tau=10)
    >>> idx = bank.match(np.tile([0.0, 2.4 / 20, 0.0], (10, 1)), num=4)   # a path's first tau frames at 2.4 m/s
    >>> context, context_control = bank.poses[idx], bank.control[idx]     # (4, 10, D), (4, 10, 3)
    >>> context[:, 0, 0].tolist()                                         # all four start from the run
    [1.0, 1.0, 1.0, 1.0]
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from collections.abc import Sequence

import numpy as np
import torch

from data_pipeline.errors import InputError

__all__ = ["StartBank", "window_velocity"]

#: weight of the turn rate when matching (metres per radian): 1 rad/s counts as 1/π m/s, so a
#: half turn per second weighs as much as 1 m/s of speed
TURN_WEIGHT_M_PER_RAD = 1.0 / np.pi


def window_velocity(control: np.ndarray, fps: float) -> np.ndarray:
    """Mean velocity of control windows.

    Args:
        control: (..., tau, 3) un-normalised control (dx, dz in metres per frame in the previous
            local frame, dtheta in radians per frame).
        fps: frames per second.
    Returns:
        (..., 3) float64: sideways and forward speed (m/s) and turn rate (rad/s).
    """
    return np.asarray(control, dtype=np.float64).mean(axis=-2) * fps


@dataclass
class StartBank:
    """Context windows of real training motion (un-normalised, as the features are stored).

    Attributes:
        poses: (N, tau, D) float32 pose features.
        control: (N, tau, C) float32 control of the same frames.
        velocity: (N, 3) float64 (:func:`window_velocity`): sideways, forward m/s, turn rad/s.
        fps: frame rate of the windows.
        sources: (N,) file name of each window (for reports).
    """

    poses: np.ndarray
    control: np.ndarray
    velocity: np.ndarray
    fps: float
    sources: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.poses.ndim != 3 or self.control.shape[:2] != self.poses.shape[:2] or len(self.poses) == 0:
            raise ValueError(f"a start bank needs (N>0, tau, D) poses and (N, tau, C) control; got "
                             f"{self.poses.shape} and {self.control.shape}")

    def __len__(self) -> int:
        return int(self.poses.shape[0])

    @property
    def tau(self) -> int:
        return int(self.poses.shape[1])

    @classmethod
    def from_sequences(cls, sequences: Sequence[Any], tau: int, max_windows: int = 512, seed: int = 0,
                       skip_seconds: float = 0.5) -> "StartBank":
        """Windows of ``tau`` frames from feature sequences, at most ``max_windows``.

        Every start frame of every sequence is a candidate (after the first ``skip_seconds``,
        where takes often begin from rest or a T-pose); ``max_windows`` are drawn evenly at
        random without replacement (seeded), so the bank follows the data's mix of speeds.

        Args:
            sequences: objects with ``poses (F, D)``, ``control (F, C)``, ``fps`` and ``source``
                (:class:`data_pipeline.features.FeatureSequence`).
            tau: context length in frames.
        Raises:
            ValueError: no sequence is long enough.
        """
        candidates = []  # (sequence index, start frame)
        for i, s in enumerate(sequences):
            skip = int(round(skip_seconds * float(s.fps)))
            first = skip if len(s.poses) - skip >= tau else 0
            starts = np.arange(first, len(s.poses) - tau + 1)
            candidates.append(np.stack([np.full_like(starts, i), starts], axis=1))
        cand = np.concatenate(candidates) if candidates else np.zeros((0, 2), dtype=np.int64)
        if len(cand) == 0:
            raise InputError(f"no sequence has the {tau} frames a start window needs")
        pick = np.random.default_rng(seed).choice(len(cand), size=min(max_windows, len(cand)), replace=False)
        cand = cand[np.sort(pick)]
        offsets = np.arange(tau)
        poses = np.stack([sequences[i].poses[s + offsets] for i, s in cand]).astype(np.float32)
        control = np.stack([sequences[i].control[s + offsets] for i, s in cand]).astype(np.float32)
        fps = float(sequences[int(cand[0, 0])].fps)
        sources = [str(getattr(sequences[i], "source", "")).rsplit("/", 1)[-1] for i, _ in cand]
        return cls(poses, control, window_velocity(control, fps), fps, sources)

    def match(self, control: np.ndarray, num: int) -> np.ndarray:
        """Indices (num,) of the windows whose velocity is nearest that of ``control``.

        Args:
            control: (tau, C) or (num, tau, C) un-normalised control of the path's first ``tau``
                frames (the frames the context stands in for).
            num: number of samples; with one control, sample ``i`` gets the ``i``-th nearest window
                (cycling when the bank is smaller than ``num``); with one control each, each gets
                its own nearest.
        """
        control = np.asarray(control, dtype=np.float64)
        if control.shape[-2] != self.tau:
            raise ValueError(f"the start bank holds windows of {self.tau} frames; got a control of "
                             f"{control.shape[-2]} frames")
        weight = np.array([1.0, 1.0, TURN_WEIGHT_M_PER_RAD])
        target = window_velocity(control, self.fps)
        if target.ndim == 1:
            dist = np.linalg.norm((self.velocity - target) * weight, axis=-1)
            order = np.argsort(dist, kind="stable")
            return order[np.arange(num) % len(order)]
        dist = np.linalg.norm((self.velocity[None] - target[:, None]) * weight, axis=-1)  # (num, N)
        return np.argmin(dist, axis=1)

    def to_dict(self) -> dict:
        """Plain data for a checkpoint (tensors, so ``torch.load(weights_only=True)`` reads it)."""
        return {"poses": torch.from_numpy(np.ascontiguousarray(self.poses)),
                "control": torch.from_numpy(np.ascontiguousarray(self.control)),
                "velocity": torch.from_numpy(np.ascontiguousarray(self.velocity)),
                "fps": self.fps, "sources": list(self.sources)}

    @classmethod
    def from_dict(cls, d: dict) -> "StartBank":
        """Inverse of :meth:`to_dict` (tensors or array-likes)."""
        return cls(_array(d["poses"], np.float32), _array(d["control"], np.float32),
                   _array(d["velocity"], np.float64), float(d["fps"]), list(d.get("sources") or []))


def _array(v: Any, dtype) -> np.ndarray:
    return (v.numpy() if isinstance(v, torch.Tensor) else np.asarray(v)).astype(dtype)
