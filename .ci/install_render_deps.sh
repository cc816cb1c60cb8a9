#!/usr/bin/env bash
# Rendering dependencies (visualize/, `moglow render`) on a fresh Debian 12 machine, run as root.
# Idempotent: apt is skipped when the packages are there.
#
#   apt: Mesa's off-screen OpenGL in software (EGL + llvmpipe; OSMesa as the fallback) and ffmpeg
#   pip: nothing here -- the Python side is the package's `render` extra (pyrender2, a maintained
#        fork of pyrender 0.1.45 with the same API that requires PyOpenGL>=3.1.9; pyrender 0.1.45
#        pins PyOpenGL==3.1.0, whose OSMesa bindings are broken): pip install ".[render]"
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
# report which off-screen GL platform works here (EGL first, then OSMesa)
cd "$(dirname "$0")/.."
"$PY" -c "from visualize.gl_platform import select_platform; print('install_render_deps: OpenGL', select_platform().describe())"
