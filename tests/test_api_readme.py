"""The README's "Python API" block runs as written (a doctest), on a tiny model trained here as
``outputs/demo/run``; and the API draws the very frames ``moglow sample`` draws."""
from __future__ import annotations

import doctest
import re
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
TINY = ["train.steps=2", "model.num_steps=1", "model.hidden=8", "train.batch_size=4", "train.seq_len=10",
        "train.val_every=2", "train.checkpoint_every=2", "train.warmup_steps=1", "train.plot_every=null",
        "train.tensorboard=false"]


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory) -> Path:
    """A folder holding ``outputs/demo/run``: a tiny tiny_cpu model on 3 procedural takes."""
    from moglow.cli import main

    root = tmp_path_factory.mktemp("api")
    assert main(["generate-data", "--out", str(root / "takes"), "--takes", "3", "--seconds", "4",
                 "--no-progress"]) == 0
    assert main(["train", "--config", "tiny_cpu", "--data", str(root / "takes"), "--out",
                 str(root / "outputs" / "demo" / "run"), "--cache", str(root / "cache"), "--no-progress",
                 "--set", *TINY]) == 0
    return root


def readme_block() -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## Python API", 1)[1]
    return re.search(r"```pycon\n(.*?)```", section, re.S).group(1)


def test_readme_api_block_runs(demo_dir, monkeypatch):
    monkeypatch.chdir(demo_dir)
    test = doctest.DocTestParser().get_doctest(readme_block(), {}, "README.md: Python API", "README.md", 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    runner.run(test, out=sys.stdout.write)
    assert runner.failures == 0, f"{runner.failures} of {runner.tries} README examples failed (see the output)"
    assert runner.tries >= 8
    assert (demo_dir / "circle" / "sample_001.bvh").is_file() and (demo_dir / "circle.mp4").stat().st_size > 0


def test_api_draws_the_frames_the_command_draws(demo_dir, tmp_path):
    import moglow
    from moglow.cli import main

    run = demo_dir / "outputs" / "demo" / "run"
    assert main(["sample", "--checkpoint", str(run), "--path", "figure8:size=3", "--seconds", "2", "--num", "2",
                 "--seed", "5", "--temperature", "0.7", "--device", "cpu", "--out", str(tmp_path / "cli"),
                 "--no-progress"]) == 0
    clip = moglow.load(run, device="cpu").sample("figure8:size=3", seconds=2, num=2, seed=5, temperature=0.7)
    cli = np.load(tmp_path / "cli" / "samples.npz")["positions"]
    np.testing.assert_array_equal(clip.positions.astype(np.float32), cli.astype(np.float32))


def test_import_moglow_is_cheap_and_flows_do_not_load_the_application():
    import subprocess

    code = ("import sys, moglow, moglow.flows\n"
            "app = [m for m in ('moglow.api', 'moglow.train', 'moglow.sampling', 'moglow.model', 'moglow.paths',"
            " 'moglow.checkpoint', 'data_pipeline.prepare') if m in sys.modules]\n"
            "print(app)\n"
            "import moglow as m; assert m.MoGlow.__name__ == 'MoGlow' and m.Coupling.__name__ == 'Coupling'\n"
            "assert callable(m.load) and m.paths.circle(radius=2).kind == 'circle'\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                       env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"
