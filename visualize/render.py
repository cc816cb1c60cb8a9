"""Render skeleton clips to frames and to H.264 MP4 videos.

Entry points:

* :func:`render_positions`: arrays in, video out — world joint positions (F, J, 3) or several
  samples (N, F, J, 3), a parent list, optional control path(s) and ground truth.
* :func:`render_clip`: the same from :class:`~visualize.skeletons.CharacterTrack` objects.
* :class:`ClipRenderer`: a context manager giving frames one by one (``render(f)``), for
  tests, previews and custom encoders. It owns a pyrender ``OffscreenRenderer`` and always
  deletes it on exit.

Renderers must be created in the main process or a *spawned* one, never in a forked child
(see :mod:`visualize.gl_platform`).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .gl_platform import check_not_forked, gl_info, select_platform
from .overlay import TextOverlay
from data_pipeline.errors import InputError


@dataclass
class RenderReport:
    """What :func:`render_clip` did.

    Attributes:
        path: the video file; frames: frames written; fps: video frame rate.
        seconds: wall time rendering and encoding; render_fps: frames / seconds.
        gl_platform: description of the OpenGL platform used.
    """

    path: Path
    frames: int
    fps: float
    seconds: float
    render_fps: float
    gl_platform: str


class ClipRenderer:
    """Frames of a clip, rendered off-screen with pyrender.

    Args:
        tracks: the characters (:class:`~visualize.skeletons.CharacterTrack`).
        fps: frames per second of the clip.
        width, height: size of the whole frame in pixels; with layout "side" and N characters
            it is split into N panels side by side.
        options: :class:`~visualize.scene.SceneOptions` (layout, camera, style, ...).
        gl_platform: "auto", "egl" or "osmesa" (see :func:`visualize.gl_platform.select_platform`).
        fast_readback: read back colour only (True), or pyrender's colour and depth (the
            reference path of the speed benchmark).

    Example::

        with ClipRenderer([CharacterTrack(positions, parents)], fps=30) as r:
            first = r.render(0)   # (480, 640, 3) uint8
    """

    def __init__(self, tracks, fps: float, width: int = 640, height: int = 480, options=None,
                 gl_platform: str | None = "auto", fast_readback: bool = True):
        check_not_forked()
        select_platform(gl_platform)
        from .renderer_patches import configure_renderer, pyrender  # noqa: PLC0415
        from .scene import SceneOptions, SkeletonScene  # noqa: PLC0415

        options = options or SceneOptions()
        n_panels = len(tracks) if options.layout == "side" else 1
        self.width, self.height = int(width), int(height)
        self.panel_width = self.width // n_panels // 4 * 4  # rows of whole words for glReadPixels
        if self.panel_width < 16:
            raise InputError(f"frame width {width} is too small for {n_panels} panels side by side")
        self.scene = SkeletonScene(tracks, fps, (self.panel_width, self.height), options)
        self.fps = float(fps)
        self.num_frames = self.scene.num_frames
        background = np.round(np.asarray(options.style.background) * 255).astype(np.uint8)
        self._frame = np.empty((self.height, self.width, 3), np.uint8)
        self._frame[:] = background
        self._labels = [TextOverlay(p.legend, self.panel_width) if p.legend else None for p in self.scene.panels]
        self._pyrender = pyrender
        self._configure = configure_renderer
        self._fast_readback = fast_readback
        self._renderer = None

    def __enter__(self) -> ClipRenderer:
        self._renderer = self._pyrender.OffscreenRenderer(self.panel_width, self.height)
        try:
            self._configure(self._renderer, self.scene, color_only=self._fast_readback)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Free the GL context (idempotent)."""
        if self._renderer is not None:
            try:
                self._renderer.delete()
            finally:
                self._renderer = None

    def __len__(self) -> int:
        return self.num_frames

    def render(self, f: int) -> np.ndarray:
        """Frame ``f`` as (height, width, 3) uint8 RGB. The returned array is reused by the
        next call: copy it to keep it."""
        if self._renderer is None:
            raise RuntimeError("ClipRenderer is not open: use it as a context manager (with ... as r:)")
        if not 0 <= f < self.num_frames:
            raise IndexError(f"frame {f} out of range 0..{self.num_frames - 1}")
        for k, panel in enumerate(self.scene.panels):
            self.scene.show_panel(panel, f)
            color, _ = self._renderer.render(self.scene.scene)
            x0 = k * self.panel_width
            self._frame[:, x0:x0 + self.panel_width] = color
            if self._labels[k] is not None:
                self._labels[k].draw(self._frame[:, x0:x0 + self.panel_width])
        return self._frame


def render_clip(tracks, out_path: str | Path, fps: float, width: int = 640, height: int = 480, options=None,
                gl_platform: str | None = "auto", crf: int = 20, progress: bool = True,
                overlapped: bool = True, fast_readback: bool = True) -> RenderReport:
    """Render characters to an H.264 MP4 (libx264, yuv420p), encoding while rendering.

    Args:
        tracks: list of :class:`~visualize.skeletons.CharacterTrack`.
        out_path: the .mp4 file to write.
        fps: frames per second; width, height: frame size in pixels (made even).
        options: :class:`~visualize.scene.SceneOptions`.
        crf: x264 quality; progress: show a progress bar (one line when stderr is not a terminal);
        overlapped: encode in parallel.
        fast_readback: see :class:`ClipRenderer`.

    Returns:
        :class:`RenderReport`.
    """
    from data_pipeline.progress import progress_bar  # noqa: PLC0415

    from .video import VideoWriter  # noqa: PLC0415

    width, height = int(width) // 2 * 2, int(height) // 2 * 2
    start = time.perf_counter()
    with ClipRenderer(tracks, fps, width, height, options, gl_platform, fast_readback) as renderer, \
            VideoWriter(out_path, width, height, fps, crf=crf, overlapped=overlapped) as writer:
        for f in progress_bar(range(len(renderer)), desc=f"render {Path(out_path).name}", unit="frame",
                      disable=not progress, leave=False):
            writer.write(renderer.render(f))
    seconds = time.perf_counter() - start
    info = gl_info()
    return RenderReport(Path(out_path), writer.frames_written, float(fps), seconds,
                        writer.frames_written / max(seconds, 1e-9), info.describe() if info else "unknown")


def make_tracks(positions: np.ndarray, parents: np.ndarray, paths: np.ndarray | None = None,
                labels: list[str] | None = None, ground_truth: np.ndarray | None = None,
                ground_truth_path: np.ndarray | None = None, root: int = 0):
    """Build :class:`~visualize.skeletons.CharacterTrack` objects from arrays.

    Args:
        positions: (F, J, 3) or (N, F, J, 3) world joint positions in metres, Y up.
        parents: (J,) parent indices, -1 for the root.
        paths: (F, 2) one floor path (x, z) for every sample, or (N, F, 2) one per sample, metres.
        labels: N names (default "sample 1", ...; a single sample without ground truth: none).
        ground_truth: (F', J, 3) metres, drawn first, labelled "ground truth".
        ground_truth_path: (F', 2) its path; default: ``paths`` if that is a single path.
        root: joint the camera follows.

    Returns:
        (tracks, shared_path): the tracks, and the path to draw in every panel (or None).
    """
    from .skeletons import CharacterTrack  # noqa: PLC0415
    from .style import PALETTE, sample_color  # noqa: PLC0415

    positions = np.asarray(positions, dtype=np.float64)
    if positions.ndim == 3:
        positions = positions[None]
    if positions.ndim != 4 or positions.shape[-1] != 3:
        raise ValueError(f"positions must be (F, J, 3) or (N, F, J, 3); got {positions.shape}")
    from .inputs import check_positions  # noqa: PLC0415

    check_positions(positions, "render")
    if ground_truth is not None:
        check_positions(ground_truth, "render", "ground_truth")
    n = positions.shape[0]
    shared = None
    per_sample = [None] * n
    if paths is not None:
        paths = np.asarray(paths, dtype=np.float64)
        if paths.ndim == 2 and paths.shape[-1] == 2:
            shared = paths
        elif paths.ndim == 3 and paths.shape[0] == n and paths.shape[-1] == 2:
            per_sample = list(paths)
        else:
            raise ValueError(f"paths must be (F, 2) or ({n}, F, 2); got {paths.shape}")
    if labels is None:
        labels = [f"sample {i + 1}" for i in range(n)] if (n > 1 or ground_truth is not None) else [None]
    if len(labels) != n:
        raise ValueError(f"got {len(labels)} labels for {n} samples")
    tracks = []
    if ground_truth is not None:
        gt = np.asarray(ground_truth, dtype=np.float64)
        if gt.ndim != 3 or gt.shape[1:] != positions.shape[2:]:
            raise ValueError(f"ground_truth must be (F, {positions.shape[2]}, 3); got {gt.shape}")
        tracks.append(CharacterTrack(gt, parents, PALETTE["ground_truth"], "ground truth",
                                     ground_truth_path, root))
    for i in range(n):
        tracks.append(CharacterTrack(positions[i], parents, sample_color(i), labels[i], per_sample[i], root))
    return tracks, shared


def default_width(num_panels: int) -> int:
    """Frame width for ``num_panels`` side by side: 640 for one, else 360 per panel (max 1920)."""
    return 640 if num_panels <= 1 else min(1920, 360 * num_panels)


def render_positions(positions: np.ndarray, parents: np.ndarray, out_path: str | Path, fps: float,
                     paths: np.ndarray | None = None, labels: list[str] | None = None,
                     ground_truth: np.ndarray | None = None, ground_truth_path: np.ndarray | None = None,
                     layout: str = "side", width: int | None = None, height: int = 480, root: int = 0,
                     gl_platform: str | None = "auto", progress: bool = True, crf: int = 20,
                     **scene_options) -> RenderReport:
    """Render joint positions to an MP4: one or several samples, side by side or overlaid,
    optionally with ground truth beside them and the control path on the floor.

    Args:
        positions: (F, J, 3) or (N, F, J, 3) metres, Y up; parents: (J,), -1 for the root.
        out_path: .mp4 file; fps: frames per second.
        paths: (F, 2) shared control path or (N, F, 2) one per sample, metres (x, z).
        labels: N sample names; ground_truth: (F', J, 3) metres drawn first; ground_truth_path: (F', 2).
        layout: "side" or "overlay"; width (default :func:`default_width`), height: whole frame in pixels.
        root: joint the camera follows; crf: x264 quality.
        scene_options: more :class:`~visualize.scene.SceneOptions` fields (azimuth_deg, floor_y, style, ...).

    Returns:
        :class:`RenderReport`.

    Example::

        render_positions(samples, parents, "out.mp4", fps=20, paths=control_path, ground_truth=gt)
    """
    select_platform(gl_platform)
    from .scene import SceneOptions  # noqa: PLC0415

    tracks, shared = make_tracks(positions, parents, paths, labels, ground_truth, ground_truth_path, root=root)
    if width is None:
        width = default_width(len(tracks) if layout == "side" else 1)
    options = SceneOptions(layout=layout, shared_path=shared, **scene_options)
    return render_clip(tracks, out_path, fps, width, height, options, gl_platform, crf=crf, progress=progress)
