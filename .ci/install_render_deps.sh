#!/usr/bin/env bash
# Rendering dependencies (visualize/, `moglow render`) on a fresh Debian 12 machine, run as root.
# Idempotent: apt is skipped when the packages are there, pip only installs what is missing.
#
#   apt: Mesa's off-screen OpenGL in software (EGL + llvmpipe; OSMesa as the fallback) and ffmpeg
#   pip: pyrender 0.1.45 and its dependencies, ffmpeg-python, imageio-ffmpeg (fallback ffmpeg binary)
#
# pyrender 0.1.45 pins PyOpenGL==3.1.0, whose OSMesa bindings lack OSMesaCreateContextAttribs
# (the OSMesa fallback then fails). So pyrender is installed with --no-deps and its
# dependencies are listed here, with PyOpenGL 3.1.10 (works with both EGL and OSMesa).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

APT_PACKAGES=(libegl1 libegl-mesa0 libgl1 libgl1-mesa-dri libosmesa6 ffmpeg)
missing=()
for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "install_render_deps: apt-get install ${missing[*]}"
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PY=${PYTHON:-python}
"$PY" -m pip install -q --disable-pip-version-check --root-user-action=ignore --no-deps "pyrender==0.1.45"
"$PY" -m pip install -q --disable-pip-version-check --root-user-action=ignore \
    "PyOpenGL==3.1.10" "trimesh>=4" "pyglet>=1.4.10,<3" freetype-py imageio networkx pillow scipy six \
    "ffmpeg-python>=0.2" "imageio-ffmpeg>=0.5"

# report which off-screen GL platform works here (EGL first, then OSMesa)
cd "$(dirname "$0")/.."
"$PY" -c "from visualize.gl_platform import select_platform; print('install_render_deps: OpenGL', select_platform().describe())"
