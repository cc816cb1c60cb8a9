"""pyrender scene for skeleton clips: a checker floor, soft lights, path ribbons and skeletons.

Importing this module imports pyrender, so the GL platform is chosen on import (see
:mod:`visualize.gl_platform`; call ``select_platform(name)`` first to force one). The parts:
:mod:`visualize.style` (colours, sizes), :mod:`visualize.meshes` (unit shapes, materials,
instanced primitives), :mod:`visualize.skeletons` (the characters),
:mod:`visualize.renderer_patches` (shaders, colour-only read-back).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from . import geometry as geo
from .meshes import Shapes, floor_material, material, pyrender, static_mesh
from .renderer_patches import glsl_vec3
from .skeletons import CharacterTrack, InstancedSkeleton, PerNodeSkeleton
from .style import Style, display_to_linear

__all__ = ["Panel", "SceneOptions", "SkeletonScene"]


@dataclass
class Panel:
    """One view of the frame: which characters it shows and its camera track.

    Attributes:
        characters: indices of the characters visible in this panel.
        camera_poses: (F, 4, 4) camera-to-world poses.
        legend: [(text, sRGB colour)] drawn at the panel's top (empty: none).
    """

    characters: list[int]
    camera_poses: np.ndarray
    legend: list = field(default_factory=list)


@dataclass
class SceneOptions:
    """Scene-wide choices.

    Attributes:
        layout: "side" (one panel per character, each with its own following camera) or
            "overlay" (all characters in one panel).
        floor_y: floor height in metres; None: 0 when the lowest joint lies within
            [-5 cm, 50 cm] of it, else the lowest joint height.
        shared_path: (P, 2) metres, a control path drawn in every panel, or None.
        azimuth_deg: camera direction about Y in degrees; None: three-quarter front view of the
            overall travel.
        yfov_deg: vertical field of view; smoothing_s: camera smoothing (Gaussian sigma) in seconds.
        instanced: False draws one node per joint/bone (the slow reference).
    """

    layout: str = "side"
    floor_y: float | None = None
    shared_path: np.ndarray | None = None
    azimuth_deg: float | None = None
    elevation_deg: float = 12.0
    yfov_deg: float = 40.0
    smoothing_s: float = 0.6
    instanced: bool = True
    style: Style = field(default_factory=Style)


class SkeletonScene:
    """A pyrender scene holding every character of a clip, its floor, paths, lights and camera.

    Args:
        tracks: characters (frames may differ; shorter ones hold their last pose).
        fps: frames per second (for the camera smoothing).
        panel_size: (width, height) in pixels of one panel (for the camera's aspect ratio).
        options: see :class:`SceneOptions`.
    """

    def __init__(self, tracks: list[CharacterTrack], fps: float, panel_size: tuple[int, int],
                 options: SceneOptions | None = None):
        if not tracks:
            raise ValueError("nothing to render: no character tracks")
        self.options = opt = options or SceneOptions()
        if opt.layout not in ("side", "overlay"):
            raise ValueError(f"layout must be 'side' or 'overlay', got {opt.layout!r}")
        style = opt.style
        self.tracks = tracks
        self.num_frames = max(t.num_frames for t in tracks)
        all_pos = np.concatenate([t.positions.reshape(-1, 3) for t in tracks])
        height = float(np.median([geo.character_height(t.positions) for t in tracks]))
        if not 0.3 <= height <= 3.0:
            warnings.warn(f"the skeleton is {height:.3g} m tall: positions should be in metres "
                          "(drawing it anyway, scaled to its size)", stacklevel=3)
        self.height = height = height if height > 1e-6 else 1.0
        self.scale = scale = height / 1.7  # radii, path width and fog follow the character's size
        ymin = float(all_pos[:, 1].min())
        self.floor_y = opt.floor_y if opt.floor_y is not None else (0.0 if -0.05 <= ymin <= 0.5 else ymin)

        self.scene = pyrender.Scene(bg_color=(*style.background, 1.0),
                                    ambient_light=np.full(3, style.ambient))
        self.roots = np.stack([t.root_xz[np.minimum(np.arange(self.num_frames), t.num_frames - 1)] for t in tracks])
        reference = opt.shared_path if opt.shared_path is not None else self.roots[0]
        self.azimuth = np.radians(opt.azimuth_deg) if opt.azimuth_deg is not None else geo.auto_azimuth(reference)
        light = self._add_lights(style)
        shared = [] if opt.shared_path is None else [np.asarray(opt.shared_path, float).reshape(-1, 2)]
        self._add_floor(style, tracks, shared)

        shadow_m = geo.planar_shadow_matrix(light, self.floor_y) if style.shadow else None
        shapes = Shapes.make(style)
        shadow_mat = floor_material(style.shadow_strength)
        cls = InstancedSkeleton if opt.instanced else PerNodeSkeleton
        self.skeletons = [cls(self.scene, t, scale, style, shadow_m, shapes, shadow_mat) for t in tracks]

        # paths: one ribbon per distinct path; path markers not needed (the shadow shows the root)
        self.path_meshes: list[list] = [[] for _ in tracks]
        lift = self.floor_y + 1e-3
        self.shared_path_meshes = [self._ribbon(p, style.path_width * scale, lift, style.path_color) for p in shared]
        for i, t in enumerate(tracks):
            if t.path is not None:
                color = np.asarray(t.color) * 0.75 if opt.layout == "overlay" or shared else style.path_color
                self.path_meshes[i].append(self._ribbon(t.path, style.path_width * scale, lift, color))

        self.panel_size = panel_size
        self.camera = pyrender.PerspectiveCamera(yfov=np.radians(opt.yfov_deg),
                                                 aspectRatio=panel_size[0] / panel_size[1], znear=0.05,
                                                 zfar=1000.0)
        self.camera_node = self.scene.add(self.camera, pose=np.eye(4))
        self.panels = self._make_panels(fps, height)

    # -- construction helpers
    def _add_lights(self, style: Style) -> np.ndarray:
        """A key light beside the camera and a weaker fill from the opposite side; returns the
        key light's direction of travel (3,)."""
        yaw, pitch = np.radians(style.key_light_angles)

        def travel(azimuth, elevation):  # light travelling from the direction (azimuth, elevation)
            return -np.array([np.sin(azimuth) * np.cos(elevation), np.sin(elevation),
                              np.cos(azimuth) * np.cos(elevation)])

        key = travel(self.azimuth + yaw, pitch)
        fill = travel(self.azimuth - yaw - np.pi / 2, np.radians(30.0))
        for d, intensity in ((key, style.key_light), (fill, style.fill_light)):
            self.scene.add(pyrender.DirectionalLight(color=np.ones(3), intensity=intensity),
                           pose=geo.look_at(-d, np.zeros(3)))
        return key

    def _add_floor(self, style: Style, tracks, shared) -> None:
        pts = [t.root_xz for t in tracks] + [t.path for t in tracks if t.path is not None] + shared
        pts = np.concatenate(pts)
        far = 40.0 * self.scale + 20.0  # well past the fog's end
        lo, hi = pts.min(axis=0) - far, pts.max(axis=0) + far
        xz = np.array([[lo[0], lo[1]], [hi[0], lo[1]], [hi[0], hi[1]], [lo[0], hi[1]]])
        v = np.stack([xz[:, 0], np.full(4, self.floor_y), xz[:, 1]], axis=1).astype(np.float32)
        n = np.tile([0.0, 1.0, 0.0], (4, 1)).astype(np.float32)
        faces = np.array([[0, 2, 1], [0, 3, 2]])
        # the checkerboard itself is drawn by the shader (anti-aliased, see shaders/mesh.frag)
        self.scene.add(static_mesh(v, n, faces, floor_material(1.0)))

    def _ribbon(self, path, width, y, color):
        v, f = geo.ribbon(path, width, y)
        if len(f) == 0:
            return None
        n = np.tile([0.0, 1.0, 0.0], (len(v), 1)).astype(np.float32)
        mesh = static_mesh(v, n, f, material(color, roughness=0.8))
        self.scene.add(mesh)
        return mesh

    def _make_panels(self, fps: float, height: float) -> list[Panel]:
        opt = self.options
        F = self.num_frames
        roots = self.roots  # (N, F, 2), shorter tracks hold their last pose
        frame = np.minimum(np.arange(F)[None], np.array([t.num_frames - 1 for t in self.tracks])[:, None])
        y = [t.positions[frame[i], :, 1] for i, t in enumerate(self.tracks)]  # (F, J) each
        centre_y = np.stack([0.5 * (yi.min(axis=1) + yi.max(axis=1)) for yi in y])  # (N, F)
        # look at the middle of the body, but never below half the height above the floor
        centre_y = np.maximum(centre_y, self.floor_y + 0.5 * height)
        azimuth = self.azimuth
        w, h = self.panel_size
        kw = dict(height=height, floor_y=self.floor_y, yfov=np.radians(opt.yfov_deg), aspect=w / h,
                  azimuth=azimuth, elevation=np.radians(opt.elevation_deg), sigma_frames=opt.smoothing_s * fps)
        if opt.layout == "overlay":
            centre = roots.mean(axis=0)
            spread = np.linalg.norm(roots - centre, axis=-1).max(axis=0)
            cams = geo.follow_camera(centre, extra_radius=2 * spread, centre_y=centre_y.mean(axis=0), **kw)
            legend = [(t.label, t.color) for t in self.tracks if t.label]
            return [Panel(list(range(len(self.tracks))), cams, legend)]
        return [Panel([i], geo.follow_camera(roots[i], centre_y=centre_y[i], **kw),
                      [(t.label, t.color)] if t.label else [])
                for i, t in enumerate(self.tracks)]

    def shader_defines(self) -> dict[str, str]:
        """Constants substituted into shaders/mesh.frag."""
        st = self.options.style
        start, end = (d * self.scale for d in st.fog)
        return {
            "VIS_FLOOR_A": glsl_vec3(display_to_linear(st.floor_colors[0])),
            "VIS_FLOOR_B": glsl_vec3(display_to_linear(st.floor_colors[1])),
            "VIS_TILE": f"{st.tile:.6f}",
            "VIS_GROUND_TINT": glsl_vec3((0.55, 0.55, 0.6)),
            "VIS_WRAP": "0.35",
            "VIS_FOG_START": f"{start:.4f}",
            "VIS_FOG_END": f"{end:.4f}",
            "VIS_FOG_COLOR": glsl_vec3(display_to_linear(st.background)),
        }

    # -- per frame
    def show_panel(self, panel: Panel, f: int) -> None:
        """Make only ``panel``'s characters visible, pose them and the camera for frame ``f``."""
        visible = set(panel.characters)
        for i, sk in enumerate(self.skeletons):
            on = i in visible
            for m in sk.meshes + [m for m in self.path_meshes[i] if m is not None]:
                m.is_visible = on
            if on:
                sk.set_frame(self.scene, f)
        self.scene.set_pose(self.camera_node, panel.camera_poses[min(f, len(panel.camera_poses) - 1)])
