"""Patches to pyrender's renderer: this package's shaders (soft, cheap lighting and the
anti-aliased checker floor) and a colour-only read-back.

They rely on pyrender 0.1.45 internals (``_renderer``, ``_program_cache``,
``_read_main_framebuffer``); tests/test_render.py checks the pictures.
"""
from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np

from .gl_platform import import_pyrender

pyrender = import_pyrender()
from OpenGL.GL import (  # noqa: E402  (after the platform is chosen)
    GL_COLOR_BUFFER_BIT, GL_DRAW_FRAMEBUFFER, GL_LINEAR, GL_PACK_ALIGNMENT, GL_READ_FRAMEBUFFER, GL_RGB,
    GL_UNSIGNED_BYTE, glBindFramebuffer, glBlitFramebuffer, glPixelStorei, glReadPixels)
from pyrender.shader_program import ShaderProgramCache  # noqa: E402

__all__ = ["SHADER_DIR", "glsl_vec3", "SceneShaderCache", "configure_renderer"]


class HasShaderDefines(Protocol):
    """What :func:`configure_renderer` needs of a scene (:class:`visualize.scene.SkeletonScene`)."""

    def shader_defines(self) -> dict[str, str]: ...


SHADER_DIR = Path(__file__).resolve().parent / "shaders"
PYRENDER_SHADER_DIR = Path(pyrender.__file__).resolve().parent / "shaders"


def glsl_vec3(rgb) -> str:
    """An sRGB or linear triple as a GLSL ``vec3(...)`` literal."""
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


def configure_renderer(offscreen, scene: HasShaderDefines, color_only: bool = True) -> None:
    """Point a fresh ``pyrender.OffscreenRenderer`` at this package's shaders and (``color_only``)
    make it read back colour only. Relies on pyrender 0.1.45 internals (``_renderer``, ``_program_cache``,
    ``_read_main_framebuffer``); tests/test_render.py checks the pictures."""
    import types  # noqa: PLC0415

    inner = offscreen._renderer
    inner._program_cache = SceneShaderCache(scene.shader_defines())
    if color_only:
        inner._read_main_framebuffer = types.MethodType(_read_color_only, inner)
