"""The motion-matching database: every frame of the training clips with its matching features, searchable.

Each feature group (:data:`baselines.motion_matching.features.GROUPS`) is divided by the mean
standard deviation of its columns over the database and multiplied by its weight, so the
Euclidean distance between two frames is the weighted, unit-free matching cost. The nearest
frame is found with a k-d tree (:class:`scipy.spatial.cKDTree`), one per style (plus one over
all frames); only frames with at least ``min_tail_s`` of clip after them are jump targets.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.spatial import cKDTree

from data_pipeline.errors import InputError
from data_pipeline.features import FeatureDefinition, FeatureSequence

from .features import ankle_columns, clip_trajectories, group_columns, pose_features

DEFAULT_WEIGHTS = {"trajectory_position": 1.0, "trajectory_direction": 1.5, "feet_position": 0.75,
                   "feet_velocity": 1.0, "root_velocity": 1.0}


@dataclass
class MatchingSettings:
    """How the controller matches, jumps and blends (seconds are converted at the data's fps).

    Attributes:
        offsets_s: how far ahead the trajectory features look (s).
        weights: weight of each feature group (see :data:`DEFAULT_WEIGHTS`).
        search_every_s: search at least this often (s).
        speed_change: search at once when the commanded speed changed by more than this (m/s)
            since the last search. turn_change: likewise for the turning rate (rad/s).
        blend_halflife_s: half-life of the inertial blend that hides a jump (s).
        mean_s: extrapolated control repeats the mean of the last ``mean_s`` of known steps.
        min_tail_s: a jump target has at least this much clip after it (s).
        same_clip_s: a best match in the playing clip within this distance of the playing frame
            is no jump (s).
        top_k: jump to one of the ``top_k`` nearest frames, chosen at random (1: the nearest,
            deterministic: every sample along a path is the same).
        match_style: search only the frames of the take's style (when the database has it), as
            the model is conditioned on the style.
        future: ``"model"``: the control is known up to the frame being made plus the evaluation's
            lookahead, as the model sees it, and extrapolated beyond; ``"oracle"``: the whole path ahead.
    """

    offsets_s: tuple[float, ...] = (1 / 3, 2 / 3, 1.0)
    weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    search_every_s: float = 0.15
    speed_change: float = 0.5
    turn_change: float = 0.75
    blend_halflife_s: float = 0.1
    mean_s: float = 0.25
    min_tail_s: float = 0.5
    same_clip_s: float = 0.2
    top_k: int = 1
    match_style: bool = True
    future: str = "model"

    def frames(self, seconds: float, fps: float, least: int = 1) -> int:
        """``seconds`` in frames at ``fps`` (rounded, at least ``least``)."""
        return max(least, int(round(seconds * fps)))

    def validate(self) -> None:
        unknown = sorted(set(self.weights) - set(DEFAULT_WEIGHTS))
        if unknown:
            raise InputError(f"unknown motion-matching weight(s) {unknown}; known: {sorted(DEFAULT_WEIGHTS)}")
        if self.future not in ("model", "oracle"):
            raise InputError(f"future must be 'model' or 'oracle', got {self.future!r}")
        if self.top_k < 1 or not self.offsets_s or min(self.offsets_s) <= 0:
            raise InputError("top_k must be >= 1 and offsets_s positive")


class MatchingDatabase:
    """Every frame of ``clips`` with its features (see the module docstring).

    Attributes:
        poses: (N, D) float32 poses of all clips, concatenated. clip: (N,) clip of each frame.
        local: (N,) frame index within its clip. ends: (C,) global index of each clip's last frame.
        contact_cols: the pose columns that are contact labels (kept in [0, 1] after a blend).
        features: (N, M) weighted, normalised matching features. scale: (M,) what the raw
            features were divided by. offsets: trajectory offsets in frames. fps: frame rate.
    """

    def __init__(self, clips: Sequence[FeatureSequence], fdef: FeatureDefinition, ankles: Sequence[str],
                 settings: MatchingSettings | None = None) -> None:
        if not clips:
            raise InputError("the motion-matching database needs at least one clip")
        self.settings = s = settings or MatchingSettings()
        s.validate()
        self.fps = float(fdef.fps)
        self.offsets = sorted({s.frames(o, self.fps) for o in s.offsets_s})
        self.n_mean = s.frames(s.mean_s, self.fps)
        self.ankle_cols = ankle_columns(fdef, ankles)
        self.contact_cols = np.arange(fdef.pose_dim - fdef.num_contacts, fdef.pose_dim)
        lengths = np.array([c.num_frames for c in clips])
        self.poses = np.concatenate([c.poses for c in clips]).astype(np.float32)
        self.clip = np.repeat(np.arange(len(clips)), lengths)
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        self.local = np.arange(len(self.clip)) - starts[self.clip]
        self.ends = starts + lengths - 1
        self.styles = [c.style for c in clips]
        raw = np.concatenate([np.concatenate([clip_trajectories(c.control, self.offsets, self.n_mean),
                                              pose_features(c.poses, c.control, self.ankle_cols, self.fps)], -1)
                              for c in clips])
        self.scale = self._scale(raw)
        self.features = raw / self.scale
        tail = s.frames(s.min_tail_s, self.fps)
        last = self.ends[self.clip] - starts[self.clip]  # each frame's clip's last local index
        self.targets = np.flatnonzero((self.local >= 1) & (self.local + tail <= last))
        if not self.targets.size:
            raise InputError(f"no clip is longer than {tail + 1} frames: nothing to jump to")
        self._trees: dict[str | None, tuple[cKDTree, np.ndarray]] = {}

    def _scale(self, raw: np.ndarray) -> np.ndarray:
        scale = np.ones(raw.shape[1])
        std = raw.std(axis=0)
        for g, cols in group_columns(len(self.offsets)).items():
            w = self.settings.weights.get(g, 0.0)
            s = float(std[cols].mean())
            scale[cols] = (s if s > 0 else 1.0) / w if w > 0 else np.inf
        return scale

    def query_vector(self, raw: np.ndarray) -> np.ndarray:
        """(M,) raw features (trajectory, then pose) weighted and normalised like the database's."""
        return np.asarray(raw, dtype=np.float64) / self.scale

    def _tree(self, style: str | None) -> tuple[cKDTree, np.ndarray]:
        key = style if self.settings.match_style and style in self.styles else None
        if key not in self._trees:
            idx = self.targets if key is None else self.targets[
                np.isin(self.clip[self.targets], [i for i, st in enumerate(self.styles) if st == key])]
            self._trees[key] = (cKDTree(self.features[idx]), idx)
        return self._trees[key]

    def nearest(self, query: np.ndarray, k: int = 1, style: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` jump targets nearest to ``query`` (normalised), nearest first: (global indices (k,),
        costs (k,))."""
        tree, idx = self._tree(style)
        k = min(k, len(idx))
        dist, pos = tree.query(query, k=k)
        return idx[np.atleast_1d(pos)], np.atleast_1d(dist)

    def cost(self, index: int, query: np.ndarray) -> float:
        """The matching cost of frame ``index`` (any frame, target or not) for ``query``."""
        return float(np.linalg.norm(self.features[index] - query))

    def has_next(self, index: int) -> bool:
        """Whether frame ``index`` is followed by another frame of its clip."""
        return index < self.ends[self.clip[index]]


__all__ = ["DEFAULT_WEIGHTS", "MatchingSettings", "MatchingDatabase"]
