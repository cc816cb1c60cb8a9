"""Path files: CSV or JSON waypoints or velocities (with optional times and headings) read into
a :class:`~moglow.paths.trajectory.Trajectory`; every problem names the file and row."""
from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
from scipy.interpolate import CubicSpline, make_interp_spline

from data_pipeline.config import DataConfig
from moglow.paths.shapes import convert_params
from moglow.paths.trajectory import (PathError, PathSpec, Trajectory, facing_from_travel,
                                      trajectory_from_facing)

__all__ = ["MAX_PATH_FRAMES", "file_trajectory"]


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


def file_trajectory(spec: PathSpec, num_frames: int | None, cfg: DataConfig) -> Trajectory:
    path = Path(spec.target or "")
    cols = dict(spec.table) if spec.table is not None else _read_table(path)
    params = convert_params(spec.params, {"speed": 1.2}, "file")
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
    return trajectory_from_facing(xz, facing, cfg, spec.text or str(path),
                                  source=None if spec.table is not None else str(path))
