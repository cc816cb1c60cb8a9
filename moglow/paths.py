"""Control paths for sampling: where the character goes, frame by frame.

A path is a world trajectory at the model's frame rate: the root's floor position
``root_xz (F, 2)`` in metres and the heading ``theta (F,)`` in radians (forward is
``(sin theta, 0, cos theta)``, Y up; see :mod:`data_pipeline.heading`). It becomes the
model's control signal exactly as in training: the raw facing direction is smoothed by
:func:`data_pipeline.heading.smooth_heading` with the data config's width and method, and
:func:`data_pipeline.features.control_from_trajectory` turns position and heading into
``(dx, dz, dtheta)`` per frame. (Normalising with the checkpoint's control scaler is the
sampler's job.)

Path specs (``moglow sample --path SPEC``)::

    line:speed=1.5                     straight ahead (heading=DEG sets the direction; speed=0 stands)
    circle:radius=3,speed=1.2          turn=left|right
    figure8:size=4,speed=1.0           a lemniscate, size = its length in metres
    stop-and-go:speed=1.2,period=4     walk, stop, walk...; duty = walking fraction, ramp = seconds
    sidestep:speed=0.8                 side=left|right, facing heading=DEG
    backwards:speed=0.8                walking backwards, facing heading=DEG
    random:seed=3,speed=1.2            smooth random turns; turn = deg/s (std), smooth = seconds
    waypoints.csv | path.json          a file of waypoints or velocities (below); speed=... for
                                       waypoints without times
    bvh:take.bvh                       the path of an existing take (re-synthesis)

Built-in paths start at the origin. Every character faces its direction of travel except
``sidestep`` and ``backwards``, which set the heading explicitly; where a path stands still the
last facing direction is kept.

Files (CSV with a header row, or JSON: a list of row objects, a list of ``[x, z]`` pairs, an
object of column lists, or ``{"waypoints": ...}`` / ``{"velocities": ...}``). Columns:
``x, z`` (metres) waypoints or ``vx, vz`` (metres per second) velocities; optional ``t``
(seconds; for velocities without it, one row per model frame) and ``heading`` (degrees, the
facing direction; default: the direction of travel). Waypoints with times are interpolated
with a cubic spline; without times, a spline through them is walked at ``speed``. After the
file ends the character stands.

Example::

    >>> cfg = DataConfig(fps=20, heading_sigma_s=0.2)
    >>> path = make_path("circle:radius=2,speed=1", 200, cfg)
    >>> path.control().shape                # (dx, dz, dtheta) per frame
    (200, 3)
"""
from __future__ import annotations

import csv
import json
import math
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from collections.abc import Callable

import numpy as np
from scipy.interpolate import CubicSpline, make_interp_spline
from scipy.ndimage import gaussian_filter1d

from data_pipeline.config import DataConfig
from data_pipeline.features import control_from_trajectory, integrate_control
from data_pipeline.heading import smooth_heading
from data_pipeline.errors import MoglowError

__all__ = ["Trajectory", "PathSpec", "parse_path_spec", "make_path", "built_in_paths", "facing_from_travel",
           "heading_from_facing", "PathError", "line", "circle", "figure8", "stop_and_go", "random_path",
           "waypoints", "velocities"]

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


def _trajectory(xz: np.ndarray, facing: np.ndarray, cfg: DataConfig, name: str, source: str | None = None
                ) -> Trajectory:
    return Trajectory(xz, heading_from_facing(facing, cfg), float(cfg.fps), name, source=source)


# ============================================================================ built-in shapes
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


_BUILT_INS: dict[str, tuple[Callable, str]] = {
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
    return {k: v[1] for k, v in _BUILT_INS.items()}


def _defaults(fn: Callable) -> dict[str, Any]:
    """A built-in's parameters and their defaults (its keyword arguments after ``t, fps``)."""
    import inspect

    return {k: p.default for k, p in inspect.signature(fn).parameters.items() if p.default is not p.empty}


def _convert_params(params: dict[str, str], defaults: dict[str, Any], what: str) -> dict[str, Any]:
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


# ============================================================================ spec parsing
_PARAM = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_FILE_SUFFIXES = (".csv", ".json")


def _split_params(text: str) -> tuple[str, dict[str, str]]:
    """``"head,key=v,key2=w"`` -> ``("head", {...})``: trailing ``key=value`` items are parameters."""
    parts = text.split(",")
    params: dict[str, str] = {}
    while len(parts) > 1 and _PARAM.match(parts[-1].strip()):
        key, _, value = parts.pop().strip().partition("=")
        params[key] = value.strip()
    return ",".join(parts), dict(reversed(list(params.items())))


def parse_path_spec(text: str) -> PathSpec:
    """Parse ``--path`` (see the module docstring). Raises :class:`PathError` for an unknown kind."""
    text = text.strip()
    if not text:
        raise PathError("empty path spec")
    low = text.lower()
    for prefix, kind in (("bvh:", "bvh"), ("file:", "file"), ("csv:", "file"), ("json:", "file")):
        if low.startswith(prefix):
            target, params = _split_params(text[len(prefix):])
            return PathSpec(kind, target, params, text)
    head, params = _split_params(text)
    if Path(head).suffix.lower() in _FILE_SUFFIXES:
        return PathSpec("file", head, params, text)
    if Path(head).suffix.lower() == ".bvh":
        return PathSpec("bvh", head, params, text)
    name, sep, rest = text.partition(":")
    name = name.strip().lower()
    if name not in _BUILT_INS:
        raise PathError(f"unknown path {name!r}: use one of {', '.join(_BUILT_INS)}, a .csv/.json file of "
                        f"waypoints or velocities, or bvh:FILE")
    params = {}
    for item in filter(None, (s.strip() for s in rest.split(","))) if sep else []:
        key, eq, value = item.partition("=")
        if not eq:
            raise PathError(f"path {text!r}: expected key=value, got {item!r}")
        params[key.strip()] = value.strip()
    return PathSpec(name, None, params, text)


# ============================================================================ files
def _read_table(path: Path) -> dict[str, np.ndarray]:
    """Columns of a CSV (header row) or JSON path file, lower-case names -> float arrays."""
    if not path.exists():
        raise PathError(f"path file not found: {path}")
    if path.suffix.lower() == ".csv":
        with open(path, newline="") as f:
            reader = csv.reader(f)
            numbered = [(reader.line_num, r) for r in reader if r and not r[0].lstrip().startswith("#")]
        if len(numbered) < 2:
            raise PathError(f"{path}: need a header row and at least one data row")
        header = [h.strip().lower() for h in numbered[0][1]]
        rows = []
        for line, r in numbered[1:]:
            if len(r) != len(header):
                raise PathError(f"{path}, line {line}: {len(r)} values but the header names {len(header)} columns")
            try:
                values = [float(v) for v in r]
            except ValueError as e:
                raise PathError(f"{path}, line {line}: not a number ({e})") from None
            _check_finite(values, header, f"{path}, line {line}")
            rows.append(values)
        data = np.array(rows, dtype=np.float64)
        return {h: data[:, i] for i, h in enumerate(header)}
    try:
        doc = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise PathError(f"{path}: not valid JSON ({e})") from None
    if isinstance(doc, dict):
        for key in ("waypoints", "velocities"):
            if key in doc:
                doc = doc[key]
                break
    try:
        if isinstance(doc, dict):
            cols = {str(k).lower(): np.asarray(v, dtype=np.float64) for k, v in doc.items()}
            for k, v in cols.items():
                bad = np.flatnonzero(~np.isfinite(v.reshape(len(v), -1)).all(axis=1)) if v.ndim else np.zeros(0, int)
                if len(bad):
                    value = float(v.reshape(len(v), -1)[bad[0]][0])
                    raise PathError(f"{path}: {k}[{bad[0]}] (row {bad[0]}) is {value!r}; path values must be "
                                    f"finite numbers")
            return cols
        if isinstance(doc, list) and doc and all(isinstance(r, dict) for r in doc):
            keys = sorted({str(k).lower() for r in doc for k in r})
            rows = []
            for i, r in enumerate(doc):
                low = {str(a).lower(): b for a, b in r.items()}
                try:
                    values = [float(low[k]) for k in keys]
                except KeyError as e:
                    raise PathError(f"{path}, row {i}: every row needs the same keys (missing {e})") from None
                _check_finite(values, keys, f"{path}, row {i}")
                rows.append(values)
            return {k: np.array([r[j] for r in rows]) for j, k in enumerate(keys)}
        if isinstance(doc, list) and doc and all(isinstance(r, (list, tuple)) and len(r) == 2 for r in doc):
            arr = np.asarray(doc, dtype=np.float64)
            for i, r in enumerate(arr):
                _check_finite(r, ["x", "z"], f"{path}, row {i}")
            return {"x": arr[:, 0], "z": arr[:, 1]}
    except (TypeError, ValueError) as e:  # e.g. a string where a number belongs
        if isinstance(e, PathError):
            raise
        raise PathError(f"{path}: not a number ({e})") from None
    raise PathError(f"{path}: expected rows of waypoints or velocities (see moglow.paths)")


def _check_finite(values, names: list[str], where: str) -> None:
    """PathError naming ``where`` (file and line/row) and the column of the first NaN/inf value."""
    for name, v in zip(names, values, strict=True):
        if not math.isfinite(v):
            raise PathError(f"{where}: {name} is {float(v)!r}; path values must be finite numbers")


#: longest path a file may describe (frames at the model's rate): a day at 120 fps
MAX_PATH_FRAMES = 24 * 3600 * 120


def _check_frames(n: int, fps: float) -> int:
    if n > MAX_PATH_FRAMES:
        raise PathError(f"the path lasts {(n - 1) / fps:g} s ({n:,} frames at {fps:g} fps); at most "
                        f"{MAX_PATH_FRAMES:,} frames")
    return n


def _frame_count(num_frames: int | None, duration: float, fps: float) -> int:
    if num_frames is not None:
        return int(num_frames)
    return _check_frames(int(math.floor(min(duration * fps, 1e18) + 1e-9)) + 1, fps)


def _file_path(spec: PathSpec, num_frames: int | None, cfg: DataConfig) -> Trajectory:
    path = Path(spec.target or "")
    cols = dict(spec.table) if spec.table is not None else _read_table(path)
    params = _convert_params(spec.params, {"speed": 1.2}, "file")
    speed = params.get("speed", 1.2)
    fps = float(cfg.fps)
    lengths = {k: len(v) for k, v in cols.items()}
    if len(set(lengths.values())) != 1:
        raise PathError(f"{path}: columns differ in length: {lengths}")
    has_t = "t" in cols
    t_file = cols.get("t")
    if has_t and (len(t_file) < 2 or np.any(np.diff(t_file) <= 0)):
        raise PathError(f"{path}: column t must hold at least two strictly increasing times (seconds)")
    heading = np.deg2rad(cols["heading"]) if "heading" in cols else None
    if {"x", "z"} <= set(cols):
        x, z = cols["x"], cols["z"]
        if len(x) < 2:
            raise PathError(f"{path}: need at least two waypoints")
        if has_t:
            t0, t1 = float(t_file[0]), float(t_file[-1])
            n = _frame_count(num_frames, t1 - t0, fps)
            times = np.minimum(t0 + np.arange(n) / fps, t1)  # after the end: stand at the last waypoint
            k = min(3, len(x) - 1)
            spline = CubicSpline(t_file, np.stack([x, z], -1), bc_type="natural") if k == 3 else \
                make_interp_spline(t_file, np.stack([x, z], -1), k=k)
            xz = spline(times)
            file_times = times
        else:
            pts = np.stack([x, z], -1)
            chord = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(pts, axis=0), axis=-1))])
            if np.any(np.diff(chord) <= 0):
                raise PathError(f"{path}: consecutive waypoints must differ")
            k = min(3, len(x) - 1)
            spline = CubicSpline(chord, pts, bc_type="natural") if k == 3 else make_interp_spline(chord, pts, k=k)
            dense_u = np.linspace(0.0, chord[-1], 50 * len(x) + 1)
            dense = spline(dense_u)
            s = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(dense, axis=0), axis=-1))])
            if speed <= 0:
                raise PathError(f"{path}: speed must be positive for waypoints without times")
            n = int(num_frames) if num_frames is not None else _check_frames(
                int(math.ceil(min(s[-1] / speed * fps, 1e18) - 1e-9)) + 1, fps)
            dist = np.minimum(np.arange(n) * speed / fps, s[-1])
            xz = spline(np.interp(dist, s, dense_u))
            file_times = np.interp(dist, s, dense_u)  # heading column follows the waypoint parameter
            t_file = chord
    elif {"vx", "vz"} <= set(cols):
        v = np.stack([cols["vx"], cols["vz"]], -1)
        if has_t:
            t0, t1 = float(t_file[0]), float(t_file[-1])
            n = _frame_count(num_frames, t1 - t0, fps)
            times = t0 + np.arange(n) / fps
            v = np.stack([np.interp(times, t_file, v[:, i], right=0.0) for i in range(2)], -1)
            file_times = np.minimum(times, t1)
        else:
            n = len(v) if num_frames is None else int(num_frames)
            v = np.concatenate([v, np.zeros((max(0, n - len(v)), 2))])[:n]
            file_times = np.minimum(np.arange(n), len(cols["vx"]) - 1).astype(np.float64)
            t_file = np.arange(len(cols["vx"]), dtype=np.float64)
        step = np.concatenate([np.zeros((1, 2)), 0.5 * (v[1:] + v[:-1]) / fps])  # trapezoid rule
        xz = np.cumsum(step, axis=0)
    else:
        raise PathError(f"{path}: need columns x, z (waypoints) or vx, vz (velocities); found {', '.join(cols)}")
    if n < 2:
        raise PathError(f"{path}: the path is shorter than two frames")
    if heading is not None:
        h = np.interp(file_times, t_file, np.unwrap(heading))
        facing = np.stack([np.sin(h), np.cos(h)], -1)
    else:
        facing = facing_from_travel(xz, fps)
    return _trajectory(xz, facing, cfg, spec.text or str(path), source=None if spec.table is not None else str(path))


# ============================================================================ paths from Python
def _builtin_spec(kind: str, **params: Any) -> PathSpec:
    """A built-in path with parameters checked now (unknown names and bad values raise here)."""
    text_params = {k.replace("-", "_"): str(v) for k, v in params.items()}
    _convert_params(text_params, _defaults(_BUILT_INS[kind][0]), kind)
    text = kind + (":" + ",".join(f"{k}={v}" for k, v in text_params.items()) if text_params else "")
    return PathSpec(kind, None, text_params, text)


def line(speed: float = 1.2, heading: float = 0.0) -> PathSpec:
    """Straight ahead at ``speed`` m/s, facing ``heading`` degrees (0: +Z)."""
    return _builtin_spec("line", speed=speed, heading=heading)


def circle(radius: float = 3.0, speed: float = 1.2, turn: str = "left") -> PathSpec:
    """A circle of ``radius`` metres at ``speed`` m/s, turning ``"left"`` or ``"right"``."""
    return _builtin_spec("circle", radius=radius, speed=speed, turn=turn)


def figure8(size: float = 4.0, speed: float = 1.0) -> PathSpec:
    """A figure eight ``size`` metres long at ``speed`` m/s."""
    return _builtin_spec("figure8", size=size, speed=speed)


def stop_and_go(speed: float = 1.2, period: float = 4.0, duty: float = 0.5, ramp: float = 0.5) -> PathSpec:
    """Walk and stop in turn: ``period`` seconds per cycle, walking a ``duty`` share of it."""
    return _builtin_spec("stop-and-go", speed=speed, period=period, duty=duty, ramp=ramp)


def random_path(seed: int = 0, speed: float = 1.2, turn: float = 45.0, smooth: float = 1.5) -> PathSpec:
    """Smooth random turns (``turn``: std in deg/s, ``smooth``: seconds)."""
    return _builtin_spec("random", seed=seed, speed=speed, turn=turn, smooth=smooth)


def waypoints(xz: Any, times: Any = None, heading: Any = None, speed: float = 1.2) -> PathSpec:
    """A path through waypoints ``xz`` (K, 2) metres: at ``times`` (K,) seconds (cubic spline), or
    walked at ``speed`` m/s without times; ``heading`` (K,) degrees, default: direction of travel."""
    xz = np.asarray(xz, dtype=np.float64)
    if xz.ndim != 2 or xz.shape[1] != 2 or len(xz) < 2:
        raise PathError(f"waypoints must be (K, 2) with K >= 2; got {xz.shape}")
    return _table_spec({"x": xz[:, 0], "z": xz[:, 1]}, times, heading, {"speed": str(speed)}, "waypoints")


def velocities(v: Any, times: Any = None, heading: Any = None) -> PathSpec:
    """A path from velocities ``v`` (K, 2) m/s: at ``times`` (K,) seconds, else one row per model frame."""
    v = np.asarray(v, dtype=np.float64)
    if v.ndim != 2 or v.shape[1] != 2 or len(v) < 1:
        raise PathError(f"velocities must be (K, 2); got {v.shape}")
    return _table_spec({"vx": v[:, 0], "vz": v[:, 1]}, times, heading, {}, "velocities")


def _table_spec(cols: dict, times: Any, heading: Any, params: dict, name: str) -> PathSpec:
    n = len(next(iter(cols.values())))
    for key, extra in (("t", times), ("heading", heading)):
        if extra is not None:
            extra = np.asarray(extra, dtype=np.float64).reshape(-1)
            if len(extra) != n:
                raise PathError(f"{name}: {key} has {len(extra)} values for {n} rows")
            cols[key] = extra
    return PathSpec("file", f"<{name}>", params, f"{name}({n} rows)", table=cols)


# ============================================================================ BVH takes
def _bvh_path(spec: PathSpec, num_frames: int | None, cfg: DataConfig, profile) -> Trajectory:
    """The take's own features, extracted exactly as in training (resampling, heading, control)."""
    from data_pipeline.bvh import read_bvh
    from data_pipeline.features import extract_features, model_joint_positions
    from data_pipeline.profiles import load_profile
    from data_pipeline.resample import resample_motion

    if spec.params:
        raise PathError(f"bvh paths take no parameters, got {', '.join(spec.params)}")
    if profile is None:
        raise PathError("a bvh: path needs the skeleton profile of the training data")
    path = Path(spec.target or "")
    if not path.exists():
        raise PathError(f"BVH take not found: {path}")
    profile = load_profile(profile)
    motion = read_bvh(path)
    seq = extract_features(motion, profile, cfg)
    root_xz, theta = integrate_control(seq.control, seq.root_start)
    truth = model_joint_positions(resample_motion(motion, float(cfg.fps), cfg.source_fps_tolerance), profile)
    if truth.shape[0] != seq.num_frames:  # both come from the same resampling; guard anyway
        truth = None
    traj = Trajectory(root_xz, theta, float(cfg.fps), spec.text or str(path), exact_control=seq.control,
                      poses=seq.poses, ground_truth=truth, source=str(path))
    if num_frames is not None:
        if num_frames > traj.num_frames:
            warnings.warn(f"{path} has {traj.num_frames} frames at {cfg.fps:g} fps, fewer than the {num_frames} "
                          "asked for; using the whole take", stacklevel=3)
        else:
            traj = traj.crop(num_frames)
    return traj


# ============================================================================ entry point
def make_path(spec: str | PathSpec, num_frames: int | None, cfg: DataConfig, profile=None) -> Trajectory:
    """Build the trajectory a spec describes.

    Args:
        spec: a path spec (see the module docstring) or a parsed :class:`PathSpec`.
        num_frames: frames at ``cfg.fps``; None: a file's or take's own length (required
            for built-in paths).
        cfg: the training data config: frame rate and heading smoothing (and, for ``bvh:``
            takes, the whole feature extraction).
        profile: the skeleton profile (name, path or object), needed for ``bvh:`` takes.
    Returns:
        a :class:`Trajectory`; its :meth:`Trajectory.control` is the model's control signal
        (un-normalised).
    """
    spec = parse_path_spec(spec) if isinstance(spec, str) else spec
    if spec.kind == "bvh":
        return _bvh_path(spec, num_frames, cfg, profile)
    if spec.kind == "file":
        try:
            return _file_path(spec, num_frames, cfg)
        except PathError as e:  # every problem of a path file names the file
            if str(spec.target) in str(e):
                raise
            raise PathError(f"{spec.target}: {e}") from None
    if num_frames is None or num_frames < 2:
        raise PathError(f"path {spec.kind!r} needs a length of at least 2 frames, got {num_frames}")
    fn = _BUILT_INS[spec.kind][0]
    params = _convert_params(spec.params, _defaults(fn), spec.kind)
    fps = float(cfg.fps)
    times = np.arange(int(num_frames)) / fps
    xz, facing = fn(times, fps, **params)
    return _trajectory(xz, facing, cfg, spec.text or spec.kind)
