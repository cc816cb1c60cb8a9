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

    >>> from data_pipeline.config import DataConfig
    >>> cfg = DataConfig(fps=20, heading_sigma_s=0.2)
    >>> path = make_path("circle:radius=2,speed=1", 200, cfg)
    >>> path.control().shape                # (dx, dz, dtheta) per frame
    (200, 3)

Layout: :mod:`~moglow.paths.trajectory` (what a path is, heading conventions),
:mod:`~moglow.paths.shapes` (the built-in shapes), :mod:`~moglow.paths.spec` (spec text and the
Python constructors), :mod:`~moglow.paths.files` (CSV/JSON path files), :mod:`~moglow.paths.make`
(:func:`make_path`).
"""
from __future__ import annotations

from moglow.paths.make import make_path
from moglow.paths.shapes import built_in_paths
from moglow.paths.spec import (circle, figure8, line, parse_path_spec, random_path, stop_and_go, velocities,
                               waypoints)
from moglow.paths.trajectory import PathError, PathSpec, Trajectory, facing_from_travel, heading_from_facing

__all__ = ["Trajectory", "PathSpec", "parse_path_spec", "make_path", "built_in_paths", "facing_from_travel",
           "heading_from_facing", "PathError", "line", "circle", "figure8", "stop_and_go", "random_path",
           "waypoints", "velocities"]
