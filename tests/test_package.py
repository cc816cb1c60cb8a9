"""Using the package: configs by name with overrides, flags that mean one thing, several file
patterns, quiet logs when piped, checkpoint permissions, CMU profile aliases, drafted profiles,
the split's validation file, and training on a folder written by generate-data."""
from __future__ import annotations

import os
import stat
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from data_pipeline.bvh import read_bvh
from data_pipeline.config import DataConfig
from data_pipeline.features import extract_features
from data_pipeline.file_patterns import match_files
from data_pipeline.profile_draft import draft_profile
from data_pipeline.profiles import ProfileError, load_profile
from data_pipeline.resources import available, resolve_config
from data_pipeline.splits import SplitConfig, split_files
from data_pipeline.typed_config import ConfigError
from moglow.config import load_experiment
from tests.conftest import require_path

REPO = Path(__file__).resolve().parents[1]
CMU = Path("/usr/share/assimp/models/BVH/01_01.bvh")


# ------------------------------------------------------------------ configs by name, overrides
def test_configs_and_profiles_by_name_from_any_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert {"tiny_cpu", "small_cpu", "evaluation"} <= set(available())
    assert resolve_config("tiny_cpu") == REPO / "configs" / "tiny_cpu.yaml"
    assert resolve_config("configs/tiny_cpu.yaml") == REPO / "configs" / "tiny_cpu.yaml"  # the README's spelling
    assert load_profile("bandai_namco").root == "Hips"
    with pytest.raises(ConfigError, match="unknown config 'tiny_cpuu'.*tiny_cpu"):
        resolve_config("tiny_cpuu")
    own = tmp_path / "mine.yaml"
    own.write_text((REPO / "configs" / "tiny_cpu.yaml").read_text().replace("name: tiny_cpu", "name: mine"))
    assert load_experiment(own).name == "mine"  # a user's own file still works


def test_set_overrides_any_key_and_is_checked_like_the_file():
    cfg = load_experiment("tiny_cpu", ["train.steps=200", "model.hidden=128", "train.lr=1e-3",
                                       "data.split.seed=3", "train.plot_every=null"])
    assert (cfg.train.steps, cfg.model.hidden, cfg.train.lr, cfg.data.split.seed) == (200, 128, 1e-3, 3)
    assert cfg.train.plot_every is None
    with pytest.raises(ConfigError, match=r"unknown key 'hiden'.*did you mean 'hidden'"):
        load_experiment("tiny_cpu", ["model.hiden=128"])
    with pytest.raises(ConfigError, match="expected an integer"):
        load_experiment("tiny_cpu", ["train.steps=many"])
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        load_experiment("tiny_cpu", ["train.steps"])


def test_data_dir_is_relative_to_the_config_file(tmp_path, monkeypatch):
    (tmp_path / "cfgs").mkdir()
    cfg_file = tmp_path / "cfgs" / "x.yaml"
    cfg_file.write_text("name: x\ndata:\n  data_dir: ../takes\nmodel: {}\ntrain: {}\n")
    monkeypatch.chdir(REPO)
    assert Path(load_experiment(cfg_file).data.data_dir) == tmp_path / "takes"
    monkeypatch.chdir(tmp_path)  # the same from elsewhere: the shipped configs find ../shared beside the repo
    shipped = Path(load_experiment("tiny_cpu").data.data_dir).resolve()
    assert shipped == (REPO.parent / "shared" / "mocap" / "bandai-namco" / "dataset-2").resolve()


# ------------------------------------------------------------------ CLI flags
def _help(*args: str) -> str:
    from moglow.cli import build_parser

    parser = build_parser()
    sub = parser._subparsers._group_actions[0].choices  # noqa: SLF001 - argparse keeps them here
    p = sub[args[0]]
    for a in args[1:]:
        p = p._subparsers._group_actions[0].choices[a]  # noqa: SLF001
    return p.format_help()


@pytest.mark.parametrize("cmd", [("train",), ("sample",), ("evaluate",), ("demo",), ("prepare",), ("render",),
                                 ("review",), ("toy",), ("images", "train"), ("images", "evaluate"),
                                 ("images", "floor"), ("generate-data",), ("profile", "draft")])
def test_help_reads_consistently(cmd):
    text = _help(*cmd)
    assert "(default: None)" not in text
    from moglow.cli import build_parser

    parser = build_parser()
    sub = parser._subparsers._group_actions[0].choices[cmd[0]]  # noqa: SLF001
    for a in cmd[1:]:
        sub = sub._subparsers._group_actions[0].choices[a]  # noqa: SLF001
    for action in sub._actions:  # noqa: SLF001
        if action.option_strings and action.dest != "help":
            assert action.help, f"moglow {' '.join(cmd)} {action.option_strings[0]} has no help"
    if "--device" in text:
        assert "auto (CUDA when present" in text
    if "--checkpoint" in text:
        assert "RUN|FILE.pt" in text


def _option_help(text: str, option: str) -> str:
    body = text.split("options:", 1)[1]
    return body.split(f"\n  {option}", 1)[1][:200]


def test_steps_means_optimiser_steps_everywhere():
    assert "optimiser steps" in _option_help(_help("toy"), "--steps")
    assert "K: flow steps" in _option_help(_help("toy"), "--flow-steps")
    assert "training steps" in _option_help(_help("train"), "--steps")
    assert "optimiser steps" in _option_help(_help("images", "train"), "--steps")


# ------------------------------------------------------------------ patterns, progress, umask
def test_several_patterns_and_their_counts(tmp_path):
    for n in ("a_walk_1.bvh", "a_walkturn_1.bvh", "a_run_1.bvh"):
        (tmp_path / n).write_text("")
    said: list[str] = []
    files = match_files(tmp_path, ["*_walk_*", "*_walkturn_*"], log=said.append)
    assert [f.name for f in files] == ["a_walk_1.bvh", "a_walkturn_1.bvh"]
    assert "'*_walk_*': 1" in said[0] and "'*_walkturn_*': 1" in said[0]
    cfg = DataConfig(pattern=["*_walk_*", "*_run_*"])
    from data_pipeline.prepare import list_data_files

    assert list_data_files(tmp_path, cfg) == ["a_run_1.bvh", "a_walk_1.bvh"]


def test_no_progress_bars_when_piped():
    code = ("from data_pipeline.progress import progress_bar\n"
            "for _ in progress_bar(range(50), desc='stage', unit='step'): pass\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                       env={**os.environ, "PYTHONPATH": str(REPO)})
    assert r.returncode == 0, r.stderr
    assert "\r" not in r.stderr and r.stderr.strip().splitlines() == [r.stderr.strip()]
    assert r.stderr.startswith("stage: 50 steps in ")


def test_checkpoints_honour_the_umask(tmp_path):
    import torch

    from moglow.checkpoint import save_checkpoint

    old = os.umask(0o022)
    try:
        path = save_checkpoint({"model": {"w": torch.zeros(2)}}, tmp_path / "c.pt")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


# ------------------------------------------------------------------ profiles
def _renamed(text: str, names: dict[str, str]) -> str:
    out = []
    for line in text.splitlines():
        words = line.split()
        if len(words) == 2 and words[0] in ("ROOT", "JOINT") and words[1] in names:
            line = line.replace(words[1], names[words[1]])
        out.append(line)
    return "\n".join(out) + "\n"


MOTIONBUILDER = {"LFingers": "LeftHandIndex1", "RFingers": "RightHandIndex1"}
MAX3DS = {"LeftUpLeg": "LeftHip", "RightUpLeg": "RightHip", "LeftLeg": "LeftKnee", "RightLeg": "RightKnee",
          "LeftFoot": "LeftAnkle", "RightFoot": "RightAnkle", "LeftToeBase": "LeftToe", "RightToeBase": "RightToe",
          "LowerBack": "lowerback", "Spine": "upperback", "Spine1": "thorax", "Neck": "lowerneck", "Neck1": "upperneck",
          "LeftShoulder": "LeftCollar", "RightShoulder": "RightCollar", "LHipJoint": "lhipjoint",
          "RHipJoint": "rhipjoint", "LFingers": "LeftHandIndex1", "RFingers": "RightHandIndex1"}


@pytest.mark.parametrize("names", [MOTIONBUILDER, MAX3DS], ids=["motionbuilder", "3dsmax"])
def test_cmu_conversions_load_with_the_cmu_profile(tmp_path, names):
    src = require_path(CMU, "Debian's CMU take (assimp-testmodels)")
    text = src.read_text()
    head, _, body = text.partition("MOTION")
    frames = body.splitlines()[:3] + body.splitlines()[3:83]  # header lines + 80 frames
    frames[1] = "Frames: 80"
    short = tmp_path / "orig.bvh"
    short.write_text(head + "MOTION" + "\n".join(frames) + "\n")
    other = tmp_path / "renamed.bvh"
    other.write_text(_renamed(short.read_text(), names))
    cfg = DataConfig(profile="cmu", fps=20.0)
    a = extract_features(read_bvh(short), "cmu", cfg)
    b = extract_features(read_bvh(other), "cmu", cfg, mirror=True)
    b0 = extract_features(read_bvh(short), "cmu", cfg, mirror=True)
    np.testing.assert_array_equal(b.poses, b0.poses)
    assert a.poses.shape == b.poses.shape


def test_profile_errors_name_the_profile_file_and_the_take(tmp_path):
    src = require_path(CMU, "Debian's CMU take (assimp-testmodels)")
    bad = tmp_path / "bad.bvh"
    bad.write_text(_renamed(src.read_text()[:20000].partition("MOTION")[0], {"LeftFoot": "Zzz"})
                   + "MOTION\nFrames: 1\nFrame Time: 0.1\n" + " ".join(["0"] * 96) + "\n")
    with pytest.raises(ProfileError, match=r"cmu\.yaml.*'LeftFoot'.*bad\.bvh.*aliases"):
        extract_features(read_bvh(bad), "cmu", DataConfig(profile="cmu"))


def test_profile_draft_finds_the_cmu_roles(tmp_path):
    from data_pipeline.kinematics import forward_kinematics
    from moglow.cli import main

    take = read_bvh(require_path(CMU, "Debian's CMU take (assimp-testmodels)"))
    take.values = take.values[:1]
    d = draft_profile(take.skeleton, "cmu_draft", forward_kinematics(take)[0][0])
    assert d["root"] == "Hips" and d["unit_scale"] == pytest.approx(0.0564444)
    assert d["hips"] == ["LeftUpLeg", "RightUpLeg"] and d["shoulders"] == ["LeftArm", "RightArm"]
    assert d["feet"] == ["LeftFoot", "LeftToeBase", "RightFoot", "RightToeBase"]
    assert sorted(map(tuple, d["mirror_pairs"])) == sorted(map(tuple, load_profile("cmu").mirror_pairs))
    out = tmp_path / "draft.yaml"
    assert main(["profile", "draft", str(CMU), "--out", str(out)]) == 0
    prof = load_profile(out)
    prof.validate_skeleton(read_bvh(CMU).skeleton)  # the draft fits its take
    assert main(["profile", "draft", str(CMU), "--out", str(out)]) == 1  # no silent overwrite


def test_a_few_files_still_get_a_validation_file():
    with pytest.warns(UserWarning, match="rounds to no validation file"):
        out = split_files(["a.bvh", "b.bvh", "c.bvh"], SplitConfig(val_fraction=0.1, test_fraction=0.1))
    assert len(out["val"]) == 1 and len(out["train"]) == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert split_files(["a.bvh"], SplitConfig())["train"] == ["a.bvh"]  # one file: nothing to hold out
        assert len(split_files([f"{i}.bvh" for i in range(20)], SplitConfig())["val"]) == 2


# ------------------------------------------------------------------ generate-data -> train
def test_generate_data_then_train(tmp_path):
    from moglow.cli import main

    data = tmp_path / "takes"
    assert main(["generate-data", "--out", str(data), "--takes", "3", "--seconds", "4", "--no-progress"]) == 0
    assert (data / "manifest.json").is_file()  # the generator's own manifest is not a prepared folder
    rc = main(["train", "--data", str(data), "--out", str(tmp_path / "run"), "--cache", str(tmp_path / "cache"),
               "--no-progress", "--set", "train.steps=2", "model.num_steps=1", "model.hidden=8", "train.batch_size=4",
               "train.seq_len=10", "train.val_every=2", "train.checkpoint_every=2", "train.warmup_steps=1",
               "train.plot_every=null", "train.tensorboard=false"])
    assert rc == 0
    assert (tmp_path / "run" / "best.pt").is_file()  # a validation file was kept, so best.pt exists


def test_profile_draft_pairs_joints_by_geometry_when_names_say_nothing():
    import dataclasses

    from data_pipeline.procedural_skeleton import procedural_skeleton

    skel = procedural_skeleton()
    anon = [n if not n.endswith(("_L", "_R")) else f"j{i}" for i, n in enumerate(skel.names)]
    d = draft_profile(dataclasses.replace(skel, names=anon), "anonymous")  # rest pose: +X is left
    truth = load_profile("procedural")
    rename = dict(zip(skel.names, anon, strict=True))
    assert sorted(map(tuple, d["mirror_pairs"])) == sorted((rename[a], rename[b]) for a, b in truth.mirror_pairs)
    assert d["hips"] == [rename[n] for n in truth.hips] and d["shoulders"] == [rename[n] for n in truth.shoulders]
    assert d["unit_scale"] == 0.01 and d["root"] == "Hips"


def test_profile_draft_matches_the_shipped_bandai_namco_profile(bandai_namco_dir):
    from data_pipeline.kinematics import forward_kinematics

    take = read_bvh(sorted((bandai_namco_dir / "dataset-2").glob("*_walk_*.bvh"))[0])
    take.values = take.values[:1]
    d = draft_profile(take.skeleton, "draft", forward_kinematics(take)[0][0])
    shipped = load_profile("bandai_namco")
    assert (d["root"], d["unit_scale"]) == (shipped.root, shipped.unit_scale)
    assert (d["hips"], d["shoulders"]) == (list(shipped.hips), list(shipped.shoulders))
    assert sorted(d["feet"]) == sorted(shipped.feet)
    assert sorted(map(tuple, d["mirror_pairs"])) == sorted(map(tuple, shipped.mirror_pairs))


def test_the_declared_torch_range_starts_at_the_version_ci_tests():
    """setup.py's lowest torch is the one scripts/setup.sh pins for CI, so the bottom of the range is tested."""
    import re

    from conftest import REPO_ROOT

    declared = re.search(r'"torch>=([0-9.]+)"', (REPO_ROOT / "setup.py").read_text()).group(1)
    pinned = re.search(r"torch==([0-9.]+)", (REPO_ROOT / "scripts" / "setup.sh").read_text()).group(1)
    assert pinned.startswith(declared + ".") or pinned == declared, (declared, pinned)
