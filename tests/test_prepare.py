"""``moglow prepare``: splits by file, mirroring of train files only, train-only scaler,
manifest hashes, reuse when up to date, re-preparation when a file or the config changes."""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from data_pipeline.bvh import BVHError, read_bvh
from data_pipeline.bvh_writer import write_bvh
from data_pipeline.config import DataConfig
from data_pipeline.prepare import (PrepareError, PreparedData, load_data_config, prepare_dataset)
from data_pipeline.splits import SplitConfig
from data_pipeline.typed_config import ConfigError, to_dict
from moglow.cli import main as cli_main

# short real takes (dataset-2: 60 frames; dataset-1: 59 frames, style label "masculinity")
FILES = ["dataset-2/dataset-2_run_active_031.bvh", "dataset-2/dataset-2_run_active_046.bvh",
         "dataset-1/dataset-1_run_masculinity_001.bvh"]
VAL_FILE = "dataset-2_run_active_046.bvh"


@pytest.fixture
def small_data(bandai_namco_dir: Path, tmp_path: Path) -> Path:
    """Three real Bandai Namco files copied into a temporary folder."""
    folder = tmp_path / "data"
    folder.mkdir()
    for rel in FILES:
        shutil.copy(bandai_namco_dir / rel, folder / Path(rel).name)
    return folder


def _cfg(**kw) -> DataConfig:
    base = dict(profile="bandai_namco", pattern="*.bvh", fps=20.0, mirror=True,
                style_aliases={"masculinity": "masculine"},
                split=SplitConfig(val_fraction=0.0, val_files=[VAL_FILE]))
    base.update(kw)
    return DataConfig(**base)


def _prepare(cfg, data, out, **kw):
    messages: list[str] = []
    path = prepare_dataset(cfg, data, out, progress=False, workers=1, log=messages.append, **kw)
    return path, messages


def test_prepare_layout_splits_mirroring_and_scaler(small_data, tmp_path):
    out, msgs = _prepare(_cfg(), small_data, tmp_path / "prep")
    assert msgs and msgs[-1].startswith("prepared")
    for name in ("manifest.json", "config.yaml", "profile.yaml", "skeleton.json", "feature_definition.json",
                 "scaler.json", "train.npz", "val.npz", "test.npz"):
        assert (out / name).is_file(), name
    manifest = json.loads((out / "manifest.json").read_text())
    by_path = {f["path"]: f for f in manifest["files"]}
    for name, f in by_path.items():
        assert f["sha256"] == hashlib.sha256((small_data / name).read_bytes()).hexdigest()
    assert by_path[VAL_FILE]["split"] == "val"
    assert manifest["style_names"] == ["active", "masculine"] and manifest["content_names"] == ["run"]

    data = PreparedData.load(out)
    train_files = {f["path"] for f in manifest["files"] if f["split"] == "train"}
    assert len(train_files) == 2
    # splits never share a file; mirrored copies exist for train files only and stay in train
    sources = {s: {q.source for q in seqs} for s, seqs in data.splits.items()}
    assert sources["train"] == train_files and sources["val"] == {VAL_FILE} and not sources["test"]
    assert not sources["train"] & sources["val"]
    assert sorted((q.source, q.mirrored) for q in data.splits["train"]) == \
        sorted((f, m) for f in train_files for m in (False, True))
    assert not any(q.mirrored for q in data.splits["val"])
    # mirroring flips turning and sideways motion, keeps forward motion
    orig = next(q for q in data.splits["train"] if not q.mirrored)
    mirr = next(q for q in data.splits["train"] if q.mirrored and q.source == orig.source)
    np.testing.assert_allclose(mirr.control[:, 2], -orig.control[:, 2], atol=1e-5)
    np.testing.assert_allclose(mirr.control[:, 0], -orig.control[:, 0], atol=1e-5)
    np.testing.assert_allclose(mirr.control[:, 1], orig.control[:, 1], atol=1e-5)
    # styles parsed from names, with the alias applied
    assert {q.style for q in data.splits["train"]} == {"active", "masculine"}
    # the scaler is fitted on the training sequences (mirrored included) only
    train_poses = np.concatenate([q.poses for q in data.splits["train"]]).astype(np.float64)
    all_poses = np.concatenate([train_poses] + [q.poses for q in data.splits["val"]])
    np.testing.assert_allclose(data.scaler.mean, train_poses.mean(0), rtol=1e-6, atol=1e-7)
    train_std = train_poses.std(0)
    np.testing.assert_allclose(data.scaler.std, np.where(train_std < 1e-6, 1.0, train_std), rtol=1e-5)
    assert np.abs(data.scaler.mean - all_poses.mean(0)).max() > 1e-4
    train_control = np.concatenate([q.control for q in data.splits["train"]]).astype(np.float64)
    np.testing.assert_allclose(data.control_scaler.mean, train_control.mean(0), atol=1e-7)
    assert data.pose_dim == data.feature_def.pose_dim == train_poses.shape[1] and data.control_dim == 3
    assert data.skeleton.names == read_bvh(small_data / VAL_FILE).skeleton.names

    # window datasets: normalised with the train scaler, style ids, no dropout on val
    ds = data.dataset("train", seq_len=10, tau=5, dropout=0.5, seed=0)
    item = ds[0]
    first = data.splits["train"][0]
    np.testing.assert_allclose(item["poses"].numpy(), data.scaler.transform(first.poses[:15]), rtol=1e-5, atol=1e-5)
    assert item["style"].item() == data.style_names.index(first.style)
    with pytest.raises(ValueError, match="training only"):
        data.dataset("val", seq_len=10, tau=5, dropout=0.5)
    assert data.dataset("val", seq_len=10, tau=5)[0]["keep"].all()


def test_reuse_and_reprepare(small_data, tmp_path):
    out = tmp_path / "prep"
    _, msgs = _prepare(_cfg(), small_data, out)
    h1 = json.loads((out / "manifest.json").read_text())["data_hash"]
    stamp = (out / "train.npz").stat().st_mtime_ns

    _, msgs = _prepare(_cfg(), small_data, out)
    assert any(m.startswith("up to date") for m in msgs)
    assert (out / "train.npz").stat().st_mtime_ns == stamp

    # a file changes -> prepared again, new hash, new content
    target = small_data / "dataset-2_run_active_031.bvh"
    motion = read_bvh(target)
    motion.values[:, 1] += 10.0  # joint_Root moved up 10 cm
    write_bvh(motion, target)
    _, msgs = _prepare(_cfg(), small_data, out)
    assert msgs[-1].startswith("prepared")
    h2 = json.loads((out / "manifest.json").read_text())["data_hash"]
    assert h2 != h1
    _, msgs = _prepare(_cfg(), small_data, out)
    assert any(m.startswith("up to date") for m in msgs)

    # the config changes -> prepared again; --force -> prepared again
    _, msgs = _prepare(_cfg(fps=15.0), small_data, out)
    assert msgs[-1].startswith("prepared")
    assert PreparedData.load(out).manifest["fps"] == 15.0
    _, msgs = _prepare(_cfg(fps=15.0), small_data, out, force=True)
    assert msgs[-1].startswith("prepared")
    # where the data lives is not part of the hash
    moved = tmp_path / "moved"
    shutil.copytree(small_data, moved)
    _, msgs = _prepare(_cfg(fps=15.0), moved, out)
    assert any(m.startswith("up to date") for m in msgs)
    # no stray temporary directories are left behind
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "moved", "prep"]


def test_pool_matches_serial(small_data, tmp_path):
    a = prepare_dataset(_cfg(), small_data, tmp_path / "a", progress=False, workers=1, log=lambda s: None)
    b = prepare_dataset(_cfg(), small_data, tmp_path / "b", progress=False, workers=2, log=lambda s: None)
    for split in ("train", "val"):
        za, zb = np.load(a / f"{split}.npz"), np.load(b / f"{split}.npz")
        for k in za.files:
            np.testing.assert_array_equal(za[k], zb[k])


def test_bad_files(small_data, tmp_path):
    (small_data / "dataset-2_walk_normal_999.bvh").write_text("HIERARCHY\nROOT Hips\n{\n  OFFSET 0 0\n")
    with pytest.raises(BVHError, match="dataset-2_walk_normal_999.bvh"):
        _prepare(_cfg(), small_data, tmp_path / "prep")
    with pytest.warns(UserWarning, match="skipping bad file"):
        out, _ = _prepare(_cfg(), small_data, tmp_path / "prep", skip_bad=True)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["skipped_bad"] == ["dataset-2_walk_normal_999.bvh"]
    # a folder that is not a prepared dataset is never overwritten
    other = tmp_path / "precious"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    with pytest.raises(PrepareError, match="refusing"):
        _prepare(_cfg(), small_data, other, skip_bad=True)
    assert (other / "notes.txt").read_text() == "keep me"


def test_cli_reads_only_data_section(small_data, tmp_path, capsys):
    exp = {"data": to_dict(_cfg()), "model": {"anything": 1}, "train": {"steps": 5}}
    exp["data"]["data_dir"] = str(small_data)
    cfg_path = tmp_path / "exp.yaml"
    cfg_path.write_text(yaml.safe_dump(exp))
    out = tmp_path / "prep"
    assert cli_main(["prepare", "--config", str(cfg_path), "--out", str(out), "--no-progress", "--workers", "1"]) == 0
    assert "prepared" in capsys.readouterr().out
    assert cli_main(["prepare", "--config", str(cfg_path), "--data", str(small_data), "--out", str(out),
                     "--no-progress"]) == 0
    assert "up to date" in capsys.readouterr().out
    # the written config.yaml is itself a valid --config
    assert load_data_config(out / "config.yaml").fps == 20.0
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"data": {"fsp": 20}}))
    assert cli_main(["prepare", "--config", str(bad), "--out", str(out)]) == 1
    assert "did you mean 'fps'" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="no 'data:' section"):
        load_data_config(_write(tmp_path / "nodata.yaml", {"model": {}}))


def _write(path: Path, doc) -> Path:
    path.write_text(yaml.safe_dump(doc))
    return path


def test_shipped_config_loads():
    cfg = load_data_config(Path(__file__).resolve().parents[1] / "configs" / "data_bandai_namco.yaml")
    assert cfg.profile == "bandai_namco" and cfg.representation == "positions"
    assert cfg.fps == 20 and cfg.mirror and cfg.split.val_fraction > 0


def test_real_data_in_place(bandai_namco_dir, tmp_path):
    """A handful of real files read where they lie, split by a seeded fraction."""
    cfg = DataConfig(profile="bandai_namco", pattern="dataset-2/dataset-2_walk_normal_00[1-6].bvh", mirror=True,
                     split=SplitConfig(val_fraction=0.34, seed=1))
    out = prepare_dataset(cfg, bandai_namco_dir, tmp_path / "prep", progress=False, log=lambda s: None)
    data = PreparedData.load(out)
    val = {q.source for q in data.splits["val"]}
    train = {q.source for q in data.splits["train"]}
    assert len(val) == 2 and len(train) == 4 and not val & train
    assert sum(q.mirrored for q in data.splits["train"]) == 4
    frames = sum(q.num_frames for q in data.splits["val"])
    for q in data.splits["train"] + data.splits["val"]:
        assert q.poses.dtype == np.float32 and np.all(np.isfinite(q.poses)) and q.style == "normal"
    # 30 fps -> 20 fps
    src = sum(f["source_frames"] for f in data.manifest["files"] if f["split"] == "val")
    assert abs(frames - src * 2 / 3) <= 2 * len(val)


def _bad_variants(good_text: str) -> dict[str, str]:
    """A real take broken in each way issue 12 lists."""
    head, _, body = good_text.partition("MOTION")
    frames_line = next(ln for ln in body.splitlines() if ln.startswith("Frames:"))
    lines = body.splitlines()
    first_frame = lines.index(next(ln for ln in lines if ln.startswith("Frame Time:"))) + 1
    deep = ("HIERARCHY\nROOT Hips\n{\nOFFSET 0 0 0\nCHANNELS 3 Xposition Yposition Zposition\n"
            + "".join(f"JOINT J{d}\n{{\nOFFSET 0 1 0\nCHANNELS 1 Zrotation\n" for d in range(3000))
            + "}\n" * 3001 + "MOTION\nFrames: 1\nFrame Time: 0.1\n" + " ".join(["0"] * 3003) + "\n")
    full = "CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation"
    channels = head.replace(full, full.rsplit(" ", 1)[0], 1) + "MOTION" + body  # 6 announced, 5 named
    return {
        "zero_frames": head + "MOTION\n" + "\n".join([ln.replace(frames_line, "Frames: 0") for ln in
                                                     lines[1:first_frame]]) + "\n",
        "zero_frame_time": head + "MOTION" + body.replace("Frame Time:", "Frame Time: 0 #", 1).replace(
            "Frame Time: 0 #", "Frame Time: 0\n#", 1).split("\n#", 1)[0] + "\n" + "\n".join(lines[first_frame:]) + "\n",
        "billions_of_frames": head + "MOTION" + body.replace(frames_line, "Frames: 5000000000", 1),
        "deep_hierarchy": deep,
        "channel_count": channels,
    }


@pytest.mark.parametrize("kind", ["zero_frames", "zero_frame_time", "billions_of_frames", "deep_hierarchy",
                                  "channel_count"])
def test_skip_bad_keeps_the_good_files(small_data, tmp_path, kind):
    """One bad file of each kind: without --skip-bad one clear error naming it; with it, the good
    files are all prepared and the bad one is listed in the manifest."""
    text = (small_data / Path(FILES[0]).name).read_text()
    bad = small_data / f"dataset-2_walk_broken_{kind}.bvh"
    bad.write_text(_bad_variants(text)[kind])
    with pytest.raises((BVHError, PrepareError, ValueError), match=bad.name):
        _prepare(_cfg(), small_data, tmp_path / "strict")
    with pytest.warns(UserWarning, match=f"skipping bad file: .*{bad.name}"):
        out, _ = _prepare(_cfg(), small_data, tmp_path / "prep", skip_bad=True)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["skipped_bad"] == [bad.name]
    ok = sorted(f["path"] for f in manifest["files"] if f["status"] == "ok")
    assert ok == sorted(Path(f).name for f in FILES)


@pytest.mark.parametrize("representation", ["positions", "rotations"])
def test_long_takes_are_prepared_in_windows_with_the_same_numbers(bandai_namco_dir, tmp_path, monkeypatch,
                                                                   representation):
    """Above ``LONG_TAKE_BYTES`` a take is read and turned into features window by window
    (bounded memory; ``benchmarks/long_take.py`` measures it): the prepared data are the same."""
    import data_pipeline.long_takes as long_takes
    import data_pipeline.prepare_workers as prepare_workers

    src = (bandai_namco_dir / "dataset-2" / "dataset-2_walk_normal_001.bvh").read_text()
    head, _, body = src.partition("MOTION")
    rows = [ln for ln in body.splitlines() if ln.strip()][2:]
    rows = (rows + rows[::-1]) * 3
    data = tmp_path / "data"
    data.mkdir()
    (data / "dataset-2_walk_long_001.bvh").write_text(
        f"{head}MOTION\nFrames: {len(rows)}\nFrame Time: 0.0333333\n" + "\n".join(rows) + "\n")
    shutil.copy(bandai_namco_dir / FILES[1], data / VAL_FILE)
    cfg = _cfg(representation=representation)
    whole, _ = _prepare(cfg, data, tmp_path / "whole")
    calls = []
    real = long_takes.extract_features_from_file
    monkeypatch.setattr(prepare_workers, "LONG_TAKE_BYTES", 0)
    monkeypatch.setattr(prepare_workers, "extract_features_from_file",
                        lambda *a, **k: calls.append(a[0]) or real(*a, **{**k, "chunk_frames": 97}))
    windowed, _ = _prepare(cfg, data, tmp_path / "windowed", force=True)
    assert len(calls) == 3  # the long take plain and mirrored, the validation take
    for split in ("train", "val"):
        with np.load(whole / f"{split}.npz") as a, np.load(windowed / f"{split}.npz") as b:
            assert sorted(a.files) == sorted(b.files)
            for k in a.files:
                np.testing.assert_allclose(a[k], b[k], rtol=0, atol=1e-6, err_msg=f"{split}.{k}")
    ma = json.loads((whole / "manifest.json").read_text())
    mb = json.loads((windowed / "manifest.json").read_text())
    assert [(f["path"], f["frames"], f["source_frames"]) for f in ma["files"]] == \
        [(f["path"], f["frames"], f["source_frames"]) for f in mb["files"]]
