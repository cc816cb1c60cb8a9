"""The characters of a scene: :class:`CharacterTrack` (what to draw) and the skeletons that draw it.

Skeletons are drawn in one of two ways with identical pictures:

* :class:`InstancedSkeleton` (the default): one sphere primitive instanced for all joints and
  one open-tube primitive instanced for all bones (plus the same two for the drop shadow).
  A frame only rewrites the instance-matrix buffers (``glBufferSubData``, done lazily when
  pyrender binds the primitive), so a frame costs a handful of draw calls whatever the
  number of joints. pyrender 0.1.45 itself uploads ``Primitive.poses`` once, when the
  primitive enters the GL context; assigning new poses afterwards would change only the
  instance *count*, hence the subclass :class:`~visualize.meshes.DynamicInstancePrimitive`.
* :class:`PerNodeSkeleton`: the plain pyrender way, one mesh node per joint and per bone,
  moved with ``Scene.set_pose`` every frame. Kept as the reference that the speed benchmark
  and the tests compare against.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import geometry as geo
from .meshes import Shapes, instanced_mesh, material, static_mesh
from .style import Style

__all__ = ["CharacterTrack", "InstancedSkeleton", "PerNodeSkeleton"]


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
        self.material = material(track.color, roughness=0.55)
        self.joint_material = material(np.asarray(track.color) * 0.82, roughness=0.45)
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
            mesh, prim = instanced_mesh(geom, mat, mats[0])
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
                mesh = static_mesh(v, n, faces, mat)
                self._nodes.append((scene.add(mesh, pose=mats[0, k].astype(np.float64)), mats[:, k]))
                self.meshes.append(mesh)

    def set_frame(self, scene, f: int) -> None:
        f = self.frame_index(f)
        for node, mats in self._nodes:
            scene.set_pose(node, mats[f].astype(np.float64))
