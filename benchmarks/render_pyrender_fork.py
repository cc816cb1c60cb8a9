"""Rendering speed with two pyrender builds, as a ratio measured in one run.

The ``render`` extra installs ``pyrender2`` (a maintained fork of pyrender 0.1.45: same
``pyrender`` module and API, PyOpenGL >= 3.1.9). This script checks that ``visualize`` renders as
fast with it: it runs ``benchmarks/render_speed.py`` alternately under two Python interpreters,
one importing pyrender 0.1.45 and one importing the fork (e.g. a ``--system-site-packages`` venv
with ``pip install --no-deps pyrender2``), and prints each one's best frames/s and the ratio.

Usage:
    python benchmarks/render_pyrender_fork.py --fork-python /tmp/pr2venv/bin/python [--rounds 3] [--frames 120]
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LINE = re.compile(r"^(\S.*?)\s+([\d.]+) frames/s\s+\(\s*([\d.]+) CPU ms/frame\)", re.M)


def run_once(python: str, frames: int) -> dict[str, tuple[float, float]]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run([python, str(REPO / "benchmarks" / "render_speed.py"), "--repeats", "1", "--frames",
                          str(frames)], capture_output=True, text=True, env=env, check=True).stdout
    return {m.group(1).strip(): (float(m.group(2)), float(m.group(3))) for m in LINE.finditer(out)}


def version(python: str) -> str:
    return subprocess.run([python, "-c", "import pyrender, OpenGL; print(pyrender.__version__, 'PyOpenGL',"
                           " OpenGL.__version__)"], capture_output=True, text=True, check=True).stdout.strip()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--fork-python", required=True, help="interpreter whose pyrender is the fork")
    p.add_argument("--base-python", default=sys.executable, help="interpreter whose pyrender is 0.1.45")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--frames", type=int, default=120)
    a = p.parse_args()
    pythons = {"pyrender " + version(a.base_python): a.base_python, "pyrender " + version(a.fork_python): a.fork_python}
    best: dict[str, dict[str, tuple[float, float]]] = {k: {} for k in pythons}
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    for r in range(a.rounds):
        for label, py in pythons.items():
            for variant, (fps, cpu) in run_once(py, a.frames).items():
                old = best[label].get(variant)
                if old is None or fps > old[0]:
                    best[label][variant] = (fps, cpu)
                print(f"  round {r + 1} {label:36s} {variant:24s} {fps:6.1f} frames/s {cpu:6.1f} CPU ms/frame",
                      flush=True)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    (base, b), (fork, f) = best.items()
    for variant in b:
        if variant in f:
            print(f"{variant:24s} {base}: {b[variant][0]:6.1f} frames/s ({b[variant][1]:.1f} CPU ms/frame)  "
                  f"{fork}: {f[variant][0]:6.1f} ({f[variant][1]:.1f})  "
                  f"ratio fork/base {f[variant][0] / b[variant][0]:.2f}")


if __name__ == "__main__":
    main()
