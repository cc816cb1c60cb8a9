"""Choosing an off-screen OpenGL platform for pyrender, and the traps around importing it.

pyrender 0.1.45 renders off-screen through EGL or OSMesa; PyOpenGL fixes its platform when
``OpenGL`` is first imported, from the environment variable ``PYOPENGL_PLATFORM``. So the
choice has to be made *before* pyrender is imported, and it cannot be changed afterwards in
the same process. :func:`import_pyrender` does it in this order:

1. ``PYOPENGL_PLATFORM`` already set (by the user, or an earlier call): use it as is.
2. Otherwise probe EGL in a short-lived child *process* (a fresh interpreter, never a fork)
   that creates a context with pyrender's EGL platform and clears and reads an 8×8 target; EGL works with a GPU driver or, on a machine without one, with
   Mesa's llvmpipe (Debian: ``libegl-mesa0``, ``libgl1-mesa-dri``; surfaceless/device platform).
3. If that fails, probe OSMesa (Debian: ``libosmesa6``; needs PyOpenGL >= 3.1.4).

Two more traps handled here:

* numpy 2 removed ``np.infty``, which pyrender 0.1.45 still uses (``Mesh.bounds``); a small
  shim sets ``np.infty = np.inf`` before pyrender is imported.
* OpenGL contexts do not survive ``fork``: a renderer created in a forked child (a
  ``multiprocessing`` "fork" worker, a torch ``DataLoader`` worker) can hang or crash, above
  all when the parent touched GL first. :func:`check_not_forked` refuses to render there;
  render in the main process or in a process started with
  ``multiprocessing.get_context("spawn")``.
"""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from dataclasses import dataclass

import numpy as np

from data_pipeline.errors import SetupError

#: platforms tried, in order, when ``PYOPENGL_PLATFORM`` is not set
AUTO_ORDER = ("egl", "osmesa")

_forked_child = False


def _mark_forked_child() -> None:
    global _forked_child
    _forked_child = True


os.register_at_fork(after_in_child=_mark_forked_child)


@dataclass(frozen=True)
class GLInfo:
    """Which platform pyrender renders with.

    Attributes:
        platform: "egl" or "osmesa" (the value of ``PYOPENGL_PLATFORM``).
        renderer: the GL_RENDERER string of the probe (e.g. "llvmpipe (LLVM 15.0.6, 256 bits)"),
            or "" if the platform was set by the user and not probed.
        how: "environment" (user's choice) or "probe".
        tried: platforms that failed before this one, with the reason.
    """

    platform: str
    renderer: str
    how: str
    tried: tuple[tuple[str, str], ...] = ()

    def describe(self) -> str:
        text = f"{self.platform}"
        if self.renderer:
            text += f" ({self.renderer})"
        text += " [set by PYOPENGL_PLATFORM]" if self.how == "environment" else " [auto-detected]"
        for name, why in self.tried:
            text += f"; {name} failed: {why}"
        return text


_info: GLInfo | None = None

# Creates a context with pyrender's own platform class (as OffscreenRenderer does), clears an
# 8x8 target and reads it back. pyrender's package __init__ (trimesh, scipy, pyglet, ...) is
# not imported: stub packages let just pyrender/platforms/{base,egl,osmesa}.py load.
_PROBE = r"""
import importlib.util, os, sys, types
root = os.path.dirname(importlib.util.find_spec("pyrender").origin)
for name, path in (("pyrender", root), ("pyrender.platforms", os.path.join(root, "platforms"))):
    module = types.ModuleType(name)
    module.__path__ = [path]
    sys.modules[name] = module
from OpenGL import GL
if os.environ["PYOPENGL_PLATFORM"] == "egl":
    from pyrender.platforms import egl
    device = egl.get_device_by_index(int(os.environ.get("EGL_DEVICE_ID", "0")))
    platform = egl.EGLPlatform(8, 8, device=device)
else:
    from pyrender.platforms.osmesa import OSMesaPlatform
    platform = OSMesaPlatform(8, 8)
platform.init_context()
platform.make_current()
try:
    if platform.supports_framebuffers():
        fb, rb = GL.glGenFramebuffers(1), GL.glGenRenderbuffers(1)
        GL.glBindRenderbuffer(GL.GL_RENDERBUFFER, rb)
        GL.glRenderbufferStorage(GL.GL_RENDERBUFFER, GL.GL_RGBA8, 8, 8)
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, fb)
        GL.glFramebufferRenderbuffer(GL.GL_FRAMEBUFFER, GL.GL_COLOR_ATTACHMENT0, GL.GL_RENDERBUFFER, rb)
    GL.glViewport(0, 0, 8, 8)
    GL.glClearColor(0.2, 0.4, 0.6, 1.0)
    GL.glClear(GL.GL_COLOR_BUFFER_BIT)
    pixel = bytes(GL.glReadPixels(3, 3, 1, 1, GL.GL_RGBA, GL.GL_UNSIGNED_BYTE))
    assert abs(pixel[2] - 153) <= 2, f"cleared to 153, read back {list(pixel)}"
    print("GL_RENDERER=" + GL.glGetString(GL.GL_RENDERER).decode())
finally:
    platform.delete_context()
"""


def probe_platform(platform: str, timeout: float = 120.0) -> tuple[bool, str]:
    """Try creating a context with pyrender's ``platform`` class and clearing and reading back an
    8×8 target, in a fresh interpreter (a crash or hang there cannot take this process down).

    Returns (ok, GL_RENDERER string if ok else the last line of the error).
    """
    env = dict(os.environ, PYOPENGL_PLATFORM=platform)
    try:
        proc = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True,
                              text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return False, f"probe timed out after {timeout:.0f} s"
    for line in proc.stdout.splitlines():
        if line.startswith("GL_RENDERER=") and proc.returncode == 0:
            return True, line.split("=", 1)[1]
    lines = [l for l in (proc.stderr or proc.stdout).strip().splitlines() if l.strip()]
    return False, (lines[-1] if lines else f"exit code {proc.returncode}")


def select_platform(preferred: str | None = None) -> GLInfo:
    """Decide the PyOpenGL platform and write it to ``os.environ["PYOPENGL_PLATFORM"]``.

    Args:
        preferred: "egl", "osmesa", or None/"auto" for: the environment's choice if any,
            else the first of :data:`AUTO_ORDER` whose probe renders.

    Raises:
        RuntimeError: nothing works (the message lists each failure and the Debian packages
            to install), or pyrender/OpenGL was already imported with a different platform.
    """
    global _info
    if preferred in (None, "auto"):
        if _info is not None:
            return _info
        env = os.environ.get("PYOPENGL_PLATFORM")
        if env:
            _info = GLInfo(env, "", "environment")
            return _info
        candidates = AUTO_ORDER
    else:
        if preferred not in AUTO_ORDER:
            raise ValueError(f"unknown GL platform {preferred!r}; choose one of auto, {', '.join(AUTO_ORDER)}")
        if _info is not None and _info.platform == preferred:
            return _info
        candidates = (preferred,)
    if "OpenGL.GL" in sys.modules:
        current = os.environ.get("PYOPENGL_PLATFORM", "<default>")
        if current not in candidates:
            raise SetupError(
                f"OpenGL is already imported in this process with platform {current!r}; cannot switch to "
                f"{'/'.join(candidates)}. Set PYOPENGL_PLATFORM before anything imports pyrender or OpenGL.")
        _info = GLInfo(current, "", "environment")
        return _info
    missing = [m for m in ("pyrender", "OpenGL", "trimesh") if importlib.util.find_spec(m) is None]
    if missing:
        raise SetupError(f"rendering needs the render extra: pip install 'moglow[render]' "
                           f"({', '.join(missing)} not installed)")
    tried: list[tuple[str, str]] = []
    for name in candidates:
        ok, detail = probe_platform(name)
        if ok:
            os.environ["PYOPENGL_PLATFORM"] = name
            _info = GLInfo(name, detail, "probe", tuple(tried))
            return _info
        tried.append((name, detail))
    reasons = "; ".join(f"{n}: {why}" for n, why in tried)
    raise SetupError(
        f"no off-screen OpenGL platform works ({reasons}). On Debian/Ubuntu install Mesa's software "
        "renderer: `apt-get install -y libegl1 libegl-mesa0 libgl1-mesa-dri libosmesa6` "
        "(OSMesa also needs PyOpenGL >= 3.1.9, which the render extra installs: pip install 'moglow[render]').")


def gl_info() -> GLInfo | None:
    """The platform chosen by :func:`select_platform`, or None if it has not run yet."""
    return _info


def check_not_forked() -> None:
    """Raise RuntimeError inside a forked child process (see the module docstring)."""
    if _forked_child:
        raise RuntimeError(
            "refusing to create an OpenGL renderer in a forked child process (multiprocessing 'fork' "
            "or a DataLoader worker): GL contexts do not survive fork. Render in the main process or "
            "in one started with multiprocessing.get_context('spawn').")


def patch_numpy_for_pyrender() -> None:
    """numpy 2 removed ``np.infty``; pyrender 0.1.45 uses it. Put it back (idempotent)."""
    if not hasattr(np, "infty"):
        np.infty = np.inf  # type: ignore[attr-defined]


def import_pyrender(platform: str | None = None):
    """Select the platform (see :func:`select_platform`), patch numpy, and import pyrender.

    Returns the ``pyrender`` module.
    """
    select_platform(platform)
    patch_numpy_for_pyrender()
    import pyrender  # noqa: PLC0415  (deliberately late: the platform must be chosen first)

    return pyrender
