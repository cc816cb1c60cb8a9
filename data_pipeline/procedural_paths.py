"""Smooth random control paths for the procedural locomotion generator.

A path is a speed profile and a turning-rate profile over time, integrated to a heading
and a floor trajectory. Heading ``theta`` is the rotation about +Y that turns +Z into the
direction of travel, so the forward direction is ``(sin theta, 0, cos theta)`` and a positive
turning rate turns towards the character's left (+X). Stops are exact: the speed is
exactly zero while standing, and the turning rate vanishes with the speed (no turning on
the spot).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d

#: speed ranges (m/s) of the segment kinds
WALK_SPEEDS = (0.5, 1.8)
RUN_SPEEDS = (2.7, 4.3)
#: walking segments never exceed this (m/s), so they stay below the walk-run transition
MAX_WALK_SPEED = 1.85
#: running segments never exceed this (m/s)
MAX_RUN_SPEED = 4.4
#: below this speed (m/s) the path counts as standing still
STANDING_SPEED = 0.02

#: probabilities of (stop, walk, run) segments for each take kind
SEGMENT_MIX = {
    "walk": (0.25, 0.75, 0.0),
    "run": (0.15, 0.15, 0.70),
    "mixed": (0.22, 0.43, 0.35),
}


@dataclass
class ControlPath:
    """A sampled control path (SI units).

    Attributes:
        times: (F,) seconds.
        speed: (F,) m/s, >= 0, exactly 0 while standing.
        turn_rate: (F,) rad/s, positive turns left.
        heading: (F,) radians (forward = (sin, 0, cos)), unwrapped.
        xz: (F, 2) metres, floor position (x, z).
    """

    times: np.ndarray
    speed: np.ndarray
    turn_rate: np.ndarray
    heading: np.ndarray
    xz: np.ndarray

    def at(self, t: np.ndarray | float, field: str) -> np.ndarray:
        """Linear interpolation of ``field`` ("speed", "heading", "x", "z") at times ``t`` (s)."""
        if field == "x":
            values = self.xz[:, 0]
        elif field == "z":
            values = self.xz[:, 1]
        else:
            values = getattr(self, field)
        return np.interp(t, self.times, values)


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _piecewise_constant(rng: np.random.Generator, times: np.ndarray, draw) -> np.ndarray:
    """Per-frame step function: segments of random duration, value from ``draw(rng) -> (value, duration)``."""
    out = np.empty_like(times)
    t, i = times[0], 0
    while i < len(times):
        value, duration = draw(rng)
        j = int(np.searchsorted(times, t + duration))
        out[i:max(j, i + 1)] = value
        i, t = max(j, i + 1), t + duration
    return out


def random_control_path(rng: np.random.Generator, times: np.ndarray, kind: str = "mixed",
                        speed_scale: float = 1.0, stand_until: float | None = None) -> ControlPath:
    """Draw a smooth random path over ``times``.

    Args:
        rng: the random generator (the only source of randomness).
        times: (F,) seconds, evenly spaced.
        kind: "walk", "run" or "mixed": which segment kinds the speed profile draws.
        speed_scale: multiplies walking and running speeds (a style parameter).
        stand_until: if given, the character stands still up to this time (s) and then
            starts from rest.
    """
    if kind not in SEGMENT_MIX:
        raise ValueError(f"kind must be one of {sorted(SEGMENT_MIX)}, got {kind!r}")
    dt = float(times[1] - times[0])
    p_stop, p_walk, _ = SEGMENT_MIX[kind]

    def draw_speed(r: np.random.Generator) -> tuple[float, float]:
        u = r.random()
        if u < p_stop:
            return 0.0, r.uniform(2.0, 5.0)
        if u < p_stop + p_walk:
            return min(r.uniform(*WALK_SPEEDS) * speed_scale, MAX_WALK_SPEED), r.uniform(2.0, 6.0)
        return min(r.uniform(*RUN_SPEEDS) * speed_scale, MAX_RUN_SPEED), r.uniform(2.0, 5.0)

    def draw_turn(r: np.random.Generator) -> tuple[float, float]:
        u = r.random()
        if u < 0.35:
            return 0.0, r.uniform(1.0, 4.0)
        if u < 0.8:
            return r.normal(0.0, 0.4), r.uniform(1.0, 4.0)
        return r.choice([-1.0, 1.0]) * r.uniform(0.8, 1.6), r.uniform(0.8, 2.5)

    target_speed = _piecewise_constant(rng, times, draw_speed)
    if stand_until is not None:
        target_speed[times < stand_until] = 0.0
    speed = gaussian_filter1d(target_speed, sigma=0.5 / dt, mode="nearest")
    # exact zeros while standing, with a smooth (C1) ramp into motion
    speed = speed * _smoothstep((speed - 0.1) / 0.3)
    if stand_until is not None:  # a smooth start from rest
        speed = speed * _smoothstep((times - stand_until) / 1.0)

    turn = gaussian_filter1d(_piecewise_constant(rng, times, draw_turn), sigma=0.35 / dt, mode="nearest")
    # bounded curvature: turning radius at least 0.8 m walking, larger when running
    max_rate = speed / (0.8 + 0.5 * np.maximum(speed - 1.0, 0.0))
    safe = np.maximum(max_rate, 1e-9)
    turn = np.where(max_rate > 1e-9, safe * np.tanh(turn / safe), 0.0)

    heading = rng.uniform(-np.pi, np.pi) + np.concatenate([[0.0], np.cumsum(turn[:-1]) * dt])
    velocity = speed[:, None] * np.stack([np.sin(heading), np.cos(heading)], -1)
    xz = rng.uniform(-1.0, 1.0, size=2) + np.concatenate([[[0.0, 0.0]], np.cumsum(velocity[:-1], 0) * dt])
    return ControlPath(times=np.asarray(times, dtype=np.float64), speed=speed, turn_rate=turn,
                       heading=heading, xz=xz)
