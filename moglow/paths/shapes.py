"""The built-in path shapes (``line``, ``circle``, ``figure8``, ``stop-and-go``, ``sidestep``,
``backwards``, ``random``): each maps times (F,) seconds to root positions (F, 2) metres and
facing directions (F, 2); :data:`BUILT_INS` names them with a one-line description."""
from __future__ import annotations

import math
from typing import Any
from collections.abc import Callable

import numpy as np
from scipy.ndimage import gaussian_filter1d

from moglow.paths.trajectory import (PathError, facing_from_travel)

__all__ = ["BUILT_INS", "built_in_paths", "shape_defaults", "convert_params"]


def _walk(speed: np.ndarray, angle: np.ndarray, fps: float) -> np.ndarray:
    """Positions (F, 2) from a per-frame speed (m/s) and travel angle (rad), starting at the origin
    (midpoint rule: the step into frame k uses the mean speed and angle of frames k-1 and k)."""
    speed = np.broadcast_to(np.asarray(speed, dtype=np.float64), angle.shape)
    mid_a = 0.5 * (angle[1:] + angle[:-1])
    mid_v = 0.5 * (speed[1:] + speed[:-1]) / fps
    step = np.stack([np.sin(mid_a), np.cos(mid_a)], axis=-1) * mid_v[:, None]
    return np.concatenate([np.zeros((1, 2)), np.cumsum(step, axis=0)])


def _side(value: str, what: str) -> float:
    if value not in ("left", "right"):
        raise PathError(f"{what} must be 'left' or 'right', got {value!r}")
    return 1.0 if value == "left" else -1.0


def _line(t, fps, speed=1.2, heading=0.0):
    angle = np.full(len(t), math.radians(heading))
    xz = _walk(np.full(len(t), speed), angle, fps)
    return xz, facing_from_travel(xz, fps, math.radians(heading))


def _circle(t, fps, radius=3.0, speed=1.2, turn="left"):
    if radius <= 0:
        raise PathError(f"circle radius must be positive, got {radius}")
    # left turns increase the heading (forward (sin, cos) turns from +Z towards +X, the character's left)
    side = _side(turn, "turn")
    angle = speed / radius * t
    xz = np.stack([side * radius * (1.0 - np.cos(angle)), radius * np.sin(angle)], axis=-1)
    return xz, facing_from_travel(xz, fps)


def _arclength_walk(curve: Callable[[np.ndarray], np.ndarray], period: float, distance: np.ndarray,
                    per_period: int = 4000) -> np.ndarray:
    """Positions at arc lengths ``distance`` along a periodic curve ``curve(u) -> (..., 2)`` of period ``period``."""
    loops = max(1, int(math.ceil(float(distance.max()) / _curve_length(curve, period, per_period) + 1e-9)) + 1)
    u = np.linspace(0.0, loops * period, loops * per_period + 1)
    pts = curve(u)
    s = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(pts, axis=0), axis=-1))])
    uu = np.interp(distance, s, u)
    return curve(uu)


def _curve_length(curve, period, n):
    pts = curve(np.linspace(0.0, period, n + 1))
    return float(np.linalg.norm(np.diff(pts, axis=0), axis=-1).sum())


def _figure8(t, fps, size=4.0, speed=1.0):
    if size <= 0:
        raise PathError(f"figure8 size must be positive, got {size}")

    def curve(u):  # lemniscate of Gerono through the origin: length `size` along z, width size/2
        return np.stack([0.25 * size * np.sin(2 * u), 0.5 * size * np.sin(u)], axis=-1)

    xz = _arclength_walk(curve, 2 * np.pi, speed * t)
    xz = xz - xz[0]
    return xz, facing_from_travel(xz, fps)


def _stop_and_go(t, fps, speed=1.2, period=4.0, duty=0.5, ramp=0.5, heading=0.0):
    if period <= 0 or not 0 < duty <= 1 or ramp < 0:
        raise PathError(f"stop-and-go needs period > 0, 0 < duty <= 1, ramp >= 0; got {period}, {duty}, {ramp}")
    walk = duty * period
    ramp = min(ramp, walk / 2, (period - walk) / 2 if duty < 1 else walk / 2)
    ph = np.mod(t, period)
    v = np.where(ph < walk, 1.0, 0.0)
    if ramp > 0:  # raised-cosine ramps inside the walking phase
        up = ph < ramp
        down = (ph > walk - ramp) & (ph < walk)
        v = np.where(up, 0.5 - 0.5 * np.cos(np.pi * ph / ramp), v)
        v = np.where(down, 0.5 - 0.5 * np.cos(np.pi * (walk - ph) / ramp), v)
    angle = np.full(len(t), math.radians(heading))
    xz = _walk(speed * v, angle, fps)
    return xz, facing_from_travel(xz, fps, math.radians(heading))


def _sidestep(t, fps, speed=0.8, side="left", heading=0.0):
    # moving to the character's left means travelling at heading + 90 degrees
    h = math.radians(heading)
    angle = np.full(len(t), h + _side(side, "side") * np.pi / 2)
    xz = _walk(np.full(len(t), speed), angle, fps)
    facing = np.broadcast_to([math.sin(h), math.cos(h)], (len(t), 2))
    return xz, facing


def _backwards(t, fps, speed=0.8, heading=0.0):
    h = math.radians(heading)
    xz = _walk(np.full(len(t), speed), np.full(len(t), h + np.pi), fps)
    facing = np.broadcast_to([math.sin(h), math.cos(h)], (len(t), 2))
    return xz, facing


def _random(t, fps, seed=0, speed=1.2, turn=45.0, smooth=1.5):
    if smooth <= 0:
        raise PathError(f"random smooth must be positive (seconds), got {smooth}")
    rng = np.random.default_rng(seed)
    noise = gaussian_filter1d(rng.normal(size=len(t) + int(6 * smooth * fps)), smooth * fps, mode="wrap")
    noise = noise[: len(t)] / max(float(np.std(noise)), 1e-12)
    rate = math.radians(turn) * noise  # rad/s
    angle = np.cumsum(rate) / fps
    xz = _walk(np.full(len(t), speed), angle, fps)
    return xz, facing_from_travel(xz, fps)


BUILT_INS: dict[str, tuple[Callable, str]] = {
    "line": (_line, "straight line: speed (m/s), heading (deg)"),
    "circle": (_circle, "circle: radius (m), speed (m/s), turn (left|right)"),
    "figure8": (_figure8, "figure eight: size (m), speed (m/s)"),
    "stop-and-go": (_stop_and_go, "walk and stop: speed (m/s), period (s), duty (walking fraction), ramp (s), "
                                  "heading (deg)"),
    "sidestep": (_sidestep, "sideways: speed (m/s), side (left|right), heading (deg, facing)"),
    "backwards": (_backwards, "walking backwards: speed (m/s), heading (deg, facing)"),
    "random": (_random, "random smooth path: seed, speed (m/s), turn (deg/s), smooth (s)"),
}


def built_in_paths() -> dict[str, str]:
    """Built-in path names and a one-line description of their parameters."""
    return {k: v[1] for k, v in BUILT_INS.items()}


def shape_defaults(fn: Callable) -> dict[str, Any]:
    """A built-in's parameters and their defaults (its keyword arguments after ``t, fps``)."""
    import inspect

    return {k: p.default for k, p in inspect.signature(fn).parameters.items() if p.default is not p.empty}


def convert_params(params: dict[str, str], defaults: dict[str, Any], what: str) -> dict[str, Any]:
    out = {}
    for key, text in params.items():
        if key not in defaults:
            raise PathError(f"unknown parameter {key!r} for path {what!r}; valid: {', '.join(defaults) or 'none'}")
        kind = type(defaults[key])
        try:
            value = float(text) if kind in (int, float) else text
            if kind is int and value != int(value):
                raise ValueError
            out[key] = kind(value)
        except ValueError:
            raise PathError(f"path {what!r}: {key}={text!r} is not a valid {kind.__name__}") from None
    return out
