"""No command runs code from a file the user hands it (issue 12, "Security").

A crafted checkpoint whose pickle ``__reduce__`` writes a marker file is given to every command
that loads a checkpoint-like file; each must refuse it with a one-line error naming the file,
and the marker must never appear. A command added later that loads files gets one more entry
in :data:`LOADERS` (a function that places the crafted file where the command will read it and
returns the command line).

Also here: names used in paths (a config's ``name``) never put a run folder outside ``runs/``.
"""
from __future__ import annotations

import json
import os
import pickle
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import yaml

from moglow.cli import main


class _WritesMarker:
    """Unpickling this runs code: it writes the marker file (harmless, visible)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "code from a crafted file ran"))


#: the crafted files of the running test (their names must appear in the error)
CRAFTED: list[Path] = []


def craft(path: Path, marker: Path, wrap: Callable[[object], object] = lambda x: x) -> Path:
    """A torch.save file whose pickle writes ``marker`` when loaded with ``weights_only=False``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(wrap(_WritesMarker(marker)), path)
    CRAFTED.append(path)
    return path


def _checkpoint_like(evil):
    """Looks like a checkpoint at the top level, the payload inside."""
    return {"format": "moglow-checkpoint/1", "model": {"w": evil}, "model_cfg": {}, "config": {}, "data": {}}


# Each loader: (tmp_path, marker) -> argv. It places the crafted file where the command reads it.
def _sample(tmp: Path, marker: Path) -> list[str]:
    ckpt = craft(tmp / "run" / "best.pt", marker, _checkpoint_like)
    return ["sample", "--checkpoint", str(ckpt.parent), "--out", str(tmp / "out"), "--no-progress"]


def _evaluate(tmp: Path, marker: Path) -> list[str]:
    ckpt = craft(tmp / "run" / "latest.pt", marker, _checkpoint_like)
    return ["evaluate", "--checkpoint", str(ckpt), "--split", "test", "--no-progress", "--device", "cpu"]


def _train_resume(tmp: Path, marker: Path) -> list[str]:
    craft(tmp / "run" / "latest.pt", marker, _checkpoint_like)
    return ["train", "--resume", str(tmp / "run"), "--no-progress"]


def _review(tmp: Path, marker: Path) -> list[str]:
    run = tmp / "run"
    craft(run / "latest.pt", marker, _checkpoint_like)
    (run / "losses.csv").write_text("step,train_nats_per_frame_dropout\n1,1.0\n")
    return ["review", str(run), "--no-render", "--no-progress"]


def _images_init(tmp: Path, marker: Path) -> list[str]:
    evil = craft(tmp / "teacher" / "checkpoint.pt", marker, _checkpoint_like)
    return ["images", "train", "--data", "digits", "--size", "tiny", "--steps", "1", "--init", str(evil),
            "--out", str(tmp / "student")]


def _images_resume(tmp: Path, marker: Path) -> list[str]:
    craft(tmp / "img" / "checkpoint.pt", marker, _checkpoint_like)
    return ["images", "train", "--data", "digits", "--size", "tiny", "--steps", "1", "--out", str(tmp / "img")]


def _images_evaluate(tmp: Path, marker: Path) -> list[str]:
    run = tmp / "img"
    craft(run / "checkpoint.pt", marker, _checkpoint_like)
    (run / "run.json").write_text(json.dumps({"data": "digits", "test_fraction": 0.2, "split_seed": 0}))
    return ["images", "evaluate", str(run), "--fid-classifier", str(tmp / "fid.pt")]


def _images_evaluate_fid_classifier(tmp: Path, marker: Path) -> list[str]:
    """The FID classifier is a file too (a cached one given by --fid-classifier)."""
    run = tmp / "img"
    craft(run / "checkpoint.pt", marker, _checkpoint_like)
    (run / "run.json").write_text(json.dumps({"data": "digits", "test_fraction": 0.2, "split_seed": 0}))
    craft(tmp / "fid.pt", marker, lambda e: {"state": {"w": e}, "levels": 17})
    return ["images", "floor", "--data", "digits", "--fid-classifier", str(tmp / "fid.pt")]


def _toy(tmp: Path, marker: Path) -> list[str]:
    """``moglow toy`` loads nothing: a crafted model.pt in its output folder stays unread."""
    craft(tmp / "toy" / "model.pt", marker, _checkpoint_like)
    return ["toy", "--train-steps", "2", "--test-size", "64", "--grid", "8", "--batch-size", "16",
            "--out", str(tmp / "toy"), "--no-progress"]


def _render_npz(tmp: Path, marker: Path) -> list[str]:
    """An .npz with an object array (a pickle inside) is refused, never unpickled."""
    import numpy as np

    path = tmp / "clip.npz"
    arr = np.empty(1, dtype=object)
    arr[0] = _WritesMarker(marker)
    np.savez(path, positions=arr, parents=np.array([-1]))
    CRAFTED.append(path)
    return ["render", str(path), "--out", str(tmp / "clip.mp4"), "--no-progress"]


def _play(tmp: Path, marker: Path) -> list[str]:
    """``moglow play`` refuses the checkpoint before it starts a server."""
    ckpt = craft(tmp / "run" / "latest.pt", marker, _checkpoint_like)
    return ["play", "--checkpoint", str(ckpt), "--no-browser", "--port", "0", "--out", str(tmp / "out")]


def _review_samples_npz(tmp: Path, marker: Path) -> list[str]:
    """A sample set's .npz with an object array inside: refused, never unpickled."""
    import numpy as np

    folder = tmp / "run" / "samples" / "evil"
    folder.mkdir(parents=True)
    arr = np.empty(1, dtype=object)
    arr[0] = _WritesMarker(marker)
    np.savez(folder / "samples.npz", positions=arr, parents=np.array([-1]))
    CRAFTED.append(folder / "samples.npz")
    return ["review", str(tmp / "run"), "--no-render", "--no-progress"]


LOADERS: dict[str, tuple[Callable[[Path, Path], list[str]], bool]] = {
    # name: (builder, whether the command must fail: False for commands that never read the file)
    "sample": (_sample, True),
    "evaluate": (_evaluate, True),
    "train --resume": (_train_resume, True),
    "review": (_review, False),  # writes the page without the parameter count; checked below
    "review (samples .npz)": (_review_samples_npz, True),
    "images train --init": (_images_init, True),
    "images train --out (resume)": (_images_resume, True),
    "images evaluate": (_images_evaluate, True),
    "images floor --fid-classifier": (_images_evaluate_fid_classifier, True),
    "toy": (_toy, False),
    "render (.npz)": (_render_npz, True),
    "play": (_play, True),
}


@pytest.mark.parametrize("name", list(LOADERS))
def test_crafted_pickle_is_refused_without_running(name, tmp_path, capsys):
    build, must_fail = LOADERS[name]
    CRAFTED.clear()
    marker = tmp_path / "MARKER"
    argv = build(tmp_path, marker)
    cwd = os.getcwd()
    os.chdir(tmp_path)  # anything a command writes by default lands here
    try:
        rc = main(argv)
    finally:
        os.chdir(cwd)
    assert not marker.exists(), f"moglow {name} ran code from a crafted file"
    err = capsys.readouterr().err
    if must_fail:
        assert rc != 0, f"moglow {name} accepted a crafted file"
        lines = [ln for ln in err.strip().splitlines() if ln.strip()]
        assert lines and "Traceback" not in err, err
        assert any(str(p) in lines[-1] for p in CRAFTED), err  # one line naming the crafted file
    if name == "review":  # the page is written and says why the checkpoint was not read
        page = (tmp_path / "run" / "review" / "index.html").read_text()
        assert "not a readable checkpoint" in page and "never unpickled" in page


def test_every_torch_load_in_the_project_is_weights_only():
    """Source check beside the behavioural one: a new ``torch.load`` without
    ``weights_only=True`` (or an ``allow_pickle=True``, or ``pickle.load``) fails here."""
    root = Path(__file__).resolve().parents[1]
    bad = []
    for path in root.rglob("*.py"):
        if any(part in {"tests", ".git", "build"} or part.startswith(".") for part in path.relative_to(root).parts):
            continue
        text = path.read_text(encoding="utf-8")
        for i, line in enumerate(text.splitlines(), 1):
            code = line.split("#", 1)[0]
            if "torch.load(" in code and "weights_only=True" not in code:
                bad.append(f"{path.relative_to(root)}:{i}: {line.strip()}")
            if "allow_pickle=True" in code or "pickle.load" in code or "pickle.loads" in code:
                bad.append(f"{path.relative_to(root)}:{i}: {line.strip()}")
    assert not bad, "\n".join(bad)


# ------------------------------------------------------------------ names used in paths
@pytest.mark.parametrize("name", ["../../escaped", "/tmp/absolute", "a/b", ".hidden", ""])
def test_config_names_cannot_leave_runs(name, tmp_path, capsys):
    """A config's name is a plain name: a clear error names the file and the key."""
    root = Path(__file__).resolve().parents[1]
    doc = yaml.safe_load((root / "configs" / "tiny_cpu.yaml").read_text())
    doc["name"] = name
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(yaml.safe_dump(doc))
    work = tmp_path / "work"
    work.mkdir()
    cwd = os.getcwd()
    os.chdir(work)
    try:
        rc = main(["train", "--config", str(cfg), "--steps", "1", "--no-progress", "--data", str(tmp_path / "none")])
    finally:
        os.chdir(cwd)
    err = capsys.readouterr().err
    assert rc == 2 and "cannot be used in a folder name" in err and str(cfg) in err, err
    assert not (tmp_path / "escaped").exists() and not Path("/tmp/absolute").exists()
    assert not any(work.iterdir())


def test_run_folder_of_a_config_built_in_code_stays_in_runs(tmp_path):
    """The same rule where the name does not come through the YAML loader."""
    from moglow.cli_checks import UsageError
    from moglow.commands.train import run_folder

    assert run_folder("tiny_cpu", None, None, tmp_path / "runs").parent == tmp_path / "runs"
    for name in ("../../x", "/abs/x", "..", "a/../../b"):
        with pytest.raises(UsageError, match="cannot be used in a folder name"):
            run_folder(name, None, None, tmp_path / "runs")


def test_the_crafted_file_runs_code_when_loaded_unsafely(tmp_path):
    """The probe works: loading it with ``weights_only=False`` writes the marker, so the tests
    above would notice a loader that unpickles; ``weights_only=True`` refuses it."""
    marker = tmp_path / "MARKER"
    path = craft(tmp_path / "evil.pt", marker)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path, weights_only=True)
    assert not marker.exists()
    torch.load(path, weights_only=False)
    assert marker.exists()
