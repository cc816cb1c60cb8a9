#!/usr/bin/env bash
# Set up a fresh Debian 12 machine (or refresh an existing one) for this project.
# Idempotent and quiet when everything is already there. Run from anywhere.
set -euo pipefail
cd "$(dirname "$0")/.."

# System packages: ffmpeg (video), CMU test takes (assimp-testmodels), Mesa for headless GL
# (libegl1, libegl-mesa0, libgl1, libgl1-mesa-dri, libosmesa6: .ci/apt-packages.txt).
APT_PACKAGES=(ffmpeg assimp-testmodels)
if [ -f .ci/apt-packages.txt ]; then
  mapfile -t extra < <(grep -v '^\s*#' .ci/apt-packages.txt | grep -v '^\s*$')
  APT_PACKAGES+=("${extra[@]}")
fi
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then SUDO=sudo; else SUDO=; fi
  echo "setup: installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Python packages: the CPU torch pin lives here and in CI only (setup.py declares the supported
# range, torch>=2.13, whose bottom CI tests); install it first so nothing pulls a CUDA build. Everything else comes from
# the package's own extras: this script adds only the Debian packages and the torch pin.
python -m pip install -q --root-user-action=ignore torch==2.13.0
# pyrender 0.1.45 (installed --no-deps by earlier versions of this script) and the render extra's
# pyrender2 fork are the same `pyrender` module: replace the old one
if python -m pip show -q pyrender >/dev/null 2>&1; then
  python -m pip uninstall -q -y --root-user-action=ignore pyrender
fi
python -m pip install -q --root-user-action=ignore -e ".[dev,render,baselines,play]"
python -c "import torch, sys; v = torch.__version__; sys.exit(0) if v.startswith('2.13.0') else sys.exit(f'unexpected torch {v}')"
python -c "from visualize.gl_platform import select_platform; print('setup: OpenGL', select_platform().describe())"
echo "setup: ok"
