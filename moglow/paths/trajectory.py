"""What a path is: :class:`Trajectory` (root floor positions and heading per frame), the parsed
spec :class:`PathSpec`, :class:`PathError`, and the heading conventions shared by every path
(facing the direction of travel, smoothed as in training)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from data_pipeline.config import DataConfig
from data_pipeline.errors import MoglowError
from data_pipeline.features import control_from_trajectory
from data_pipeline.heading import smooth_heading

__all__ = ["STAND_SPEED", "PathError", "Trajectory", "PathSpec", "heading_from_facing", "facing_from_travel",
           "trajectory_from_facing"]


#: below this speed (m/s) the direction of travel is undefined and the last one is kept
STAND_SPEED = 0.05


class PathError(MoglowError, ValueError):
    """A path spec or path file that cannot be used (the message says why)."""


# ============================================================================ data types
@dataclass
class Trajectory:
    """A world trajectory at the model's frame rate.

    Attributes:
        root_xz: (F, 2) float64 root floor positions x, z in metres.
        theta: (F,) float64 heading in radians (smoothed as in training).
        fps: frames per second.
        name: a short label (the spec).
        exact_control: (F, 3) the take's own training control (``bvh:`` paths), used instead
            of recomputing it from ``root_xz`` and ``theta``; None for other paths.
        poses: (F, D) the take's un-normalised pose features (``bvh:`` paths; the first ``tau``
            are the sampling context); None for other paths.
        ground_truth: (F, M, 3) the take's model-joint world positions in metres (``bvh:``); else None.
        source: the file a path came from, if any.
    """

    root_xz: np.ndarray
    theta: np.ndarray
    fps: float
    name: str = ""
    exact_control: np.ndarray | None = None
    poses: np.ndarray | None = None
    ground_truth: np.ndarray | None = None
    source: str | None = None

    def __post_init__(self) -> None:
        self.root_xz = np.asarray(self.root_xz, dtype=np.float64)
        self.theta = np.asarray(self.theta, dtype=np.float64)
        n = self.theta.shape[0]
        if self.root_xz.shape != (n, 2) or self.theta.ndim != 1 or n < 2:
            raise PathError(f"a trajectory needs root_xz (F, 2) and theta (F,) with F >= 2; got "
                            f"{self.root_xz.shape} and {self.theta.shape}")

    @property
    def num_frames(self) -> int:
        return int(self.theta.shape[0])

    def control(self) -> np.ndarray:
        """(F, 3) float64 control ``dx, dz`` (m/frame, previous local frame), ``dtheta`` (rad/frame)."""
        if self.exact_control is not None:
            return np.asarray(self.exact_control, dtype=np.float64)
        return control_from_trajectory(self.root_xz, self.theta)

    def start(self, frame: int = 0) -> np.ndarray:
        """(3,) root x, z (m) and heading (rad) at ``frame``: where control integration starts."""
        return np.array([self.root_xz[frame, 0], self.root_xz[frame, 1], self.theta[frame]])

    def crop(self, frames: int) -> "Trajectory":
        """The first ``frames`` frames."""
        cut = lambda a: None if a is None else a[:frames]  # noqa: E731
        return Trajectory(self.root_xz[:frames], self.theta[:frames], self.fps, self.name,
                          cut(self.exact_control), cut(self.poses), cut(self.ground_truth), self.source)


@dataclass
class PathSpec:
    """A parsed path spec: ``kind`` (a built-in name, ``"file"`` or ``"bvh"``), ``target`` (the file
    for ``file``/``bvh``) and ``params`` (``key=value`` strings)."""

    kind: str
    target: str | None = None
    params: dict[str, str] = field(default_factory=dict)
    text: str = ""
    table: dict[str, np.ndarray] | None = None  # columns given in memory (waypoints(), velocities())


# ============================================================================ heading
def heading_from_facing(facing: np.ndarray, cfg: DataConfig) -> np.ndarray:
    """(F, 2) facing directions (x, z) -> (F,) heading in radians, smoothed exactly as in training
    (:func:`data_pipeline.heading.smooth_heading` with ``cfg``'s width and method)."""
    facing = np.asarray(facing, dtype=np.float64)
    norm = np.linalg.norm(facing, axis=-1, keepdims=True)
    if np.any(norm < 1e-12):
        raise PathError("a facing direction is zero")
    return smooth_heading(facing / norm, cfg.heading_sigma_s * cfg.fps, cfg.heading_smoothing)


def facing_from_travel(root_xz: np.ndarray, fps: float, default_heading: float = 0.0,
                       offset: float = 0.0) -> np.ndarray:
    """(F, 2) unit facing directions: the direction of travel turned by ``offset`` radians (about +Y).

    Where the speed is below :data:`STAND_SPEED` the last direction is kept (before the first
    move: the first one; never moving: ``default_heading``).

    Args:
        root_xz: (F, 2) positions in metres.
        fps: frames per second.
        default_heading: radians, for a path that never moves.
        offset: radians added to the travel angle (pi/2: travel is to the character's left).
    """
    vel = np.gradient(np.asarray(root_xz, dtype=np.float64), axis=0) * fps
    moving = np.linalg.norm(vel, axis=-1) >= STAND_SPEED
    angle = np.full(len(vel), default_heading)
    if moving.any():
        idx = np.where(moving, np.arange(len(vel)), 0)
        idx = np.maximum.accumulate(idx)
        first = int(np.argmax(moving))
        idx[:first] = first
        angle = np.arctan2(vel[idx, 0], vel[idx, 1]) + offset
    return np.stack([np.sin(angle), np.cos(angle)], axis=-1)


def trajectory_from_facing(xz: np.ndarray, facing: np.ndarray, cfg: DataConfig, name: str,
                           source: str | None = None) -> Trajectory:
    """A :class:`Trajectory` from (F, 2) positions in metres and (F, 2) facing directions, the
    heading smoothed as in training (:func:`heading_from_facing`)."""
    return Trajectory(xz, heading_from_facing(facing, cfg), float(cfg.fps), name, source=source)
