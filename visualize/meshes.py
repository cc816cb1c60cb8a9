"""pyrender meshes of the scene: unit shapes (sphere, open tube, disc), materials, and the
instanced primitive whose matrices change every frame (:class:`DynamicInstancePrimitive`).

Importing this module imports pyrender, so the GL platform is chosen on import (see
:mod:`visualize.gl_platform`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .gl_platform import import_pyrender
from .style import Style, display_to_linear

pyrender = import_pyrender()
from OpenGL.GL import GL_ARRAY_BUFFER, GL_DYNAMIC_DRAW, glBindBuffer, glBufferData, glBufferSubData  # noqa: E402

__all__ = ["unit_sphere", "unit_tube", "unit_disc", "Shapes", "material", "floor_material", "DynamicInstancePrimitive",
           "instanced_mesh", "static_mesh"]


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
    def make(style: Style) -> Shapes:
        return Shapes(unit_sphere(style.sphere_detail), unit_tube(style.tube_sections), unit_disc(12), unit_tube(6))


def material(color_srgb, roughness: float = 0.6):
    """An ordinary lit surface (see shaders/mesh.frag for how the fields are read)."""
    lin = display_to_linear(color_srgb)
    return pyrender.MetallicRoughnessMaterial(baseColorFactor=(*lin, 1.0), metallicFactor=0.0,
                                              roughnessFactor=roughness)


def floor_material(brightness: float):
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


def instanced_mesh(geometry, material, poses: np.ndarray):
    v, n, f = geometry
    prim = DynamicInstancePrimitive(positions=v, normals=n, indices=f, material=material, poses=poses)
    return pyrender.Mesh(primitives=[prim]), prim


def static_mesh(vertices, normals, faces, material, texcoords=None):
    prim = pyrender.Primitive(positions=vertices, normals=normals, indices=faces, material=material,
                              texcoord_0=texcoords)
    return pyrender.Mesh(primitives=[prim])
