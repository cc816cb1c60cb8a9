"""Path specs: :func:`parse_path_spec` reads ``--path`` text; :func:`line`, :func:`circle`,
:func:`waypoints`, ... build the same :class:`~moglow.paths.trajectory.PathSpec` from Python."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from moglow.paths.trajectory import (PathError, PathSpec)
from moglow.paths.shapes import BUILT_INS, convert_params, shape_defaults

__all__ = ["parse_path_spec", "line", "circle", "figure8", "stop_and_go", "random_path", "waypoints", "velocities"]


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
    if name not in BUILT_INS:
        raise PathError(f"unknown path {name!r}: use one of {', '.join(BUILT_INS)}, a .csv/.json file of "
                        f"waypoints or velocities, or bvh:FILE")
    params = {}
    for item in filter(None, (s.strip() for s in rest.split(","))) if sep else []:
        key, eq, value = item.partition("=")
        if not eq:
            raise PathError(f"path {text!r}: expected key=value, got {item!r}")
        params[key.strip()] = value.strip()
    return PathSpec(name, None, params, text)



def _builtin_spec(kind: str, **params: Any) -> PathSpec:
    """A built-in path with parameters checked now (unknown names and bad values raise here)."""
    text_params = {k.replace("-", "_"): str(v) for k, v in params.items()}
    convert_params(text_params, shape_defaults(BUILT_INS[kind][0]), kind)
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
