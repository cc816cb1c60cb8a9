"""The two data types every part of the pipeline passes around: a skeleton and a motion.

A :class:`Skeleton` holds joints *and* End Sites in the file's depth-first order, so that
forward kinematics returns positions for both. A :class:`Motion` is a skeleton plus the
raw channel values exactly as they stand in a BVH MOTION section.

Units are the file's own (BVH files are usually centimetres); conversion to metres happens
in feature extraction, never here, so that a read/write round trip is exact.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import MissingKeyError

POSITION_CHANNELS = ("Xposition", "Yposition", "Zposition")
ROTATION_CHANNELS = ("Xrotation", "Yrotation", "Zrotation")
VALID_CHANNELS = POSITION_CHANNELS + ROTATION_CHANNELS


@dataclass
class Skeleton:
    """A kinematic tree.

    Attributes:
        names: J names, joints and End Sites, depth-first in file order. End Sites are
            named ``"<parent>_End"`` (made unique with a numeric suffix if needed).
        parents: (J,) int64, index of each joint's parent; -1 for the root (index 0).
        offsets: (J, 3) float64, each joint's OFFSET from its parent, in file units.
        channels: J tuples of channel names in file order (e.g. ``("Xposition", ...,
            "Zrotation", "Xrotation", "Yrotation")``); ``()`` for End Sites.
        is_end_site: (J,) bool.
    """

    names: list[str]
    parents: np.ndarray
    offsets: np.ndarray
    channels: list[tuple[str, ...]]
    is_end_site: np.ndarray = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        self.parents = np.asarray(self.parents, dtype=np.int64)
        self.offsets = np.asarray(self.offsets, dtype=np.float64).reshape(-1, 3)
        self.channels = [tuple(c) for c in self.channels]
        if self.is_end_site is None:
            self.is_end_site = np.zeros(len(self.names), dtype=bool)
        self.is_end_site = np.asarray(self.is_end_site, dtype=bool)
        n = len(self.names)
        if not (len(self.parents) == len(self.offsets) == len(self.channels) == len(self.is_end_site) == n):
            raise ValueError("Skeleton fields disagree on the number of joints")
        if n and self.parents[0] != -1:
            raise ValueError("the first joint must be the root (parent -1)")
        if np.any(self.parents[1:] >= np.arange(1, n)) or np.any(self.parents[1:] < 0):
            raise ValueError("parents must come before their children (depth-first order)")

    @property
    def num_joints(self) -> int:
        """J: joints plus End Sites."""
        return len(self.names)

    @property
    def num_channels(self) -> int:
        """C: total number of channel values per frame."""
        return sum(len(c) for c in self.channels)

    @property
    def channel_offsets(self) -> np.ndarray:
        """(J+1,) int64: joint j's values are ``values[:, channel_offsets[j]:channel_offsets[j+1]]``."""
        return np.concatenate([[0], np.cumsum([len(c) for c in self.channels])]).astype(np.int64)

    def index(self, name: str) -> int:
        """Index of the joint called ``name``; KeyError naming the joint if absent."""
        try:
            return self.names.index(name)
        except ValueError:
            raise MissingKeyError(f"no joint named {name!r} in skeleton (joints: {', '.join(self.names)})") from None

    def children(self, j: int) -> list[int]:
        """Indices of the direct children of joint ``j``."""
        return [int(i) for i in np.flatnonzero(self.parents == j)]

    def ancestors(self, j: int) -> list[int]:
        """Indices of the ancestors of joint ``j``, from the root down (``j`` excluded)."""
        out = []
        p = int(self.parents[j])
        while p >= 0:
            out.append(p)
            p = int(self.parents[p])
        return out[::-1]

    def copy(self) -> "Skeleton":
        return Skeleton(list(self.names), self.parents.copy(), self.offsets.copy(),
                        list(self.channels), self.is_end_site.copy())


@dataclass
class Motion:
    """A skeleton and its animation.

    Attributes:
        skeleton: the kinematic tree.
        values: (F, C) float64 channel values in file order: positions in file units,
            rotations in degrees.
        frame_time: seconds per frame.
        source: where it came from (file path), for error messages; may be None.
    """

    skeleton: Skeleton
    values: np.ndarray
    frame_time: float
    source: str | None = None

    def __post_init__(self) -> None:
        self.values = np.asarray(self.values, dtype=np.float64)
        if self.values.ndim != 2 or self.values.shape[1] != self.skeleton.num_channels:
            raise ValueError(
                f"values must be (frames, {self.skeleton.num_channels}); got {self.values.shape}")
        if not self.frame_time > 0:
            raise ValueError(f"frame_time must be positive, got {self.frame_time}")

    @property
    def num_frames(self) -> int:
        return int(self.values.shape[0])

    @property
    def fps(self) -> float:
        return 1.0 / self.frame_time
