"""``moglow evaluate`` end to end with a randomly initialised tiny MoGlow saved as a checkpoint
(the format of moglow/checkpoint.py), on a few real Bandai Namco walks."""
from __future__ import annotations

import json
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from conftest import BANDAI_NAMCO, CMU_BVH, require, require_path
from data_pipeline.bvh import read_bvh
from data_pipeline.config import DataConfig
from data_pipeline.features import extract_features, feature_definition
from data_pipeline.profiles import load_profile
from data_pipeline.scaler import Scaler
from moglow.checkpoint import data_metadata, load_model, save_checkpoint
from moglow.config import ExperimentConfig, TrainConfig, experiment_to_dict
from moglow.evaluation.config import EvaluationConfig
from moglow.evaluation.evaluate import evaluate_checkpoint
from moglow.evaluation.generation import generate_along_paths
from moglow.evaluation.heldout import Pipeline, load_heldout
from moglow.evaluation.likelihood import heldout_nll
from moglow.evaluation.rows import PER_TAKE_KEYS
from moglow.evaluation.result import CLEANED, GENERATED, METRICS, REFERENCE
from moglow.model import MoGlow
from moglow.model_config import ModelConfig

torch.set_num_threads(1)
TAU, SEQ_LEN = 5, 20


@pytest.fixture(scope="module")
def walks() -> tuple[Path, list[Path]]:
    root = require_path(BANDAI_NAMCO / "dataset-2", "Bandai Namco mocap (dataset-2)")
    files = sorted(root.glob("*_walk_*"))
    require(len(files) >= 8, f"too few walk files in {root}")
    return root, files


@pytest.fixture(scope="module")
def checkpoint(walks, tmp_path_factory) -> Path:
    """A random tiny MoGlow whose data metadata comes from 4 real walks (scalers fitted on them)."""
    _, files = walks
    profile = load_profile("bandai_namco")
    dcfg = DataConfig(profile="bandai_namco", fps=20)
    motions = [read_bvh(f) for f in files[:4]]
    seqs = [extract_features(m, profile, dcfg) for m in motions]
    fdef = feature_definition(motions[0].skeleton, profile, dcfg)
    data = SimpleNamespace(pose_dim=fdef.pose_dim, control_dim=fdef.control_dim, style_names=[],
                           data_hash="test-data", scaler=Scaler.fit(s.poses for s in seqs),
                           control_scaler=Scaler.fit(s.control for s in seqs), skeleton=motions[0].skeleton,
                           profile=profile, feature_def=fdef)
    cfg = ExperimentConfig(name="eval-test", data=dcfg,
                           model=ModelConfig(num_steps=2, hidden=16, num_layers=1, tau=TAU),
                           train=TrainConfig(seq_len=SEQ_LEN, device="cpu"))
    torch.manual_seed(0)
    model = MoGlow(cfg.model, fdef.pose_dim, fdef.control_dim)
    run = tmp_path_factory.mktemp("run")
    save_checkpoint({"config": experiment_to_dict(cfg), "model": model.state_dict(), "optimizer": {}, "step": 0,
                     "data": data_metadata(data)}, run / "latest.pt")
    return run


def test_evaluate_checkpoint_end_to_end(walks, checkpoint, tmp_path):
    root, files = walks
    cfg = EvaluationConfig(num_samples=3, batch_size=4, max_seconds=3.0, pattern="*_walk_*", max_files=3)
    res = evaluate_checkpoint(checkpoint, root, cfg, device="cpu", progress=False)

    nll = res.nll
    assert math.isfinite(nll["nats_per_frame"])
    assert nll["bits_per_frame"] == pytest.approx(nll["nats_per_frame"] / math.log(2))
    assert nll["frames"] == nll["windows"] * SEQ_LEN and nll["window"] == SEQ_LEN

    ref, gen = res.rows[REFERENCE], res.rows[GENERATED]
    for key, *_ in METRICS:
        assert key in ref and key in gen, key
    assert gen["motions"] == 9 and ref["motions"] == 3
    assert gen["frames"] == ref["frames"] * 3 == 3 * 3 * (60 - TAU)  # same frames, after the context
    # the positions model takes the root path as control: its root follows it by construction
    assert gen["path_error_cm"] < 1e-3 and ref["path_error_cm"] < 1e-3
    # the mocap faces where its own control says (cropping leaves a trace: the control's heading
    # was smoothed with frames past the crop, the re-estimate cannot see them)
    assert ref["heading_error_deg"] < 0.5 and gen["heading_error_deg"] > 2 * ref["heading_error_deg"]
    assert ref["bone_length_cv_mean"] < 1e-5 and ref["penetration_fraction"] < 0.05
    assert gen["diversity_cm"] > 0 and ref["diversity_cm"] is None
    # like with like: both rows measured against the same real half, with as many windows
    assert gen["frechet_distance"] > 0 and gen["frechet_windows"] == ref["frechet_windows"] > 0
    # the parts: each group's d² is a Fréchet distance of a sub-vector, never above the whole vector's by more
    # than rounding (dropping dimensions cannot increase the 2-Wasserstein distance between Gaussians)
    for row in (gen, ref):
        parts = row["frechet_parts"]
        assert set(parts) == {"mean_pose", "pose_std", "joint_speed"}
        for part in parts.values():
            assert 0 <= part["mean_term"] <= part["d2"] + 1e-9 <= row["frechet_distance"] * (1 + 1e-9) + 1e-9
            assert part["spread"] > 0
    # a random model's joints are not a rigid skeleton; the mocap's are
    assert gen["bone_length_cv_mean"] > 100 * ref["bone_length_cv_mean"]
    for key in ("jerk_m_s3", "penetration_fraction", "foot_contact_fraction"):
        assert math.isfinite(gen[key]) and math.isfinite(ref[key])
    # what the user gets: the same motion on the skeleton (rigid), feet cleaned up (contacts
    # estimated from the motion: this checkpoint has no contact channels), scored on the same frames
    clean = res.rows[CLEANED]
    assert clean["frames"] == gen["frames"] and clean["motions"] == gen["motions"]
    assert clean["bone_length_cv_mean"] < 1e-9 < gen["bone_length_cv_mean"]
    assert clean["penetration_fraction"] <= gen["penetration_fraction"]
    assert clean["frechet_windows"] == ref["frechet_windows"] and clean["path_error_cm"] < 1e-3
    # each take's own numbers, for paired tests across held-out paths: named by file, and (the takes
    # being equally long) averaging back to the pooled row
    for row in (ref, gen, clean):
        assert len(row["per_take"]) == 3 and all(name.endswith(".bvh") for name in row["per_take"])
        assert all(set(t) == set(PER_TAKE_KEYS) for t in row["per_take"].values())
        per = [t["jerk_m_s3"] for t in row["per_take"].values()]
        assert np.mean(per) == pytest.approx(row["jerk_m_s3"], rel=1e-9) and np.ptp(per) > 0
    raw_only = evaluate_checkpoint(checkpoint, root, cfg, device="cpu", progress=False, cleanup=False)
    assert CLEANED not in raw_only.rows and raw_only.rows[GENERATED]["jerk_m_s3"] == pytest.approx(gen["jerk_m_s3"])
    # too little data for the Fréchet covariance and the gait metrics: said, not hidden
    assert any("Fréchet" in w for w in res.info["warnings"]) and any("shorter" in w for w in res.info["warnings"])

    json_path, md_path = res.write(tmp_path / "out")
    saved = json.loads(json_path.read_text())
    assert saved["nll"]["frames"] == nll["frames"] and saved["info"]["files"] == 3
    assert saved["metrics"]["jerk_m_s3"]["unit"] == "m/s³"
    table = md_path.read_text()
    assert "nats/frame" in table and "| foot skating (speed in contact) | cm/s |" in table


def test_heldout_nll_is_the_models_log_prob_on_non_overlapping_windows(walks, checkpoint):
    root, files = walks
    model, ckpt = load_model(checkpoint)
    pipeline = Pipeline.from_checkpoint(ckpt)
    seqs, _ = load_heldout(files[12:13], pipeline, progress=False)
    got = heldout_nll(model, seqs, pipeline, window=SEQ_LEN)
    poses = pipeline.scaler.transform(seqs[0].poses)
    control = pipeline.control_scaler.transform(seqs[0].control)
    starts = range(0, seqs[0].num_frames - TAU - SEQ_LEN + 1, SEQ_LEN)
    with torch.no_grad():
        logp = [model.log_prob({"poses": torch.as_tensor(poses[None, s:s + TAU + SEQ_LEN]),
                                "control": torch.as_tensor(control[None, s:s + TAU + SEQ_LEN])}) for s in starts]
    expect = -float(torch.cat(logp, 1).double().mean())
    assert got["nats_per_frame"] == pytest.approx(expect, rel=1e-6)
    assert got["nats_per_frame_unnormalised"] == pytest.approx(expect + np.log(pipeline.scaler.std).sum())
    whole = heldout_nll(model, seqs, pipeline, window=0)
    assert whole["frames"] == seqs[0].num_frames - TAU and whole["windows"] == 1


def test_batched_generation_pads_without_changing_any_take(walks, checkpoint):
    """Takes of different lengths share a batch; at temperature 0 every sample of a path is
    the same, and a take's motion does not depend on what it was batched with."""
    _, files = walks
    model, ckpt = load_model(checkpoint)
    pipeline = Pipeline.from_checkpoint(ckpt)
    seqs, _ = load_heldout(files[12:14], pipeline, max_seconds=2.0, progress=False)
    seqs[1] = seqs[1].__class__(**{**seqs[1].__dict__, "poses": seqs[1].poses[:25],
                                   "control": seqs[1].control[:25], "passthrough": seqs[1].passthrough[:25]})
    together = generate_along_paths(model, seqs, pipeline, num_samples=2, temperature=0.0, progress=False)
    alone = generate_along_paths(model, seqs[1:], pipeline, num_samples=1, temperature=0.0, progress=False)
    assert together[0].shape == (2, 40, pipeline.feature_def.pose_dim) and together[1].shape[1] == 25
    np.testing.assert_allclose(together[1][0], alone[0][0], atol=1e-5)
    np.testing.assert_allclose(together[0][0], together[0][1], atol=1e-6)
    np.testing.assert_array_equal(together[0][0, :TAU], seqs[0].poses[:TAU])  # the real context


def test_cli_writes_json_and_table(walks, checkpoint, tmp_path, capsys):
    from moglow.cli import main

    root, _ = walks
    out = tmp_path / "ev"
    rc = main(["evaluate", "--checkpoint", str(checkpoint), "--data", str(root), "--pattern", "*_walk_*",
               "--max-files", "2", "--max-seconds", "2", "--num-samples", "2", "--temperature", "0.5",
               "--device", "cpu", "--out", str(out), "--no-progress"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "Held-out NLL" in printed and "generated (T=0.5, 2/path): raw model" in printed
    assert "what the user gets" in printed and "**Warning:**" in printed
    saved = json.loads((out / "evaluation.json").read_text())
    assert saved["info"]["num_samples"] == 2 and saved["info"]["temperature"] == 0.5
    assert (out / "evaluation.md").read_text().startswith("## Evaluation")


def test_cli_errors_are_clear(walks, checkpoint, tmp_path, capsys):
    from moglow.cli import main

    cmu = require_path(CMU_BVH / "01_01.bvh", "CMU take 01_01").parent
    rc = main(["evaluate", "--checkpoint", str(checkpoint), "--data", str(cmu), "--pattern", "01_01.bvh",
               "--no-progress", "--out", str(tmp_path / "x")])
    err = capsys.readouterr().err  # a CMU take is not a Bandai Namco skeleton: the message names the take
    assert rc == 1 and "not in the skeleton" in err and "01_01.bvh" in err, err
    rc = main(["evaluate", "--data", str(cmu), "--profile", "bandai_namco", "--pattern", "01_01.bvh", "--no-progress",
               "--out", str(tmp_path / "y")])
    err = capsys.readouterr().err
    assert rc == 1 and "not in the skeleton" in err and str(cmu / "01_01.bvh") in err, err
    rc = main(["evaluate", "--data", str(cmu), "--no-progress"])
    assert rc == 1 and "--profile" in capsys.readouterr().err


def test_cli_scores_any_bvh_folder_with_a_profile(tmp_path, capsys):
    from moglow.cli import main

    cmu = require_path(CMU_BVH / "01_01.bvh", "CMU take 01_01").parent
    out = tmp_path / "cmu"
    rc = main(["evaluate", "--data", str(cmu), "--profile", "cmu", "--pattern", "01_01.bvh", "--max-seconds", "10",
               "--out", str(out), "--no-progress"])
    assert rc == 0, capsys.readouterr().err
    row = json.loads((out / "evaluation.json").read_text())["rows"]["mocap"]
    assert row["bone_length_cv_mean"] < 1e-5 and math.isfinite(row["jerk_m_s3"])
    assert row["frames"] == 200  # 10 s at 20 fps


def test_frechet_rows_compare_like_with_like():
    """A model that reproduced the held-out takes exactly would score exactly the mocap floor;
    with several samples per take the generated set is cut to the same number of windows."""
    from moglow.evaluation.config import EvaluationConfig
    from moglow.evaluation.frechet_rows import add_frechet_rows

    rng = np.random.default_rng(0)
    real = [rng.normal(size=(n, 5)) for n in (30, 25, 40, 35)]
    rows = {REFERENCE: {}, GENERATED: {}}
    add_frechet_rows(rows, real, [f.copy() for f in real], EvaluationConfig())
    assert rows[GENERATED]["frechet_distance"] == pytest.approx(rows[REFERENCE]["frechet_distance"])
    three = [f + rng.normal(scale=0.1, size=f.shape) for f in real for _ in range(3)]
    add_frechet_rows(rows, real, three, EvaluationConfig())
    assert rows[GENERATED]["frechet_windows"] == rows[REFERENCE]["frechet_windows"] == 30 + 40


def test_split_evaluates_exactly_the_checkpoints_own_test_files(walks, checkpoint, tmp_path, capsys):
    from moglow.checkpoint import load_checkpoint
    from moglow.cli import main

    root, files = walks
    prepared = tmp_path / "prepared"
    prepared.mkdir()
    splits = ["train", "test", "val", "test", "train"]
    (prepared / "manifest.json").write_text(json.dumps({"data_dir": str(root), "files": [
        {"path": f.name, "split": s} for f, s in zip(files, splits)]}))
    ckpt = load_checkpoint(checkpoint / "latest.pt")
    rc = main(["evaluate", "--checkpoint", str(checkpoint / "latest.pt"), "--split", "test", "--no-progress",
               "--out", str(tmp_path / "none")])
    assert rc == 1 and "no prepared-data folder" in capsys.readouterr().err
    ckpt["data"]["prepared_dir"] = str(prepared)
    save_checkpoint(ckpt, tmp_path / "run" / "latest.pt")
    out = tmp_path / "ev"
    rc = main(["evaluate", "--checkpoint", str(tmp_path / "run"), "--split", "test", "--max-seconds", "2",
               "--num-samples", "1", "--device", "cpu", "--out", str(out), "--no-progress"])
    assert rc == 0, capsys.readouterr().err
    info = json.loads((out / "evaluation.json").read_text())["info"]
    assert info["split"] == "test" and info["files"] == 2 and info["data_dir"] == str(root)
    assert "'test' split" in (out / "evaluation.md").read_text()
    rc = main(["evaluate", "--checkpoint", str(tmp_path / "run"), "--no-progress"])
    assert rc == 1 and "--split test" in capsys.readouterr().err
