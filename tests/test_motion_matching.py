"""The motion-matching baseline (baselines/motion_matching) on real Bandai Namco takes, and the
``moglow evaluate --baseline`` hook (moglow/evaluation/generators.py) that scores it as a row."""
from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from baselines.motion_matching.controller import MatchingController, spring_decay
from baselines.motion_matching.database import MatchingDatabase, MatchingSettings
from baselines.motion_matching.generator import settings_from
from conftest import BANDAI_NAMCO, require, require_path
from data_pipeline.bvh import read_bvh
from data_pipeline.config import DataConfig
from data_pipeline.features import FeatureSequence, extract_features, feature_definition, integrate_control
from data_pipeline.profiles import load_profile
from data_pipeline.scaler import Scaler
from moglow.evaluation import metrics as M
from moglow.evaluation.heldout import world_positions
from moglow.evaluation.rows import JointRoles, motion_heading
from moglow.evaluation.generators import load_generator_factory, register_generator

FPS, CONTEXT = 20, 10
DATA = DataConfig(profile="bandai_namco", fps=FPS, contacts=True)


@pytest.fixture(scope="module")
def clips():
    """Normal-style walks and left turns with their mirror images (right turns), and the layout."""
    root = require_path(BANDAI_NAMCO / "dataset-2", "Bandai Namco mocap (dataset-2)")
    files = sorted(root.glob("*_walk_normal_*"))[:3] + sorted(root.glob("*_walk-turn-left_normal_*"))[:4]
    require(len(files) == 7, f"too few normal walks in {root}")
    profile = load_profile("bandai_namco")
    motions = [read_bvh(f) for f in files]
    seqs = [extract_features(m, profile, DATA, mirror=k) for m in motions for k in (False, True)]
    fdef = feature_definition(motions[0].skeleton, profile, DATA)
    roles = JointRoles.of(fdef, profile)
    return seqs, fdef, roles, [roles.names[i] for i in roles.ankles]


def test_a_clip_driven_by_its_own_control_plays_back_exactly(clips):
    """Started on a database clip with that clip's whole path known, the playing frame always
    costs 0, so the controller never leaves it: the output is the clip, bit for bit."""
    seqs, fdef, _, ankles = clips
    db = MatchingDatabase(seqs, fdef, ankles, MatchingSettings(future="oracle"))
    ctl = MatchingController(db)
    for i in (0, 9):
        out = ctl.play(seqs[i], CONTEXT)
        assert ctl.jumps == 1  # the first match only
        first = int(np.flatnonzero(db.clip == i)[0])
        np.testing.assert_array_equal(ctl.played[CONTEXT:], first + np.arange(CONTEXT, seqs[i].num_frames))
        np.testing.assert_array_equal(out, seqs[i].poses)


def test_search_returns_the_brute_force_nearest_frames(clips):
    seqs, fdef, _, ankles = clips
    for s in seqs[:6]:
        s.style = "a"
    db = MatchingDatabase(seqs, fdef, ankles, MatchingSettings(match_style=True))
    rng = np.random.default_rng(0)
    queries = db.features[rng.choice(len(db.features), 20)] + rng.normal(scale=0.3, size=(20, db.features.shape[1]))
    for style, pool in ((None, db.targets), ("a", db.targets[db.clip[db.targets] < 6])):
        for q in queries:
            found, cost = db.nearest(q, 3, style)
            brute = np.linalg.norm(db.features[pool] - q, axis=1)
            order = np.argsort(brute)[:3]
            np.testing.assert_array_equal(found, pool[order])
            np.testing.assert_allclose(cost, brute[order], rtol=1e-9)
            assert db.cost(int(found[0]), q) == pytest.approx(cost[0])


@pytest.mark.parametrize("turn", [0.0, 0.5, -0.5])
def test_follows_a_straight_and_a_turning_path(clips, turn):
    """At 1.2 m/s straight or turning 0.5 rad/s either way (right turns exist only as mirrored
    left turns), the body faces the commanded heading within a few degrees and the database
    frames it plays move at the commanded speed and turn the commanded way."""
    seqs, fdef, roles, ankles = clips
    db = MatchingDatabase(seqs, fdef, ankles)
    n = 160
    control = np.tile(np.array([0.0, 1.2 / FPS, turn / FPS], np.float32), (n, 1))
    poses = np.concatenate([seqs[0].poses[:CONTEXT], np.repeat(seqs[0].poses[CONTEXT - 1:CONTEXT], n - CONTEXT, 0)])
    take = FeatureSequence(poses=poses, control=control, fps=FPS)
    ctl = MatchingController(db)
    out = ctl.play(take, CONTEXT)
    world = world_positions(out, take, fdef)
    _, heading = integrate_control(control, take.root_start)
    err = M.heading_error(motion_heading(world, roles, DATA, FPS)[CONTEXT:], heading[CONTEXT:]).value
    assert err < 3.0
    played = np.concatenate([s.control for s in seqs])[ctl.played[CONTEXT:]] * FPS
    assert np.hypot(played[:, 0], played[:, 1]).mean() == pytest.approx(1.2, rel=0.2)
    if turn:
        assert played[:, 2].mean() == pytest.approx(turn, rel=0.5)
    else:
        assert abs(played[:, 2].mean()) < 0.1
    assert np.isfinite(out).all() and (out[:, db.contact_cols] >= 0).all() and (out[:, db.contact_cols] <= 1).all()


def test_inertial_blend_starts_at_the_offset_and_dies_out():
    off, vel = np.array([0.1, -0.2]), np.array([0.01, 0.0])
    np.testing.assert_allclose(spring_decay(off, vel, 0, 2.0), off)
    assert np.abs(spring_decay(off, vel, 20, 2.0)).max() < 1e-3
    step = spring_decay(off, vel, 1, 2.0) - spring_decay(off, vel, 0, 2.0)
    assert np.abs(step).max() < np.abs(off).max()  # no jump: the offset decays smoothly


def test_settings_from_command_line_strings():
    s = settings_from({"top_k": "4", "future": "oracle", "offsets_s": "0.5,1", "weights": "feet_velocity=2",
                       "match_style": "false"})
    assert (s.top_k, s.future, s.offsets_s, s.match_style) == (4, "oracle", (0.5, 1.0), False)
    assert s.weights["feet_velocity"] == 2.0 and s.weights["trajectory_position"] == 1.0
    with pytest.raises(ValueError, match="unknown motion-matching option"):
        settings_from({"speed": "1"})


def test_generator_lookup_by_registry_and_by_spec():
    from baselines.motion_matching.generator import make_generator

    assert load_generator_factory("baselines.motion_matching.generator:make_generator") is make_generator
    register_generator("test-mm", make_generator)
    assert load_generator_factory("test-mm") is make_generator
    with pytest.raises(KeyError, match="unknown generator"):
        load_generator_factory("no-such-generator")


def test_an_installed_generator_is_found_through_the_entry_point_group(tmp_path, monkeypatch):
    """The way `pip install -e .` makes `--baseline motion-matching` work: a distribution's
    ``moglow.generators`` entry point (here a throwaway dist-info on sys.path), as setup.py declares it."""
    from baselines.motion_matching.generator import make_generator
    from conftest import REPO_ROOT
    from moglow.evaluation.generators import ENTRY_POINT_GROUP, available_generators

    declared = "motion-matching = baselines.motion_matching.generator:make_generator"
    assert declared in (REPO_ROOT / "setup.py").read_text() and ENTRY_POINT_GROUP == "moglow.generators"
    meta = tmp_path / "mm_plugin-0.1.dist-info"
    meta.mkdir()
    (meta / "METADATA").write_text("Metadata-Version: 2.1\nName: mm-plugin\nVersion: 0.1\n")
    (meta / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\nmm-installed = "
                                           "baselines.motion_matching.generator:make_generator\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert "mm-installed" in available_generators()
    assert load_generator_factory("mm-installed") is make_generator


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A random tiny MoGlow whose stored split has 6 training walks and 2 test walks."""
    from moglow.checkpoint import data_metadata, save_checkpoint
    from moglow.config import ExperimentConfig, TrainConfig, experiment_to_dict
    from moglow.model import MoGlow
    from moglow.model_config import ModelConfig

    root = require_path(BANDAI_NAMCO / "dataset-2", "Bandai Namco mocap (dataset-2)")
    files = sorted(root.glob("*_walk_active_*"))[:8]
    require(len(files) == 8, f"too few walks in {root}")
    profile = load_profile("bandai_namco")
    motions = [read_bvh(f) for f in files[:6]]
    seqs = [extract_features(m, profile, DATA) for m in motions]
    fdef = feature_definition(motions[0].skeleton, profile, DATA)
    data = SimpleNamespace(pose_dim=fdef.pose_dim, control_dim=fdef.control_dim, style_names=[], data_hash="t",
                           scaler=Scaler.fit(s.poses for s in seqs), control_scaler=Scaler.fit(s.control for s in seqs),
                           skeleton=motions[0].skeleton, profile=profile, feature_def=fdef)
    cfg = ExperimentConfig(name="mm-test", data=DATA, model=ModelConfig(num_steps=2, hidden=16, num_layers=1, tau=5),
                           train=TrainConfig(seq_len=20, device="cpu"))
    torch.manual_seed(0)
    meta = data_metadata(data)
    meta["split"] = {"data_dir": str(root), "files": {"train": [[f.name, None] for f in files[:6]],
                                                      "test": [[f.name, None] for f in files[6:]]}}
    out = tmp_path_factory.mktemp("mm-run") / "latest.pt"
    save_checkpoint({"config": experiment_to_dict(cfg), "model": MoGlow(cfg.model, fdef.pose_dim, 3).state_dict(),
                     "optimizer": {}, "step": 0, "data": meta}, out)
    return out


def test_evaluate_scores_the_baseline_as_a_row(checkpoint, tmp_path, capsys):
    from moglow.cli import main

    out = tmp_path / "ev"
    rc = main(["evaluate", "--checkpoint", str(checkpoint), "--split", "test", "--max-seconds", "4",
               "--num-samples", "2", "--device", "cpu", "--no-progress", "--out", str(out),
               "--baseline", "baselines.motion_matching.generator:make_generator", "--baseline-set", "min_tail_s=0.3"])
    assert rc == 0, capsys.readouterr().err
    res = json.loads((out / "evaluation.json").read_text())
    mm, mocap = res["rows"]["motion-matching"], res["rows"]["mocap"]
    assert res["info"]["baselines"] == {"motion-matching": "motion matching",
                                        "motion-matching-cleaned": "motion matching, cleaned up"}
    assert res["rows"]["motion-matching-cleaned"]["bone_length_cv_mean"] < 1e-6  # fitted to the skeleton
    assert mm["frames"] == 2 * mocap["frames"] and mm["motions"] == 2 * mocap["motions"]
    assert mm["diversity_cm"] == 0.0  # top_k 1: deterministic, every sample the same
    assert mm["path_error_cm"] < 1e-6 and mm["heading_error_deg"] < 10
    assert mm["frechet_distance"] is not None and mm["foot_skating_cm_s"] > 0
    header = next(line for line in (out / "evaluation.md").read_text().splitlines() if line.startswith("| metric"))
    assert header.endswith("| motion matching | motion matching, cleaned up |")
    rc = main(["evaluate", "--checkpoint", str(checkpoint), "--split", "test", "--no-progress", "--out",
               str(tmp_path / "bad"), "--baseline", "no-such-generator"])
    assert rc == 1 and "unknown generator" in capsys.readouterr().err


def test_a_baseline_needs_a_checkpoint(tmp_path, capsys):
    from moglow.cli import main

    rc = main(["evaluate", "--data", str(tmp_path), "--profile", "bandai_namco", "--baseline", "x", "--no-progress"])
    assert rc == 1 and "--baseline needs --checkpoint" in capsys.readouterr().err

