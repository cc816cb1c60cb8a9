"""Rendering of skeleton motion: world joint positions + a parent list in, H.264 MP4 out.

Knows nothing about models. Main entry points (imported lazily, so that ``import visualize``
stays cheap and does not import pyrender before the OpenGL platform is chosen):

* :func:`render_positions` (``visualize.render``): (F, J, 3) or (N, F, J, 3) metres, Y up,
  parents (J,) -> MP4; samples side by side or overlaid, ground truth beside them, the control
  path on the floor.
* :class:`ClipRenderer`: frames one by one, for previews and tests.
* :func:`load_clip` (``visualize.inputs``): read a .bvh (any skeleton) or .npz to render.
* :func:`plot_training_curves`, :func:`plot_paths` (``visualize.plots``): matplotlib PNGs.
* :func:`select_platform` (``visualize.gl_platform``): EGL, else OSMesa, chosen automatically.

Example::

    from visualize import render_positions
    report = render_positions(samples, parents, "samples.mp4", fps=20, paths=control_path,
                              ground_truth=gt_positions)
    print(report.render_fps, report.gl_platform)
"""
from __future__ import annotations

import importlib

_EXPORTS = {
    "render_positions": "render", "render_clip": "render", "ClipRenderer": "render", "RenderReport": "render",
    "make_tracks": "render",
    "load_clip": "inputs", "Clip": "inputs",
    "plot_training_curves": "plots", "plot_paths": "plots",
    "select_platform": "gl_platform", "gl_info": "gl_platform",
    "VideoWriter": "video", "probe_video": "video",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'visualize' has no attribute {name!r}")
