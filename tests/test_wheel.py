"""The wheel is a real package: built, installed into a fresh venv outside the repository, and
used from an empty folder, it finds its built-in configs, profiles, evaluation settings and
shaders by name, and its commands run: ``moglow demo --fast`` (generate, prepare, train the
built-in tiny_cpu, sample, render, review), ``moglow evaluate`` and ``moglow render``."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SOURCES = ["setup.py", "pyproject.toml", "README.md", "configs", "moglow", "mcmoglow", "data_pipeline", "visualize",
           "baselines"]


def _run(cmd: list[str], cwd: Path, env: dict, timeout: float = 300) -> str:
    r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, (f"{' '.join(map(str, cmd))} failed ({r.returncode}):\n"
                               f"{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    return r.stdout + r.stderr


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> Path:
    """A venv outside the repository with the freshly built wheel installed (its dependencies come
    from the system site-packages: torch is not reinstalled)."""
    root = tmp_path_factory.mktemp("wheel")
    src = root / "src"
    src.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build")
    for name in SOURCES:  # build from a copy: the in-tree build must not litter the repository
        (shutil.copytree if (REPO / name).is_dir() else shutil.copy2)(REPO / name, src / name, **(
            {"ignore": ignore} if (REPO / name).is_dir() else {}))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index",
          str(src), "-w", str(root / "dist")], root, env)
    wheels = list((root / "dist").glob("moglow-*.whl"))
    assert len(wheels) == 1, wheels
    _run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(root / "venv")], root, env)
    _run([sys.executable, "-m", "pip", "--python", str(root / "venv" / "bin" / "python"), "install", "-q",
          "--no-deps", "--no-index", str(wheels[0])], root, env)
    return root / "venv"


def test_wheel_commands_run_from_an_empty_folder(venv, tmp_path):
    work = tmp_path / "empty"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(OMP_NUM_THREADS="1", MOGLOW_CACHE=str(tmp_path / "cache"))
    py, moglow = str(venv / "bin" / "python"), str(venv / "bin" / "moglow")

    # the venv imports the wheel's package, not the repository's (editable) one
    where = _run([py, "-c", "import moglow, data_pipeline.resources as r; print(moglow.__file__); "
                  "print(r.builtin_dir()); print(','.join(r.available('profile')))"], work, env).split()
    assert Path(where[0]).is_relative_to(venv), where
    assert Path(where[1]).is_relative_to(venv) and (Path(where[1]) / "tiny_cpu.yaml").is_file(), where
    assert {"bandai_namco", "cmu", "procedural"} <= set(where[2].split(","))

    out = _run([moglow, "demo", "--fast", "--out", "demo"], work, env)  # tiny_cpu by name, procedural profile
    assert (work / "demo" / "run" / "review" / "index.html").is_file(), out
    assert "\r" not in out and len(out) < 20_000  # piped: one line per stage, no progress bars
    out = _run([moglow, "evaluate", "--checkpoint", "demo/run", "--split", "test", "--num-samples", "1",
                "--max-seconds", "3"], work, env)  # evaluation settings by name
    assert (work / "demo" / "run" / "evaluation" / "evaluation.json").is_file(), out
    page = (work / "demo" / "run" / "evaluation" / "evaluation.html").read_text()  # from the wheel's templates
    clips = list((work / "demo" / "run" / "evaluation" / "clips").glob("clip_*.npz"))  # up to 3 (--clips)
    assert 1 <= len(clips) <= 3 and page.count('class="clip-viewer"') == len(clips), out
    assert 'id="evaluation-table"' in page
    templates = _run([py, "-c", "import importlib.resources as r; t = r.files('moglow.review') / 'templates'; "
                      "print(t); print(' '.join(sorted(p.name for p in t.iterdir())))"], work, env).split("\n")
    assert Path(templates[0]).is_relative_to(venv), templates
    assert {"base.html", "macros.html", "review.html", "sample_card.html", "evaluation.html",
            "style.css"} <= set(templates[1].split()), templates
    take = sorted((work / "demo" / "data").glob("*.bvh"))[0]
    out = _run([moglow, "render", str(take), "--out", "clip.mp4", "--frames", "6", "--width", "96",
                "--height", "64", "--profile", "procedural"], work, env)  # shaders and a profile by name
    assert (work / "clip.mp4").stat().st_size > 0, out
