"""pyrender scene for skeleton clips: a checker floor, soft lights, path ribbons and skeletons.

Importing this module imports pyrender, so the GL platform is chosen on import (see
:mod:`visualize.gl_platform`; call ``select_platform(name)`` first to force one).

Skeletons are drawn in one of two ways with identical pictures:

* :class:`InstancedSkeleton` (the default): one sphere primitive instanced for all joints and
  one open-tube primitive instanced for all bones (plus the same two for the drop shadow).
  A frame only rewrites the instance-matrix buffers (``glBufferSubData``, done lazily when
  pyrender binds the primitive), so a frame costs a handful of draw calls whatever the
  number of joints. pyrender 0.1.45 itself uploads ``Primitive.poses`` once, when the
  primitive enters the GL context; assigning new poses afterwards would change only the
  instance *count*, hence the subclass :class:`DynamicInstancePrimitive`.
* :class:`PerNodeSkeleton`: the plain pyrender way, one mesh node per joint and per bone,
  moved with ``Scene.set_pose`` every frame. Kept as the reference that the speed benchmark
  and the tests compare against.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import geometry as geo
from .gl_platform import import_pyrender

pyrender = import_pyrender()
from OpenGL.GL import (  # noqa: E402  (after the platform is chosen)
    GL_ARRAY_BUFFER, GL_COLOR_BUFFER_BIT, GL_DRAW_FRAMEBUFFER, GL_DYNAMIC_DRAW, GL_LINEAR, GL_PACK_ALIGNMENT,
    GL_READ_FRAMEBUFFER, GL_RGB, GL_UNSIGNED_BYTE, glBindBuffer, glBindFramebuffer, glBlitFramebuffer,
    glBufferData, glBufferSubData, glPixelStorei, glReadPixels)
from pyrender.shader_program import ShaderProgramCache  # noqa: E402

SHADER_DIR = Path(__file__).resolve().parent / "shaders"
PYRENDER_SHADER_DIR = Path(pyrender.__file__).resolve().parent / "shaders"


def display_to_linear(rgb) -> np.ndarray:
    """Display colour(s) in [0, 1] to the shader's linear space: squared (shaders/mesh.frag
    outputs sqrt, a gamma of 2, cheaper than pow on a software rasteriser)."""
    c = np.asarray(rgb, dtype=np.float64)
    return c * c


#: sRGB colours: ground truth first, then generated samples
PALETTE = {
    "ground_truth": (0.36, 0.47, 0.66),
    "samples": [(0.93, 0.52, 0.16), (0.13, 0.62, 0.58), (0.62, 0.40, 0.80), (0.85, 0.30, 0.32),
                (0.45, 0.68, 0.22), (0.90, 0.74, 0.18), (0.30, 0.55, 0.85), (0.70, 0.45, 0.30)],
}


def sample_color(i: int) -> tuple[float, float, float]:
    """The i-th colour of the sample palette (cycled)."""
    return PALETTE["samples"][i % len(PALETTE["samples"])]


@dataclass
class Style:
    """Look of the scene. Lengths are multiplied by the character's height / 1.7 m.

    Attributes:
        joint_radius, bone_radius: metres for a 1.7 m character (scaled with its height).
        tile: checker tile size in metres (not scaled).
        floor_colors: the two sRGB tile colours; background: sRGB.
        path_width: metres; path_color: sRGB for a control path shared by all characters.
        shadow: draw drop shadows; shadow_strength: floor brightness inside a shadow (0..1).
        key_light_angles: (degrees about Y from the camera's direction, degrees above the floor)
            of the direction towards the key light, which also casts the drop shadow.
        ambient, key_light, fill_light: light intensities.
        fog: (start, end) distance from the camera in metres (scaled) where the floor fades out.
        sphere_detail: icosphere subdivisions; tube_sections: bone tube segments.
    """

    joint_radius: float = 0.034
    bone_radius: float = 0.026
    tile: float = 0.5
    floor_colors: tuple = ((0.84, 0.84, 0.82), (0.70, 0.71, 0.70))
    background: tuple = (0.90, 0.92, 0.95)
    path_width: float = 0.035
    path_color: tuple = (0.80, 0.18, 0.22)
    shadow: bool = True
    shadow_strength: float = 0.55
    key_light_angles: tuple = (40.0, 55.0)
    ambient: float = 0.45
    key_light: float = 2.4
    fill_light: float = 0.8
    fog: tuple = (9.0, 30.0)
    sphere_detail: int = 2
    tube_sections: int = 14


# --------------------------------------------------------------------------- meshes


def unit_sphere(subdivisions: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unit icosphere: (vertices (V,3), normals (V,3), faces (T,3))."""
    import trimesh  # noqa: PLC0415

    s = trimesh.creation.icosphere(subdivisions=subdivisions, radius=1.0)
    v = np.asarray(s.vertices, dtype=np.float32)
    return v, v / np.linalg.norm(v, axis=1, keepdims=True), np.asarray(s.faces, dtype=np.int64)


def unit_tube(sections: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Open cylinder, radius 1, along Z from -0.5 to 0.5, smooth radial normals.

    Returns (vertices (2S,3), normals (2S,3), faces (2S,3)), faces wound outwards.
    """
    a = 2 * np.pi * np.arange(sections) / sections
    ring = np.stack([np.cos(a), np.sin(a), np.zeros(sections)], axis=1)
    v = np.concatenate([ring + [0, 0, -0.5], ring + [0, 0, 0.5]]).astype(np.float32)
    n = np.concatenate([ring, ring]).astype(np.float32)
    i = np.arange(sections)
    j = (i + 1) % sections
    f = np.concatenate([np.stack([i, j, j + sections], 1), np.stack([i, j + sections, i + sections], 1)])
    return v, n, f.astype(np.int64)


def unit_disc(sections: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Horizontal disc, radius 1, in the XZ plane, facing +Y: (vertices, normals, faces)."""
    a = 2 * np.pi * np.arange(sections) / sections
    v = np.concatenate([[[0.0, 0.0, 0.0]], np.stack([np.cos(a), np.zeros(sections), np.sin(a)], 1)])
    i = np.arange(sections)
    f = np.stack([np.zeros(sections, dtype=np.int64), 1 + (i + 1) % sections, 1 + i], 1)
    up = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])[:, 1] > 0
    f[~up] = f[~up][:, ::-1]
    n = np.tile([0.0, 1.0, 0.0], (len(v), 1))
    return v.astype(np.float32), n.astype(np.float32), f


@dataclass
class Shapes:
    """Unit meshes shared by every skeleton: (vertices, normals, faces) each."""

    joint: tuple
    bone: tuple
    joint_shadow: tuple
    bone_shadow: tuple

    @staticmethod
    def make(style: "Style") -> "Shapes":
        return Shapes(unit_sphere(style.sphere_detail), unit_tube(style.tube_sections), unit_disc(12), unit_tube(6))


def _material(color_srgb, roughness: float = 0.6):
    """An ordinary lit surface (see shaders/mesh.frag for how the fields are read)."""
    lin = display_to_linear(color_srgb)
    return pyrender.MetallicRoughnessMaterial(baseColorFactor=(*lin, 1.0), metallicFactor=0.0,
                                              roughnessFactor=roughness)


def _floor_material(brightness: float):
    """A floor surface: the shader's checkerboard times ``brightness`` (below 1: a shadow)."""
    return pyrender.MetallicRoughnessMaterial(baseColorFactor=(brightness, brightness, brightness, 1.0),
                                              metallicFactor=1.0, roughnessFactor=1.0)


class DynamicInstancePrimitive(pyrender.Primitive):
    """A pyrender Primitive whose instance matrices can change every frame.

    :meth:`set_poses` stores the new matrices; the next time pyrender binds the primitive
    (with the GL context current) they are copied into the existing instance buffer with
    ``glBufferSubData`` (``glBufferData`` only if the instance count changed). Vertex and index
    buffers are never touched again.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._pending: np.ndarray | None = None
        self._capacity = 0

    def set_poses(self, poses: np.ndarray) -> None:
        """poses: (n, 4, 4) float32 instance matrices (row-major, as pyrender expects)."""
        poses = np.asarray(poses, dtype=np.float32)
        self._poses = poses
        self._bounds = None
        # the shader reads each matrix column by column: upload the transposes
        self._pending = np.ascontiguousarray(poses.transpose(0, 2, 1))

    def _add_to_context(self):
        super()._add_to_context()
        self._pending = None
        self._capacity = 0 if self._poses is None else len(self._poses)

    def _bind(self):
        super()._bind()
        if self._pending is not None:
            data = self._pending
            glBindBuffer(GL_ARRAY_BUFFER, self._buffers[1])  # [vertices, instance matrices, indices]
            if len(data) == self._capacity:
                glBufferSubData(GL_ARRAY_BUFFER, 0, data.nbytes, data)
            else:
                glBufferData(GL_ARRAY_BUFFER, data.nbytes, data, GL_DYNAMIC_DRAW)
                self._capacity = len(data)
            glBindBuffer(GL_ARRAY_BUFFER, 0)
            self._pending = None


def _instanced_mesh(geometry, material, poses: np.ndarray):
    v, n, f = geometry
    prim = DynamicInstancePrimitive(positions=v, normals=n, indices=f, material=material, poses=poses)
    return pyrender.Mesh(primitives=[prim]), prim


def _static_mesh(vertices, normals, faces, material, texcoords=None):
    prim = pyrender.Primitive(positions=vertices, normals=normals, indices=faces, material=material,
                              texcoord_0=texcoords)
    return pyrender.Mesh(primitives=[prim])


# --------------------------------------------------------------------------- renderer patches


def _glsl_vec3(rgb) -> str:
    return "vec3({:.5f}, {:.5f}, {:.5f})".format(*np.asarray(rgb, dtype=float))


class SceneShaderCache(ShaderProgramCache):
    """pyrender's shader cache, serving this package's ``mesh.vert``/``mesh.frag`` (soft, cheap
    lighting and the anti-aliased checker floor) with the scene's constants substituted.
    Any other program pyrender asks for comes from pyrender's own shader folder."""

    def __init__(self, defines: dict[str, str]):
        super().__init__(shader_dir=str(SHADER_DIR))
        self._extra = defines

    def get_program(self, vertex_shader, fragment_shader, geometry_shader=None, defines=None):
        if vertex_shader == "mesh.vert" and fragment_shader == "mesh.frag":
            defines = {**(defines or {}), **self._extra}
        else:  # absolute paths win in os.path.join(shader_dir, name)
            vertex_shader, fragment_shader, geometry_shader = (
                None if n is None else str(PYRENDER_SHADER_DIR / n)
                for n in (vertex_shader, fragment_shader, geometry_shader))
        return super().get_program(vertex_shader, fragment_shader, geometry_shader, defines)


def _read_color_only(self, scene, flags):
    """Replacement for pyrender's ``Renderer._read_main_framebuffer``: resolve the multisampled
    colour buffer and read it; skip the depth buffer (read, linearised and thrown away by
    pyrender otherwise). Returns (color (H, W, 3) uint8, None)."""
    width, height = self._main_fb_dims
    glBindFramebuffer(GL_READ_FRAMEBUFFER, self._main_fb_ms)
    glBindFramebuffer(GL_DRAW_FRAMEBUFFER, self._main_fb)
    glBlitFramebuffer(0, 0, width, height, 0, 0, width, height, GL_COLOR_BUFFER_BIT, GL_LINEAR)
    glBindFramebuffer(GL_READ_FRAMEBUFFER, self._main_fb)
    glPixelStorei(GL_PACK_ALIGNMENT, 1)
    data = glReadPixels(0, 0, width, height, GL_RGB, GL_UNSIGNED_BYTE)
    return np.frombuffer(data, dtype=np.uint8).reshape(height, width, 3)[::-1], None


def configure_renderer(offscreen, scene: "SkeletonScene", color_only: bool = True) -> None:
    """Point a fresh ``pyrender.OffscreenRenderer`` at this package's shaders and (``color_only``)
    make it read back colour only. Relies on pyrender 0.1.45 internals (``_renderer``, ``_program_cache``,
    ``_read_main_framebuffer``); tests/test_render.py checks the pictures."""
    import types  # noqa: PLC0415

    inner = offscreen._renderer
    inner._program_cache = SceneShaderCache(scene.shader_defines())
    if color_only:
        inner._read_main_framebuffer = types.MethodType(_read_color_only, inner)


# --------------------------------------------------------------------------- characters


@dataclass
class CharacterTrack:
    """One skeleton animation to draw.

    Attributes:
        positions: (F, J, 3) world joint positions, metres, Y up.
        parents: (J,) parent index per joint, -1 for roots.
        color: sRGB colour.
        label: text drawn in its panel, or None.
        path: (F, 2) or (P, 2) floor path (x, z) in metres to draw under it, or None.
        root: joint whose floor projection the camera follows.
    """

    positions: np.ndarray
    parents: np.ndarray
    color: tuple = (0.93, 0.52, 0.16)
    label: str | None = None
    path: np.ndarray | None = None
    root: int = 0

    def __post_init__(self) -> None:
        self.positions = np.asarray(self.positions, dtype=np.float64)
        self.parents = np.asarray(self.parents, dtype=np.int64)
        if self.positions.ndim != 3 or self.positions.shape[-1] != 3:
            raise ValueError(f"positions must be (frames, joints, 3); got {self.positions.shape}")
        if self.parents.shape != (self.positions.shape[1],):
            raise ValueError(f"parents must be ({self.positions.shape[1]},) to match positions; "
                             f"got {self.parents.shape}")
        if np.any(self.parents >= np.arange(len(self.parents))):
            raise ValueError("parents must come before their children (parents[j] < j)")
        if not np.all(np.isfinite(self.positions)):
            raise ValueError("positions contain NaN or infinity")
        if self.path is not None:
            self.path = np.asarray(self.path, dtype=np.float64).reshape(-1, 2)

    @property
    def num_frames(self) -> int:
        return int(self.positions.shape[0])

    @property
    def root_xz(self) -> np.ndarray:
        """(F, 2) floor position of the root."""
        return self.positions[:, self.root][:, [0, 2]]


class _Skeleton:
    """Common part: per-frame matrices, computed once for the whole clip (vectorised)."""

    def __init__(self, track: CharacterTrack, scale: float, style: Style, shadow_matrix: np.ndarray | None):
        self.track = track
        rj, rb = style.joint_radius * scale, style.bone_radius * scale
        self.joint_m = geo.joint_matrices(track.positions, rj)              # (F, J, 4, 4)
        self.bone_m = geo.bone_matrices(track.positions, track.parents, rb)  # (F, B, 4, 4)
        self.shadow_joint_m = self.shadow_bone_m = None
        if shadow_matrix is not None:
            s = shadow_matrix.astype(np.float32)
            self.shadow_joint_m = np.matmul(s, self.joint_m)
            self.shadow_bone_m = np.matmul(s, self.bone_m)
        self.material = _material(track.color, roughness=0.55)
        self.joint_material = _material(np.asarray(track.color) * 0.82, roughness=0.45)
        self.meshes: list = []

    def frame_index(self, f: int) -> int:
        return min(f, self.track.num_frames - 1)

    def _specs(self, shapes: Shapes, shadow_material) -> list:
        """(unit mesh, material, per-frame instance matrices (F, n, 4, 4)) of each part."""
        specs = [(shapes.joint, self.joint_material, self.joint_m), (shapes.bone, self.material, self.bone_m)]
        if self.shadow_joint_m is not None:
            specs += [(shapes.joint_shadow, shadow_material, self.shadow_joint_m),
                      (shapes.bone_shadow, shadow_material, self.shadow_bone_m)]
        return specs


class InstancedSkeleton(_Skeleton):
    """All joints as one instanced sphere, all bones as one instanced tube (and shadows)."""

    def __init__(self, scene, track, scale, style, shadow_matrix, shapes: Shapes, shadow_material):
        super().__init__(track, scale, style, shadow_matrix)
        self._parts = []  # (primitive, per-frame matrices)
        for geom, mat, mats in self._specs(shapes, shadow_material):
            if mats.shape[1] == 0:
                continue
            mesh, prim = _instanced_mesh(geom, mat, mats[0])
            scene.add(mesh)
            self.meshes.append(mesh)
            self._parts.append((prim, mats))

    def set_frame(self, scene, f: int) -> None:
        f = self.frame_index(f)
        for prim, mats in self._parts:
            prim.set_poses(mats[f])


class PerNodeSkeleton(_Skeleton):
    """The plain pyrender way: one mesh node per joint and per bone (reference for benchmarks)."""

    def __init__(self, scene, track, scale, style, shadow_matrix, shapes: Shapes, shadow_material):
        super().__init__(track, scale, style, shadow_matrix)
        self._nodes = []  # (node, per-frame matrices (F, 4, 4))
        for (v, n, faces), mat, mats in self._specs(shapes, shadow_material):
            for k in range(mats.shape[1]):
                mesh = _static_mesh(v, n, faces, mat)
                self._nodes.append((scene.add(mesh, pose=mats[0, k].astype(np.float64)), mats[:, k]))
                self.meshes.append(mesh)

    def set_frame(self, scene, f: int) -> None:
        f = self.frame_index(f)
        for node, mats in self._nodes:
            scene.set_pose(node, mats[f].astype(np.float64))


# --------------------------------------------------------------------------- the scene


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
        shadow_mat = _floor_material(style.shadow_strength)
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
        self.scene.add(_static_mesh(v, n, faces, _floor_material(1.0)))

    def _ribbon(self, path, width, y, color):
        v, f = geo.ribbon(path, width, y)
        if len(f) == 0:
            return None
        n = np.tile([0.0, 1.0, 0.0], (len(v), 1)).astype(np.float32)
        mesh = _static_mesh(v, n, f, _material(color, roughness=0.8))
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
            "VIS_FLOOR_A": _glsl_vec3(display_to_linear(st.floor_colors[0])),
            "VIS_FLOOR_B": _glsl_vec3(display_to_linear(st.floor_colors[1])),
            "VIS_TILE": f"{st.tile:.6f}",
            "VIS_GROUND_TINT": _glsl_vec3((0.55, 0.55, 0.6)),
            "VIS_WRAP": "0.35",
            "VIS_FOG_START": f"{start:.4f}",
            "VIS_FOG_END": f"{end:.4f}",
            "VIS_FOG_COLOR": _glsl_vec3(display_to_linear(st.background)),
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
