"""Motion-quality metrics (moglow.evaluation.metrics / frechet): known answers on synthetic motion,
agreement with scipy and the data pipeline, and sensible values on real mocap (Bandai Namco, CMU)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.linalg import sqrtm
from scipy.spatial.transform import Rotation

from conftest import BANDAI_NAMCO, CMU_BVH, require_path
from data_pipeline.heading import forward_directions, heading_angles
from moglow.evaluation import metrics as M
from moglow.evaluation.frechet import (feature_scale, frechet_between, frechet_distance, gaussian_fit,
                                       window_features)

FPS = 20.0


# ============================================================================ gait
def _ankles(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    pos = np.zeros((len(left), 2, 3))
    pos[:, 0, 1], pos[:, 1, 1] = left, right
    return pos


def test_gait_cycle_tells_stepping_from_gliding_and_jitter():
    t = np.arange(200) / FPS
    rng = np.random.default_rng(0)
    lift = lambda s: 0.1 + 0.07 * np.maximum(0.0, s * np.sin(2 * np.pi * t / 1.1))  # noqa: E731
    walk = M.gait_cycle(_ankles(lift(1), lift(-1)), (0, 1), FPS)
    assert walk["periodicity"] > 0.9 and walk["stride_period_s"] == pytest.approx(1.1, abs=0.05)
    assert walk["left_right_correlation"] < -0.3 and walk["height_range_cm"] == pytest.approx(7.0, abs=0.1)
    assert walk["high_frequency_share"] < 0.02
    glide = M.gait_cycle(_ankles(0.1 + 0.003 * rng.normal(size=200), 0.1 + 0.003 * rng.normal(size=200)), (0, 1), FPS)
    assert glide["periodicity"] < 0.5 and glide["height_range_cm"] < 3.0
    assert glide["high_frequency_share"] > 0.4  # white noise: 60% of its power lies above 4 Hz (Nyquist 10 Hz)
    shuffle = M.gait_cycle(_ankles(lift(1) + 0.02 * rng.normal(size=200), lift(-1) + 0.02 * rng.normal(size=200)),
                           (0, 1), FPS)
    assert walk["high_frequency_share"] < shuffle["high_frequency_share"] and shuffle["periodicity"] < walk["periodicity"]
    assert M.gait_cycle(_ankles(lift(1)[:15], lift(-1)[:15]), (0, 1), FPS) is None  # shorter than 2 x 0.4 s


# ============================================================================ Mean
def test_means_combine_weighted_by_count():
    m = M.Mean.of(np.array([1.0, 3.0])) + M.Mean.of(np.array([10.0]))
    assert m.value == pytest.approx(14.0 / 3)
    assert M.Mean().value is None and M.sum_means([]).value is None


# ============================================================================ feet
def _feet_motion(frames: int = 40) -> np.ndarray:
    """Joint 0: planted foot (still, at 10 cm); joint 1: a foot sliding on the ground at 0.5 m/s
    along x; joint 2: a foot in the air (50 cm) moving fast."""
    t = np.arange(frames) / FPS
    pos = np.zeros((frames, 3, 3))
    pos[:, 0] = [0.0, 0.10, 0.0]
    pos[:, 1, 0], pos[:, 1, 1] = 0.5 * t, 0.04
    pos[:, 2, 0], pos[:, 2, 1] = 3.0 * t, 0.50
    return pos


def test_foot_skating_measures_only_grounded_feet():
    pos = _feet_motion()
    levels = np.array([0.10, 0.04, 0.04])
    planted = M.foot_skating(pos, [0], FPS, levels[:1], 0.02, 0.2)
    sliding = M.foot_skating(pos, [1], FPS, levels[1:2], 0.02, 0.2)
    flying = M.foot_skating(pos, [2], FPS, levels[2:], 0.02, 0.2)
    assert planted["speed_cm_s"].value == pytest.approx(0.0)
    assert sliding["speed_cm_s"].value == pytest.approx(50.0)
    assert sliding["skating_fraction"].value == 1.0 and planted["skating_fraction"].value == 0.0
    assert flying["speed_cm_s"].value is None and flying["contact_fraction"].value == 0.0
    both = M.foot_skating(pos, [0, 1, 2], FPS, levels, 0.02, 0.2)
    assert both["speed_cm_s"].value == pytest.approx(25.0)  # mean over the two grounded joints' samples
    assert both["contact_fraction"].value == pytest.approx(2 / 3)


def test_foot_levels_and_contacts_follow_a_step_cycle():
    frames = 100
    pos = np.zeros((frames, 1, 3))
    phase = np.arange(frames) % 20
    pos[:, 0, 1] = 0.08 + np.where(phase < 10, 0.0, 0.15 * np.sin(np.pi * (phase - 10) / 10))
    level = M.foot_levels(pos, [0], 5.0)
    assert level == pytest.approx([0.08])
    contact = M.foot_contacts(pos, [0], level, 0.02)[:, 0]
    assert contact[phase < 10].all() and contact.mean() == pytest.approx(0.5 + 2 / 100 * 5, abs=0.06)


def test_foot_penetration_depth_and_fraction():
    pos = np.zeros((10, 2, 3))
    pos[:, :, 1] = 0.05
    pos[:4, 1, 1] = 0.02  # 3 cm below the level for 4 frames
    pos[4, 0, 1] = 0.045  # 5 mm: within the tolerance
    pen = M.foot_penetration(pos, [0, 1], np.array([0.05, 0.05]), tolerance=0.01)
    assert pen["fraction"].value == pytest.approx(0.4)
    assert pen["depth_cm"].value == pytest.approx(3.0)
    none = M.foot_penetration(pos + [0, 1, 0], [0, 1], 0.05)
    assert none["fraction"].value == 0.0 and none["depth_cm"].value is None


# ============================================================================ bones, jerk
def test_bone_length_cv_rigid_stretching_and_degenerate_bones():
    frames = 50
    pos = np.zeros((frames, 4, 3))
    rot = Rotation.random(frames, random_state=0)
    pos[:, 1] = rot.apply([0.0, 0.4, 0.0])  # rigid 40 cm bone, spinning
    pos[:, 2] = pos[:, 1] + np.where(np.arange(frames) % 2 == 0, 0.1, 0.3)[:, None] * [1.0, 0.0, 0.0]
    pos[:, 3] = pos[:, 2]  # zero-length bone
    cv = M.bone_length_cv(pos, [-1, 0, 1, 2])
    assert np.isnan(cv[0]) and np.isnan(cv[3])
    assert cv[1] == pytest.approx(0.0, abs=1e-12)
    assert cv[2] == pytest.approx(0.5)  # lengths 0.1 / 0.3: std 0.1, mean 0.2


def test_mean_jerk_is_exact_for_cubic_motion():
    t = np.arange(30) / FPS
    pos = np.zeros((30, 2, 3))
    pos[:, 0, 0] = 2.0 * t ** 3  # jerk 12 m/s³
    pos[:, 1, 1] = 1.0 + 0.5 * t ** 2  # constant acceleration: no jerk
    assert M.mean_jerk(pos, FPS).value == pytest.approx(6.0)  # mean over the 2 joints
    assert M.mean_jerk(pos[:3], FPS).value is None


def test_metrics_reject_bad_input():
    with pytest.raises(ValueError, match=r"\(F, J, 3\)"):
        M.mean_jerk(np.zeros((10, 3)), FPS)
    bad = np.zeros((10, 2, 3))
    bad[3, 1, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        M.foot_skating(bad, [1], FPS, 0.0, 0.02, 0.2)
    with pytest.raises(ValueError, match="parents"):
        M.bone_length_cv(np.zeros((5, 3, 3)), [-1, 0])


# ============================================================================ samples, paths
def test_sample_diversity_is_the_mean_pairwise_joint_distance():
    base = np.random.default_rng(0).normal(size=(12, 5, 3))
    samples = np.stack([base, base + [0.03, 0, 0], base + [0, 0.04, 0]])  # pair distances 3, 4, 5 cm
    assert M.sample_diversity(samples).value == pytest.approx(4.0)
    assert M.sample_diversity(samples[:1]).value is None
    assert M.sample_diversity(np.stack([base, base])).value == 0.0


def test_path_and_heading_error():
    path = np.stack([np.linspace(0, 5, 20), np.zeros(20)], -1)
    assert M.path_error(path + [0.0, 0.02], path).value == pytest.approx(2.0)
    assert M.heading_error(np.full(5, np.pi - 0.1), np.full(5, -np.pi + 0.1)).value == pytest.approx(np.degrees(0.2))


def test_facing_angles_agree_with_the_data_pipeline_heading():
    rng = np.random.default_rng(1)
    pos = rng.normal(size=(30, 6, 3))
    mine = M.facing_angles(pos, (1, 2), (3, 4))
    theirs = heading_angles(forward_directions(pos, (1, 2), (3, 4), equal_weights=True))
    np.testing.assert_allclose(np.cos(mine - theirs), 1.0, atol=1e-12)
    pos[5, 2] = pos[5, 1]
    pos[5, 4] = pos[5, 3]  # degenerate frame: keeps the previous heading
    assert M.facing_angles(pos, (1, 2), (3, 4))[5] == pytest.approx(M.facing_angles(pos, (1, 2), (3, 4))[4])


# ============================================================================ Fréchet distance
def test_frechet_identical_sets_are_zero_and_distance_is_symmetric():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(400, 6)) @ rng.normal(size=(6, 6))
    b = rng.normal(size=(300, 6)) * 2.0 + 1.0
    assert frechet_distance(*gaussian_fit(a), *gaussian_fit(a)) == pytest.approx(0.0, abs=1e-9)
    assert frechet_between(a, b) == pytest.approx(frechet_between(b, a), rel=1e-9)


def test_frechet_matches_the_closed_form_for_two_gaussians():
    # commuting (diagonal) covariances: d² = |Δμ|² + Σ (σ1 - σ2)²
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    s1, s2 = np.array([1.0, 2.0, 0.5]), np.array([3.0, 2.0, 1.0])
    expect = 1.0 + 4.0 + (2.0 ** 2 + 0.0 + 0.5 ** 2)
    assert frechet_distance(mu1, np.diag(s1 ** 2), mu2, np.diag(s2 ** 2)) == pytest.approx(expect)
    # general covariances: the textbook formula with scipy's sqrtm
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(5, 5)), rng.normal(size=(5, 5))
    c1, c2 = a @ a.T + 0.1 * np.eye(5), b @ b.T + 0.1 * np.eye(5)
    m1, m2 = rng.normal(size=5), rng.normal(size=5)
    ref = np.sum((m1 - m2) ** 2) + np.trace(c1 + c2 - 2 * np.real(sqrtm(c1 @ c2)))
    assert frechet_distance(m1, c1, m2, c2) == pytest.approx(ref, rel=1e-8)
    # and from samples, the estimate converges to the closed form
    x = rng.multivariate_normal(m1, c1, size=40000)
    y = rng.multivariate_normal(m2, c2, size=40000)
    assert frechet_between(x, y) == pytest.approx(ref, rel=0.05)


def test_frechet_of_singular_covariances_stays_finite_and_non_negative():
    rng = np.random.default_rng(0)
    few = rng.normal(size=(5, 20))  # rank-deficient covariance
    d = frechet_between(few, few + 0.1)
    assert np.isfinite(d) and d >= 0
    assert frechet_between(few[:1], few) is None


def test_window_features_ignore_where_the_character_is_and_which_way_it_faces():
    rng = np.random.default_rng(0)
    frames, joints = 60, 5
    pos = np.cumsum(rng.normal(scale=0.01, size=(frames, joints, 3)), 0) + rng.normal(size=(1, joints, 3))
    rot = Rotation.from_euler("y", 1.1)
    moved = rot.apply(pos.reshape(-1, 3)).reshape(pos.shape) + [3.0, 0.0, -2.0]
    f1 = window_features(pos, FPS, 0, (1, 2), (3, 4), window=20, stride=10)
    f2 = window_features(moved, FPS, 0, (1, 2), (3, 4), window=20, stride=10)
    assert f1.shape == (5, 7 * joints)
    np.testing.assert_allclose(f1, f2, atol=1e-9)
    assert window_features(pos[:10], FPS, 0, (1, 2), (3, 4), 20, 10).shape == (0, 7 * joints)
    assert (feature_scale([f1]) > 0).all()


# ============================================================================ real mocap
def _bandai_dataset2() -> Path:
    return require_path(BANDAI_NAMCO / "dataset-2", "Bandai Namco mocap (dataset-2)")


def test_reference_row_is_sensible_on_real_bandai_namco_walks():
    from moglow.evaluation.config import EvaluationConfig
    from moglow.evaluation.evaluate import evaluate_reference

    root = _bandai_dataset2()
    cfg = EvaluationConfig(pattern="*_walk_*", max_files=8)
    res = evaluate_reference(root, "bandai_namco", cfg=cfg, progress=False)
    row = res.rows["mocap"]
    assert res.info["files"] == 8 and 1.0 < row["root_speed_m_s"] < 2.0
    # real feet barely slide while grounded: a fraction of the walking speed
    assert 0.0 < row["foot_skating_cm_s"] < min(40.0, 25.0 * row["root_speed_m_s"])
    assert 0.3 < row["foot_contact_fraction"] < 0.8
    assert row["penetration_fraction"] < 0.02
    assert row["bone_length_cv_mean"] < 1e-4  # a BVH skeleton is rigid
    assert 20.0 < row["jerk_m_s3"] < 1000.0
    # a walk is a periodic, alternating, smooth stepping of the ankles
    assert row["gait_periodicity"] > 0.85 and row["gait_left_right_correlation"] < -0.3
    assert 0.8 < row["gait_stride_period_s"] < 1.6 and 8.0 < row["gait_height_range_cm"] < 30.0
    assert row["gait_high_frequency_share"] < 0.02
    assert row["path_error_cm"] < 0.01 and row["heading_error_deg"] < 0.01
    assert row["diversity_cm"] is None
    assert row["frechet_distance"] is not None and row["frechet_distance"] >= 0


def test_foot_metrics_see_sliding_and_sinking_added_to_real_walks():
    from data_pipeline.config import DataConfig
    from data_pipeline.profiles import load_profile
    from moglow.evaluation.heldout import Pipeline, load_heldout, world_positions
    from moglow.evaluation.rows import JointRoles

    files = sorted(_bandai_dataset2().glob("*_walk_*"))[:2]
    prof = load_profile("bandai_namco")
    seqs, fdef = load_heldout(files, Pipeline(DataConfig(), prof), progress=False)
    roles = JointRoles.of(fdef, prof)
    for seq in seqs:
        pos = world_positions(seq.poses, seq, fdef)
        levels = M.foot_levels(pos, roles.feet)
        real = M.foot_skating(pos, roles.feet, FPS, levels, 0.02, 0.2)["speed_cm_s"].value
        drift = pos + (np.arange(len(pos)) / FPS * 0.6)[:, None, None] * [1.0, 0.0, 0.0]  # + 60 cm/s along x
        slid = M.foot_skating(drift, roles.feet, FPS, levels, 0.02, 0.2)["speed_cm_s"].value
        assert slid > real + 30.0
        sunk = M.foot_penetration(pos - [0.0, 0.05, 0.0], roles.feet, levels, 0.01)
        assert sunk["fraction"].value > 0.5 and sunk["depth_cm"].value > 4.0
        assert M.foot_penetration(pos, roles.feet, levels, 0.01)["fraction"].value < 0.02


def test_metric_functions_on_real_cmu_take_at_its_own_frame_rate():
    from data_pipeline.bvh import read_bvh
    from data_pipeline.features import model_joint_positions
    from data_pipeline.profiles import load_profile

    path = require_path(CMU_BVH / "01_01.bvh", "CMU take 01_01 (assimp-testmodels)")
    motion = read_bvh(path)
    prof = load_profile("cmu")
    pos = model_joint_positions(motion, prof)[:600]  # 5 s at 120 fps, metres
    names = prof.file_joints
    feet = [names.index(n) for n in prof.feet]
    parents = prof.model_parents(motion.skeleton)
    fps = motion.fps
    assert fps == pytest.approx(120.0, rel=1e-3)
    cv = M.bone_length_cv(pos, parents)
    assert np.nanmax(cv) < 1e-6  # rigid
    levels = M.foot_levels(pos, feet)
    sk = M.foot_skating(pos, feet, fps, levels, 0.02, 0.2)
    assert sk["contact_fraction"].value > 0.05 and np.isfinite(sk["speed_cm_s"].value)
    assert sk["speed_cm_s"].value < 100.0
    jerk = M.mean_jerk(pos, fps).value
    assert np.isfinite(jerk) and jerk > 0
    hips = (names.index(prof.hips[0]), names.index(prof.hips[1]))
    sh = (names.index(prof.shoulders[0]), names.index(prof.shoulders[1]))
    feats = window_features(pos, fps, names.index(prof.root), hips, sh, window=240, stride=60)
    assert feats.shape == (7, 7 * len(names)) and np.isfinite(feats).all()


def test_frechet_parts_names_the_group_that_differs():
    """A shift of the mean pose shows up in that group's mean term only; a doubled joint-speed spread in
    that group's covariance term only (d² of N(0,1) vs N(0,4) per column is (2 - 1)² = 1)."""
    from moglow.evaluation.frechet import feature_groups, frechet_parts

    rng = np.random.default_rng(1)
    j = 3
    a = rng.normal(size=(20000, 7 * j))
    b = rng.normal(size=(20000, 7 * j))
    groups = feature_groups(j)
    b[:, groups["mean_pose"]] += 0.5                     # 9 columns shifted by 0.5: mean term 9 x 0.25
    b[:, groups["joint_speed"]] *= 2.0                   # 3 columns with twice the std: d2 3 x 1
    parts = frechet_parts(a, b)
    tol = 0.1  # sampling error of means / stds over 20,000 draws is ~0.01 per column
    assert abs(parts["mean_pose"]["mean_term"] - 9 * 0.25) < tol
    assert abs(parts["mean_pose"]["d2"] - 9 * 0.25) < tol
    assert parts["pose_std"]["d2"] < tol
    assert abs(parts["joint_speed"]["d2"] - 3.0) < tol and parts["joint_speed"]["mean_term"] < tol
    assert abs(parts["pose_std"]["spread"] - 9.0) < 0.5          # 9 unit-variance columns
    assert abs(frechet_parts(b, a)["joint_speed"]["spread"] - 12.0) < 0.5   # 3 columns of variance 4
    with pytest.raises(ValueError):
        frechet_parts(a[:, :-1], b[:, :-1])
