"""Toy motion for the rendering tests (tests/test_render.py, tests/test_render_geometry.py)."""
from __future__ import annotations

import numpy as np

PARENTS = np.array([-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 2, 10, 11, 2, 13, 14])  # hips, spine.., legs, arms


def toy_walk(frames: int = 24, fps: float = 30.0, speed: float = 1.3, heading: float = 0.0) -> np.ndarray:
    """(F, 16, 3) metres: a stick figure striding along a straight line (vectorised over frames)."""
    t = np.arange(frames) / fps
    swing = 0.45 * np.sin(2 * np.pi * 1.7 * t)[:, None]
    local = np.zeros((frames, 16, 3))
    local[:, 0:4] = [[0, 0.95, 0], [0, 1.2, 0], [0, 1.45, 0], [0, 1.65, 0]]
    for hip, side, s in ((4, 1, 1), (7, -1, -1)):
        local[:, hip] = [0.1 * side, 0.92, 0]
        knee = local[:, hip] + 0.45 * np.concatenate([0 * swing, -np.cos(s * swing), np.sin(s * swing)], 1)
        local[:, hip + 1] = knee
        local[:, hip + 2] = knee + [0, -0.45, 0.05]
    for sh, side, s in ((10, 1, -1), (13, -1, 1)):
        local[:, sh] = [0.18 * side, 1.42, 0]
        elbow = local[:, sh] + 0.3 * np.concatenate([0 * swing, -np.cos(s * swing), np.sin(s * swing)], 1)
        local[:, sh + 1] = elbow
        local[:, sh + 2] = elbow + [0, -0.25, 0.08]
    c, s_ = np.cos(heading), np.sin(heading)
    rot = np.array([[c, 0, s_], [0, 1, 0], [-s_, 0, c]])
    world = local @ rot.T
    world += (speed * t)[:, None, None] * np.array([s_, 0, c])
    return world
