"""Outputs are never lost, half-written or replaced unasked; bad values stop before any work
(issue 12, "Bad input gets one clear error ... and nothing is lost").

- every output goes through :mod:`data_pipeline.output_files` (temporary name, then rename): a
  full disk, a read-only folder or a file where a folder should be is one line on stderr, no
  traceback, and no truncated ``sample_000.bvh``;
- ``--force`` is needed to replace existing outputs (sample, render, review, evaluate, train);
- command-line bounds are checked up front with the allowed range in the message.
"""
from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from sampling_testutils import prepared_procedural, random_model, tiny_model_config, write_checkpoint

import data_pipeline.output_files as output_files
from data_pipeline.output_files import OutputExistsError, atomic_write, refuse_overwrite, write_text_atomic
from moglow.cli import main

SAMPLE = ["--path", "line:speed=1.0", "--seconds", "1", "--num", "2", "--no-progress"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("outputs")
    prepared = prepared_procedural(root)
    run = root / "run"
    write_checkpoint(run / "latest.pt", random_model(tiny_model_config(tau=3), prepared.pose_dim, scale=0.02),
                     prepared)
    return run


def _one_line_error(err: str, *fragments: str) -> None:
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    for f in fragments:
        assert f in lines[0], (f, err)


def _no_leftovers(folder: Path) -> None:
    """No hidden temporary file is left behind."""
    assert not [p.name for p in folder.rglob(".*.tmp")], list(folder.rglob("*"))


class _DiskFillsUp:
    """A file object that accepts ``room`` bytes, then fails like a full disk."""

    def __init__(self, real, room: int) -> None:
        self.real, self.room = real, room

    def write(self, b) -> int:
        if len(b) > self.room:
            self.real.write(b[: self.room] if isinstance(b, str) else bytes(b)[: self.room])  # a truncated file
            self.room = 0
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.room -= len(b)
        return self.real.write(b)

    def __getattr__(self, name):
        return getattr(self.real, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.real.close()


def _fill_disk_after(monkeypatch, room: int) -> None:
    real_open = open

    def fake_open(file, mode="r", *args, **kwargs):
        f = real_open(file, mode, *args, **kwargs)
        return _DiskFillsUp(f, room) if "w" in mode else f

    monkeypatch.setattr(output_files, "open", fake_open, raising=False)


# ------------------------------------------------------------------ the helper itself
def test_atomic_write_keeps_the_old_file_on_a_full_disk(tmp_path, monkeypatch):
    target = tmp_path / "out.txt"
    target.write_text("the user's old file")
    _fill_disk_after(monkeypatch, 10)
    with pytest.raises(OSError) as info:
        write_text_atomic(target, "x" * 1000)
    assert info.value.errno == errno.ENOSPC and str(target) in str(info.value)
    assert target.read_text() == "the user's old file"
    _no_leftovers(tmp_path)


def test_atomic_write_errors_name_the_target(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(NotADirectoryError, match=r"file is a file, not a folder"):
        write_text_atomic(tmp_path / "file" / "x.bvh", "data")
    (tmp_path / "dir.bvh").mkdir()
    with pytest.raises(IsADirectoryError, match="dir.bvh"):
        write_text_atomic(tmp_path / "dir.bvh", "data")
    with pytest.raises(RuntimeError):  # any exception: the target never appears
        with atomic_write(tmp_path / "half.bin") as f:
            f.write(b"half")
            raise RuntimeError("crash")
    assert not (tmp_path / "half.bin").exists()
    _no_leftovers(tmp_path)


def test_files_get_the_users_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        path = write_text_atomic(tmp_path / "a.txt", "x")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644


def test_refuse_overwrite_names_the_file():
    refuse_overwrite([Path("/nonexistent/x")], force=False)
    with pytest.raises(OutputExistsError, match=r"exists.*--force"):
        refuse_overwrite([Path(__file__)], force=False)
    refuse_overwrite([Path(__file__)], force=True)


# ------------------------------------------------------------------ moglow sample
def test_sample_on_a_full_disk_leaves_no_truncated_file(run_dir, tmp_path, monkeypatch, capsys):
    _fill_disk_after(monkeypatch, 2000)  # the hierarchy fits, the frames do not
    out = tmp_path / "out"
    rc = main(["sample", "--checkpoint", str(run_dir), *SAMPLE, "--out", str(out)])
    _one_line_error(capsys.readouterr().err, "No space left on device", "sample_000.bvh")
    assert rc == 1
    assert not (out / "sample_000.bvh").exists()
    _no_leftovers(tmp_path)


def test_sample_into_a_file_or_unwritable_folder_is_one_line(run_dir, tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the output folder should be")
    assert main(["sample", "--checkpoint", str(run_dir), *SAMPLE, "--out", str(blocker)]) == 1
    _one_line_error(capsys.readouterr().err, "is a file, not a folder")
    assert main(["sample", "--checkpoint", str(run_dir), *SAMPLE, "--out", str(blocker / "sub")]) == 1
    _one_line_error(capsys.readouterr().err, "is a file, not a folder")

    # a read-only folder (simulated: the tests may run as root, who may write anywhere)
    def no_permission(*args, **kwargs):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

    monkeypatch.setattr(output_files.tempfile, "mkstemp", no_permission)
    out = tmp_path / "readonly"
    assert main(["sample", "--checkpoint", str(run_dir), *SAMPLE, "--out", str(out)]) == 1
    _one_line_error(capsys.readouterr().err, "Permission denied", "sample_000.bvh")
    assert not (out / "sample_000.bvh").exists()


def test_sample_refuses_to_overwrite_without_force(run_dir, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["sample", "--checkpoint", str(run_dir), *SAMPLE, "--out", str(out)]) == 0
    capsys.readouterr()
    (out / "sample_000.bvh").write_text("the user's edited take")
    assert main(["sample", "--checkpoint", str(run_dir), *SAMPLE, "--seed", "1", "--out", str(out)]) == 1
    _one_line_error(capsys.readouterr().err, "sample_000.bvh exists", "--force")
    assert (out / "sample_000.bvh").read_text() == "the user's edited take"
    assert main(["sample", "--checkpoint", str(run_dir), *SAMPLE, "--seed", "1", "--out", str(out), "--force"]) == 0
    assert (out / "sample_000.bvh").read_text().startswith("HIERARCHY")
    _no_leftovers(out)


@pytest.mark.parametrize("argv, fragment", [
    (["--seconds", "1e9"], "--seconds must be between 0.001 and 3600 (got 1e+09)"),
    (["--seconds", "nan"], "--seconds must be between"),
    (["--temperature", "1e6"], "--temperature must be between 0 and 5 (got 1e+06)"),
    (["--temperature", "-1"], "--temperature must be between 0 and 5"),
    (["--threads", "0"], "--threads must be between 1 and 1024 (got 0)"),
    (["--num", "0"], "--num must be between 1 and 1000 (got 0)"),
    (["--num", "1000", "--seconds", "3000"], "at most 2,000,000 per call"),
])
def test_sample_bounds_are_checked_up_front(run_dir, tmp_path, capsys, argv, fragment):
    import tracemalloc

    tracemalloc.start()
    try:
        rc = main(["sample", "--checkpoint", str(run_dir), "--out", str(tmp_path / "o"), "--no-progress", *argv])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert rc == 1
    _one_line_error(capsys.readouterr().err, fragment)
    assert peak < 200 << 20, peak  # nothing sized by the bad value was allocated
    assert not (tmp_path / "o").exists()


def test_cuda_without_a_gpu_says_so(run_dir, tmp_path, capsys):
    """``--device cuda`` where there is none says so (not "unreadable checkpoint"); on a machine
    with CUDA, a device number it lacks is the same kind of error."""
    if torch.cuda.is_available():
        device, fragment = f"cuda:{torch.cuda.device_count()}", "CUDA device(s), numbered from 0"
    else:
        device, fragment = "cuda", "no CUDA device"
    assert main(["sample", "--checkpoint", str(run_dir), *SAMPLE, "--device", device, "--out", str(tmp_path)]) == 1
    _one_line_error(capsys.readouterr().err, fragment)
    if device == "cuda":  # evaluate's and train's --device take only auto|cpu|cuda
        assert main(["evaluate", "--checkpoint", str(run_dir), "--split", "test", "--device", "cuda",
                     "--out", str(tmp_path / "ev")]) == 1
        _one_line_error(capsys.readouterr().err, fragment)
        cfg = Path(__file__).resolve().parents[1] / "configs" / "tiny_cpu.yaml"
        assert main(["train", "--config", str(cfg), "--device", "cuda", "--out", str(tmp_path / "run"),
                     "--data", str(tmp_path / "none")]) == 2
        _one_line_error(capsys.readouterr().err, fragment)


# ------------------------------------------------------------------ render, review, evaluate
def _npz(path: Path, positions: np.ndarray) -> Path:
    np.savez(path, positions=positions, parents=np.array([-1, 0]), fps=np.float64(20))
    return path


@pytest.mark.parametrize("value, fragment", [(1e30, "reach 1e+30 m from the origin; at most 10000 m"),
                                             (np.nan, "NaN or infinity (first at frame 3)")])
def test_render_refuses_absurd_positions(tmp_path, capsys, value, fragment):
    pos = np.zeros((5, 2, 3))
    pos[:, 1, 1] = 1.0
    pos[3, 1, 0] = value
    clip = _npz(tmp_path / "clip.npz", pos)
    assert main(["render", str(clip), "--out", str(tmp_path / "clip.mp4"), "--no-progress"]) == 1
    _one_line_error(capsys.readouterr().err, "clip.npz", fragment)
    assert not (tmp_path / "clip.mp4").exists()


@pytest.mark.parametrize("argv, fragment", [(["--frames", "0"], "--frames must be"),
                                            (["--start", "-1"], "--start must be"),
                                            (["--width", "100000"], "--width must be between 16 and 7680")])
def test_render_bounds(tmp_path, capsys, argv, fragment):
    assert main(["render", "in.npz", "--out", str(tmp_path / "x.mp4"), *argv]) == 1
    _one_line_error(capsys.readouterr().err, fragment)


def test_render_review_evaluate_refuse_to_overwrite(run_dir, tmp_path, capsys):
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"the user's video")
    assert main(["render", "anything.npz", "--out", str(clip)]) == 1
    _one_line_error(capsys.readouterr().err, "clip.mp4 exists", "--force")
    assert clip.read_bytes() == b"the user's video"

    review = tmp_path / "review"
    review.mkdir()
    (review / "index.html").write_text("the user's page")
    assert main(["review", str(run_dir), "--out", str(review), "--no-render"]) == 1
    _one_line_error(capsys.readouterr().err, "index.html exists", "--force")
    assert (review / "index.html").read_text() == "the user's page"

    ev = tmp_path / "ev"
    ev.mkdir()
    (ev / "evaluation.json").write_text("{}")
    assert main(["evaluate", "--checkpoint", str(run_dir), "--split", "test", "--out", str(ev)]) == 1
    _one_line_error(capsys.readouterr().err, "evaluation.json exists", "--force")
    assert json.loads((ev / "evaluation.json").read_text()) == {}


def test_train_refuses_to_replace_a_run_without_force(run_dir, tmp_path, capsys):
    cfg = Path(__file__).resolve().parents[1] / "configs" / "tiny_cpu.yaml"
    before = (run_dir / "latest.pt").read_bytes()
    assert main(["train", "--config", str(cfg), "--out", str(run_dir), "--data", str(tmp_path / "none")]) == 2
    _one_line_error(capsys.readouterr().err, "latest.pt exists", "--force")
    assert (run_dir / "latest.pt").read_bytes() == before
