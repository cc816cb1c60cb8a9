"""Inverse kinematics (data_pipeline.ik) and sample export (moglow.export): real and procedural data."""
from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from conftest import require_path
from data_pipeline.bvh import read_bvh
from data_pipeline.config import DataConfig
from data_pipeline.features import extract_features, feature_definition, sequence_world_positions
from data_pipeline.ik import (inverse_kinematics, kabsch, positions_to_motion, rotation_between)
from data_pipeline.kinematics import forward_kinematics, local_transforms
from data_pipeline.procedural import generate_take
from data_pipeline.profiles import load_profile
from moglow.export import export_samples
from moglow.paths import make_path
from moglow.sampling import SamplingMeta, sample_path
from sampling_testutils import BANDAI_WALK, prepared_procedural, random_model, tiny_model_config

torch.set_num_threads(1)


def _model_positions(motion, profile):
    world, _ = forward_kinematics(motion)
    return world[:, [motion.skeleton.index(j) for j in profile.file_joints]] * profile.unit_scale


# ============================================================================ rotation helpers
def test_kabsch_matches_scipy_align_vectors():
    rng = np.random.default_rng(0)
    for seed in range(5):
        a = rng.normal(size=(6, 3))
        true = Rotation.random(random_state=seed).as_matrix()
        b = a @ true.T + 0.05 * rng.normal(size=a.shape)
        w = rng.uniform(0.1, 2.0, size=6)
        ours = kabsch(a, b, w)
        ref, _ = Rotation.align_vectors(b, a, weights=w)
        np.testing.assert_allclose(ours, ref.as_matrix(), atol=1e-10)
        assert np.linalg.det(ours) == pytest.approx(1.0)
    # batched over leading axes
    a = rng.normal(size=(4, 3, 3))
    rots = Rotation.random(4, random_state=9).as_matrix()
    b = np.einsum("nij,nkj->nki", rots, a)
    np.testing.assert_allclose(kabsch(a, b), rots, atol=1e-10)


@pytest.mark.parametrize("n", [1, 2])
def test_kabsch_returns_proper_rotations_for_one_or_two_vectors(n):
    """With one or two vectors the correlation matrix is rank-deficient and its SVD may give a
    reflection (det -1) as often as a rotation: the result must still be a rotation that aligns them."""
    rng = np.random.default_rng(n)
    a = rng.normal(size=(500, n, 3))
    rots = Rotation.random(500, random_state=n).as_matrix()
    b = np.einsum("kij,knj->kni", rots, a)
    r = kabsch(a, b)
    np.testing.assert_allclose(np.linalg.det(r), 1.0, atol=1e-9)
    np.testing.assert_allclose(np.einsum("kij,kjl->kil", r, np.swapaxes(r, 1, 2)), np.broadcast_to(np.eye(3), r.shape),
                               atol=1e-9)
    np.testing.assert_allclose(np.einsum("kij,knj->kni", r, a), b, atol=1e-8)  # exact data: aligned exactly


def test_rotation_between_is_the_smallest_turn():
    rng = np.random.default_rng(1)
    u, v = rng.normal(size=(50, 3)), rng.normal(size=(50, 3))
    r = rotation_between(u, v)
    un, vn = u / np.linalg.norm(u, axis=1, keepdims=True), v / np.linalg.norm(v, axis=1, keepdims=True)
    np.testing.assert_allclose(np.einsum("nij,nj->ni", r, un), vn, atol=1e-12)
    angle = np.linalg.norm(Rotation.from_matrix(r).as_rotvec(), axis=1)
    np.testing.assert_allclose(angle, np.arccos(np.clip((un * vn).sum(1), -1, 1)), atol=1e-9)
    # opposite directions: a half turn that still maps u onto v
    flip = rotation_between(np.array([0.0, 1.0, 0.0]), np.array([0.0, -2.0, 0.0]))
    np.testing.assert_allclose(flip @ [0, 1, 0], [0, -1, 0], atol=1e-12)


# ============================================================================ IK on real data
@pytest.fixture(scope="module")
def bandai_walk() -> Path:
    return require_path(BANDAI_WALK, "Bandai Namco dataset-2 walk take")


def test_ik_reproduces_real_bandai_namco_positions(bandai_walk):
    profile = load_profile("bandai_namco")
    motion = read_bvh(bandai_walk)
    targets = _model_positions(motion, profile)
    fit = positions_to_motion(motion.skeleton, targets, profile.file_joints, profile.root, profile.unit_scale,
                              motion.frame_time)
    assert fit.error.shape == targets.shape[:2]
    assert fit.mean_error < 0.01  # the requirement: < 1 cm on average
    assert fit.max_error < 1e-5  # same skeleton, same bone lengths: exact up to rounding
    assert fit.motion.skeleton.names == motion.skeleton.names
    # twist from the bend plane: the knee (LowerLeg's local rotation) turns about one fixed axis
    local, _ = local_transforms(fit.motion)
    for knee in ("LowerLeg_L", "LowerLeg_R"):
        rv = Rotation.from_matrix(local[:, motion.skeleton.index(knee)]).as_rotvec()
        bent = np.linalg.norm(rv, axis=1) > np.deg2rad(10)
        axes = rv[bent] / np.linalg.norm(rv[bent], axis=1, keepdims=True)
        assert bent.sum() > 50 and np.linalg.norm(axes.mean(axis=0)) > 0.99, knee


def test_ik_on_positions_features_of_real_data(bandai_walk):
    """The path the exporter takes: float32 features -> world positions -> IK -> BVH."""
    profile = load_profile("bandai_namco")
    cfg = DataConfig(representation="positions")
    motion = read_bvh(bandai_walk)
    seq = extract_features(motion, profile, cfg)
    fdef = feature_definition(motion.skeleton, profile, cfg)
    world = sequence_world_positions(seq, fdef)
    fit = positions_to_motion(motion.skeleton, world, fdef.file_joints, fdef.root, fdef.unit_scale, 1 / cfg.fps)
    assert fit.mean_error < 0.01
    assert fit.mean_error < 1e-4  # float32 rounding of the features only


def test_ik_procedural_skeleton_and_noisy_targets():
    """A second skeleton convention (3 rotation channels, no position channels below the root);
    with noisy targets the fit degrades gracefully and reports its error."""
    profile = load_profile("procedural")
    motion, _ = generate_take(5, 3.0, fps=30.0)
    targets = _model_positions(motion, profile)
    fit = positions_to_motion(motion.skeleton, targets, profile.file_joints, profile.root, profile.unit_scale,
                              motion.frame_time)
    assert fit.max_error < 1e-6
    noisy = targets + np.random.default_rng(0).normal(scale=0.01, size=targets.shape)  # 1 cm noise
    fit = positions_to_motion(motion.skeleton, noisy, profile.file_joints, profile.root, profile.unit_scale,
                              motion.frame_time)
    assert 0.003 < fit.mean_error < 0.02


def test_ik_is_vectorised_over_samples():
    profile = load_profile("procedural")
    motion, _ = generate_take(6, 2.0, fps=30.0)
    targets = _model_positions(motion, profile)
    batch = np.stack([targets, targets[::-1]])
    rot, pos = inverse_kinematics(motion.skeleton, batch, profile.file_joints, profile.root, profile.unit_scale)
    assert rot.shape == (2, motion.num_frames, motion.skeleton.num_joints, 3, 3)
    assert pos.shape == (2, motion.num_frames, motion.skeleton.num_joints, 3)
    world = [forward_kinematics_from(motion.skeleton, rot[i], pos[i]) for i in range(2)]
    idx = [motion.skeleton.index(j) for j in profile.file_joints]
    np.testing.assert_allclose(world[1][:, idx] * profile.unit_scale, targets[::-1], atol=1e-8)


def forward_kinematics_from(skeleton, rot, pos):
    from data_pipeline.kinematics import forward_kinematics_local
    return forward_kinematics_local(skeleton, rot, pos)[0]


def test_ik_errors_are_clear():
    profile = load_profile("procedural")
    motion, _ = generate_take(1, 1.0, fps=30.0)
    targets = _model_positions(motion, profile)
    with pytest.raises(ValueError, match="targets must be"):
        inverse_kinematics(motion.skeleton, targets[:, :3], profile.file_joints, "Hips", 0.01)
    with pytest.raises(ValueError, match="root joint 'Hips' must be one of"):
        inverse_kinematics(motion.skeleton, targets[:, 1:], profile.file_joints[1:], "Hips", 0.01)
    bad = targets.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        inverse_kinematics(motion.skeleton, bad, profile.file_joints, "Hips", 0.01)


# ============================================================================ export
@pytest.fixture(scope="module")
def procedural_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    return {rep: prepared_procedural(root, rep) for rep in ("positions", "rotations")}


def _samples(data, num=2, seconds=2.0, temperature=0.5):
    meta = SamplingMeta.from_prepared(data)
    model = random_model(tiny_model_config(tau=3), data.pose_dim, scale=0.02)
    path = make_path("circle:radius=2,speed=1.0", 3 + int(seconds * meta.fps), meta.data_config)
    return meta, sample_path(model, meta, path, num=num, temperature=temperature, seed=1)


def test_export_positions_writes_bvh_npz_and_report(procedural_data, tmp_path):
    data = procedural_data["positions"]
    meta, samples = _samples(data)
    report = export_samples(samples, meta.feature_def, tmp_path, info={"note": "test"}, cleanup=False)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["report.json", "sample_000.bvh", "sample_001.bvh", "samples.npz"]
    positions = samples.world_positions(meta.feature_def)
    with np.load(tmp_path / "samples.npz") as z:
        np.testing.assert_allclose(z["positions"], positions, atol=1e-5)
        assert z["parents"].tolist() == meta.feature_def.parents
        assert z["path"].shape == (samples.num_frames, 2)  # one path shared by the samples
        assert float(z["fps"]) == 20.0 and z["poses"].shape == samples.poses.shape
        assert z["control"].shape == (2, samples.num_frames, 3) and z["labels"].tolist() == ["sample_000", "sample_001"]
        err = z["export_error"]
    # the error reported is the forward kinematics of the written file against the positions
    for i in range(2):
        back = read_bvh(tmp_path / f"sample_{i:03d}.bvh")
        assert back.skeleton.names == meta.feature_def.source_skeleton().names and back.num_frames == samples.num_frames
        world, _ = forward_kinematics(back)
        idx = [back.skeleton.index(j) for j in meta.feature_def.file_joints]
        own = np.linalg.norm(world[:, idx] * meta.feature_def.unit_scale - positions[i], axis=-1)
        np.testing.assert_allclose(err[i], own, atol=1e-6)
    saved = json.loads((tmp_path / "report.json").read_text())
    assert saved["mean_error_m"] == pytest.approx(float(err.mean()), rel=1e-4)
    assert saved["info"] == {"note": "test"} and len(saved["samples"]) == 2
    assert report.samples[0].bvh == "sample_000.bvh" and "cm" in report.summary()
    # independent parser
    from bvh_converter.bvhplayer_skeleton import process_bvhfile
    with contextlib.redirect_stdout(io.StringIO()):
        other = process_bvhfile(str(tmp_path / "sample_000.bvh"))
    assert other.frames == samples.num_frames
    np.testing.assert_allclose(other.keyframes[3], read_bvh(tmp_path / "sample_000.bvh").values[3], atol=1e-6)
    # the render command reads it
    from visualize.inputs import load_npz_clip
    clip = load_npz_clip(tmp_path / "samples.npz")
    assert clip.positions.shape == positions.shape and clip.fps == 20.0


@pytest.mark.parametrize("rep", ["positions", "rotations"])
def test_export_cleans_up_the_feet_by_default(procedural_data, tmp_path, rep):
    """What the user gets: the npz positions are exactly what the written BVH shows (rigid
    skeleton, feet at or above the floor); the model's own positions are kept beside them."""
    data = procedural_data[rep]
    meta, samples = _samples(data)
    report = export_samples(samples, meta.feature_def, tmp_path, profile=meta.profile)
    assert report.cleaned and json.loads((tmp_path / "report.json").read_text())["cleaned"]
    fdef = meta.feature_def
    with np.load(tmp_path / "samples.npz") as z:
        assert bool(z["cleaned"])
        np.testing.assert_allclose(z["raw_positions"], samples.world_positions(fdef), atol=1e-5)
        shown = z["positions"].astype(np.float64)
    skel = fdef.source_skeleton()
    levels = meta.profile.contacts.level_array()
    feet = [fdef.file_joints.index(j) for j in meta.profile.contacts.joints]
    for i in range(samples.num):
        back = read_bvh(tmp_path / f"sample_{i:03d}.bvh")
        world, _ = forward_kinematics(back)
        idx = [back.skeleton.index(j) for j in fdef.file_joints]
        np.testing.assert_allclose(world[:, idx] * fdef.unit_scale, shown[i], atol=1e-5)  # float32 npz, 6-decimal BVH
        has = skel.parents >= 0
        has[skel.index(fdef.root)] = False
        lengths = np.linalg.norm(world[:, has] - world[:, skel.parents[has]], axis=-1)
        np.testing.assert_allclose(lengths, np.broadcast_to(np.linalg.norm(skel.offsets[has], axis=-1), lengths.shape),
                                   atol=1e-4)  # file units (cm), 6-decimal rounding of the angles
    assert (shown[..., feet, 1] >= levels - 1e-5).all()


def test_export_rotations_is_exact(procedural_data, tmp_path):
    data = procedural_data["rotations"]
    meta, samples = _samples(data, num=2)
    report = export_samples(samples, meta.feature_def, tmp_path, cleanup=False)
    assert report.representation == "rotations"
    assert report.max_error_m < 1e-4  # 6-decimal BVH rounding only


def test_export_without_bvh(procedural_data, tmp_path):
    meta, samples = _samples(procedural_data["positions"], num=1)
    report = export_samples(samples, meta.feature_def, tmp_path, bvh=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json", "samples.npz"]
    assert report.mean_error_m is None and "no BVH" in report.summary()
