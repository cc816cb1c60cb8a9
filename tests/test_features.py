"""MoGlow features (positions and rotations) and their exact inverses."""
from __future__ import annotations

import json

import numpy as np
import pytest

from data_pipeline.bvh import read_bvh
from data_pipeline.config import DataConfig
from data_pipeline.features import (FeatureDefinition, control_from_trajectory, extract_features,
                                    feature_definition, features_to_motion, integrate_control,
                                    model_joint_positions, reconstruct_world_positions, sequence_to_motion,
                                    sequence_world_positions, to_local_frame, to_world_frame)
from data_pipeline.heading import forward_directions, heading_angles, smooth_heading, wrap_angle
from data_pipeline.kinematics import forward_kinematics, local_transforms
from data_pipeline.procedural import generate_take
from data_pipeline.profiles import load_profile
from data_pipeline.resample import resample_indices, resample_motion
from data_pipeline.rotations import rotation_about_y

BANDAI_FILES = ("dataset-2_walk-turn-left_normal_001.bvh", "dataset-2_run_active_003.bvh")


def body_height(world: np.ndarray) -> float:
    """Largest vertical extent of the skeleton over the motion (same unit as ``world``)."""
    return float(np.ptp(world[..., 1], axis=-1).max())


@pytest.fixture(scope="module")
def procedural_take():
    motion, known = generate_take(seed=7, seconds=8.0, fps=60.0, kind="mixed")
    return motion, known


# ------------------------------------------------------------------ control and frames (synthetic)
def test_control_integration_inverts_control_exactly():
    rng = np.random.default_rng(0)
    theta = np.cumsum(rng.normal(0, 0.3, size=(3, 50)), axis=-1) + 3.0  # crosses +-pi many times
    xz = np.cumsum(rng.normal(0, 0.05, size=(3, 50, 2)), axis=-2) + [4.0, -2.0]
    control = control_from_trajectory(xz, theta)
    assert np.array_equal(control[:, 0], control[:, 1])  # row 0 is padding
    assert np.all(np.abs(control[..., 2]) <= np.pi)
    start = np.concatenate([xz[:, 0], theta[:, :1]], axis=-1)
    xz2, theta2 = integrate_control(control, start)
    assert np.abs(xz2 - xz).max() < 1e-12
    assert np.abs(wrap_angle(theta2 - theta)).max() < 1e-12


def test_control_is_the_step_in_the_previous_local_frame():
    # facing +X (theta = pi/2) and stepping 0.1 m along +X, then turning left by 0.2 rad
    theta = np.array([np.pi / 2, np.pi / 2, np.pi / 2 + 0.2])
    xz = np.array([[0.0, 0.0], [0.1, 0.0], [0.2, 0.0]])
    control = control_from_trajectory(xz, theta)
    assert np.allclose(control[1], [0.0, 0.1, 0.0]) and np.allclose(control[2], [0.0, 0.1, 0.2])
    assert np.allclose(integrate_control(control)[0][-1], [0.0, 0.2])  # default start: origin, facing +Z


def test_local_frame_round_trip():
    rng = np.random.default_rng(1)
    world = rng.normal(size=(2, 30, 5, 3))
    xz, theta = rng.normal(size=(2, 30, 2)), rng.uniform(-7, 7, size=(2, 30))
    local = to_local_frame(world, xz, theta)
    assert np.allclose(local[..., 1], world[..., 1])  # heights are kept
    ref = np.einsum("...ji,...nj->...ni", rotation_about_y(theta), world - np.insert(xz, 1, 0.0, axis=-1)[..., None, :])
    assert np.abs(local - ref).max() < 1e-12
    assert np.abs(to_world_frame(local, xz, theta) - world).max() < 1e-12


def test_heading_convention_and_smoothing():
    # left joints at +X, right at -X: facing +Z; rotate the body by phi about Y: heading phi
    base = np.array([[0.1, 1.0, 0.0], [-0.1, 1.0, 0.0], [0.2, 1.5, 0.0], [-0.2, 1.5, 0.0]])
    phi = np.linspace(-3.0, 3.0, 61)
    world = np.einsum("fij,nj->fni", rotation_about_y(phi), base)
    fwd = forward_directions(world, (0, 1), (2, 3))
    assert np.allclose(heading_angles(fwd), phi)
    for method in ("vector", "angle"):
        smooth = smooth_heading(fwd, 2.0, method)
        assert np.abs(wrap_angle(smooth - phi))[5:-5].max() < 1e-3  # linear ramps survive smoothing
    noisy = np.stack([np.sin(phi + 0.3 * (-1) ** np.arange(61)), np.cos(phi + 0.3 * (-1) ** np.arange(61))], -1)
    assert np.abs(wrap_angle(smooth_heading(noisy, 2.0, "vector") - phi))[5:-5].max() < 0.05
    # the unwrapped-angle method is continuous across +-pi
    jump = np.stack([np.sin(np.full(20, np.pi) + np.linspace(-0.5, 0.5, 20)),
                     np.cos(np.full(20, np.pi) + np.linspace(-0.5, 0.5, 20))], -1)
    assert np.abs(np.diff(smooth_heading(jump, 3.0, "angle"))).max() < 0.1
    with pytest.raises(ValueError, match="frame 0"):
        forward_directions(np.zeros((2, 4, 3)), (0, 1), (2, 3))


def test_procedural_heading_matches_the_generators_path(procedural_take):
    motion, known = procedural_take
    cfg = DataConfig(profile="procedural", fps=20.0)
    seq = extract_features(motion, "procedural", cfg)
    _, theta = integrate_control(seq.control, seq.root_start)
    idx0, _, _ = resample_indices(motion.num_frames, 60.0, 20.0)
    diff = wrap_angle(theta - known["heading"][idx0])
    assert np.abs(diff).max() < np.radians(10) and abs(diff.mean()) < np.radians(2)
    assert seq.style == known["style"] and seq.fps == 20.0 and seq.poses.dtype == np.float32
    # moving forward: dz > 0 on average, little sideways motion
    assert seq.control[:, 1].mean() > 5 * abs(seq.control[:, 0].mean())


# ------------------------------------------------------------------ positions representation
def test_positions_layout():
    skel = generate_take(0, 0.5, 30.0)[0].skeleton
    fdef = feature_definition(skel, "procedural", DataConfig(profile="procedural"))
    assert fdef.pose_dim == 21 * 3 - 2 and fdef.columns[:2] == ["Hips.y", "Spine.x"]
    assert fdef.control_columns == ["dx", "dz", "dtheta"] and fdef.control_dim == 3
    assert fdef.parents[fdef.joints.index("Head")] == fdef.joints.index("Neck")


@pytest.mark.parametrize("fps", [20.0, 60.0, 30.0])
def test_positions_inverse_procedural(procedural_take, fps):
    motion, _ = procedural_take
    cfg = DataConfig(profile="procedural", fps=fps)
    seq = extract_features(motion, "procedural", cfg)
    fdef = feature_definition(motion.skeleton, "procedural", cfg)
    world = sequence_world_positions(seq, fdef)
    ref = model_joint_positions(resample_motion(motion, fps), "procedural")
    assert world.shape == ref.shape
    assert np.abs(world - ref).max() < 1e-4 * body_height(ref)


def test_positions_inverse_real_files(bandai_namco_dir):
    prof = load_profile("bandai_namco")
    for name in BANDAI_FILES:
        motion = read_bvh(bandai_namco_dir / "dataset-2" / name)
        for fps in (20.0, 30.0):
            cfg = DataConfig(fps=fps)
            seq = extract_features(motion, prof, cfg)
            fdef = feature_definition(motion.skeleton, prof, cfg)
            ref = model_joint_positions(resample_motion(motion, fps), prof)
            err = np.abs(sequence_world_positions(seq, fdef) - ref).max()
            h = body_height(ref)
            print(f"\n{name} positions @ {fps:g} fps: max error {err:.2e} m = {err / h:.1e} of body height")
            assert err < 1e-4 * h
            assert seq.style == name.split("_")[2] and not seq.mirrored


def test_features_ignore_where_the_character_is(bandai_namco_dir):
    """Turning and moving the whole take (via joint_Root) changes root_start only."""
    motion = read_bvh(bandai_namco_dir / "dataset-2" / BANDAI_FILES[0])
    moved = read_bvh(bandai_namco_dir / "dataset-2" / BANDAI_FILES[0])
    moved.values[:, [0, 2]] += [250.0, -80.0]  # joint_Root Xposition, Zposition
    moved.values[:, 5] += 37.0  # joint_Root Yrotation
    for rep in ("positions", "rotations"):
        cfg = DataConfig(representation=rep)
        a, b = extract_features(motion, "bandai_namco", cfg), extract_features(moved, "bandai_namco", cfg)
        assert np.abs(a.poses - b.poses).max() < 1e-5
        assert np.abs(a.control - b.control).max() < 1e-6
        assert b.root_start[2] - a.root_start[2] == pytest.approx(np.radians(37.0))


def test_mirrored_features_are_the_swapped_reflected_features(bandai_namco_dir):
    """The whole chain commutes with the mirror: mirroring the motion swaps left/right columns
    and negates local x, dx and dtheta (to float32 rounding), though nothing negates columns."""
    motion = read_bvh(bandai_namco_dir / "dataset-2" / BANDAI_FILES[0])
    prof = load_profile("bandai_namco")
    cfg = DataConfig()
    fdef = feature_definition(motion.skeleton, prof, cfg)
    a = extract_features(motion, prof, cfg)
    b = extract_features(motion, prof, cfg, mirror=True)
    assert b.mirrored and b.style == a.style
    pair = prof.mirror_map()
    model_of = {f: m for m, f in prof.joints.items()}
    perm, sign = [], []
    for col in fdef.columns:
        joint, axis = col.split(".")
        partner = model_of[pair.get(prof.joints[joint], prof.joints[joint])]
        perm.append(fdef.columns.index(f"{partner}.{axis}"))
        sign.append(-1.0 if axis == "x" else 1.0)
    assert np.abs(b.poses - a.poses[:, perm] * sign).max() < 1e-5
    assert np.abs(b.control - a.control * [-1, 1, -1]).max() < 1e-6
    assert np.allclose(b.root_start, a.root_start * [-1, 1, -1])
    assert np.mean(a.control[:, 2]) > 0.01  # a left turn ... mirrored into a right turn


# ------------------------------------------------------------------ rotations representation
def check_rotations_inverse(motion, profile, fps, atol_m=1e-6):
    cfg = DataConfig(representation="rotations", fps=fps, profile=profile.name)
    seq = extract_features(motion, profile, cfg)
    fdef = feature_definition(motion.skeleton, profile, cfg)
    ref = resample_motion(motion, fps)
    out = sequence_to_motion(seq, fdef)
    assert out.skeleton.names == motion.skeleton.names and out.values.shape == ref.values.shape
    w_ref, w_out = forward_kinematics(ref)[0], forward_kinematics(out)[0]
    err = np.abs(w_out - w_ref).max() * profile.unit_scale
    assert err < atol_m
    # channels agree up to Euler equivalence: same local rotations and translations
    r_ref, p_ref = local_transforms(ref)
    r_out, p_out = local_transforms(out)
    assert np.abs(r_out - r_ref).max() < 1e-6
    assert np.abs(p_out - p_ref).max() * profile.unit_scale < atol_m
    # the model joints, straight from the features
    world = sequence_world_positions(seq, fdef)
    assert np.abs(world - model_joint_positions(ref, profile)).max() < atol_m
    return seq, fdef, err, body_height(w_ref * profile.unit_scale)


def test_rotations_inverse_procedural(procedural_take):
    motion, _ = procedural_take
    prof = load_profile("procedural")
    seq, fdef, _, _ = check_rotations_inverse(motion, prof, 20.0)
    assert fdef.pose_dim == 1 + 6 + 6 * 20 and fdef.passthrough_columns == []
    assert fdef.rotation_joints[0] == "Hips"


def test_rotations_inverse_real_files(bandai_namco_dir):
    prof = load_profile("bandai_namco")
    for name in BANDAI_FILES:
        motion = read_bvh(bandai_namco_dir / "dataset-2" / name)
        for fps in (30.0, 20.0):
            seq, fdef, err, h = check_rotations_inverse(motion, prof, fps)
            print(f"\n{name} rotations @ {fps:g} fps: FK error {err:.2e} m = {err / h:.1e} of body height")
        # joint_Root (still) and the constant position channels of the other joints are passthrough
        assert fdef.pose_dim == 1 + 6 + 6 * 20
        assert fdef.passthrough_columns[:7] == [f"joint_Root.r{i}" for i in range(6)] + ["joint_Root.tx"]
        # a generated sequence has no passthrough: the defaults (OFFSETs) are within 1e-7 m here
        w_default = reconstruct_world_positions(seq.poses, seq.control, fdef, seq.root_start)
        w_exact = sequence_world_positions(seq, fdef)
        assert np.abs(w_default - w_exact).max() < 1e-6
        # the mirrored copy inverts exactly too, to the mirrored motion
        mirrored = extract_features(motion, prof, DataConfig(representation="rotations"), mirror=True)
        from data_pipeline.mirror import mirror_motion
        ref = model_joint_positions(resample_motion(mirror_motion(motion, prof), 20.0), prof)
        assert np.abs(sequence_world_positions(mirrored, fdef) - ref).max() < 1e-6


def test_rotations_inverse_cmu(cmu_dir):
    motion = read_bvh(cmu_dir / "01_01.bvh")
    motion.values = motion.values[:720]
    check_rotations_inverse(motion, load_profile("cmu"), 20.0)


def test_generated_rotation_features_give_a_motion(procedural_take):
    """Arbitrary (model-made) features need no passthrough and need not be exact rotations."""
    motion, _ = procedural_take
    cfg = DataConfig(profile="procedural", representation="rotations")
    fdef = feature_definition(motion.skeleton, "procedural", cfg)
    seq = extract_features(motion, "procedural", cfg)
    noisy = seq.poses + np.random.default_rng(0).normal(0, 0.01, seq.poses.shape)
    out = features_to_motion(noisy, seq.control, fdef)
    assert out.num_frames == seq.num_frames and np.all(np.isfinite(out.values))
    assert out.frame_time == pytest.approx(1 / 20)
    hips = forward_kinematics(out)[0][:, 0]
    assert np.allclose(hips[0, [0, 2]], 0.0) and np.allclose(hips[:, 1] / 100, noisy[:, 0])


# ------------------------------------------------------------------ definition and errors
def test_feature_definition_round_trip(procedural_take):
    motion, _ = procedural_take
    for rep in ("positions", "rotations"):
        cfg = DataConfig(profile="procedural", representation=rep)
        fdef = feature_definition(motion.skeleton, "procedural", cfg)
        again = FeatureDefinition.from_dict(json.loads(json.dumps(fdef.to_dict())))
        assert again == fdef
        seq = extract_features(motion, "procedural", cfg)
        assert np.array_equal(sequence_world_positions(seq, again), sequence_world_positions(seq, fdef))
    with pytest.raises(ValueError, match="unknown FeatureDefinition key"):
        FeatureDefinition.from_dict({**fdef.to_dict(), "colums": []})


def test_errors_are_clear(procedural_take):
    motion, _ = procedural_take
    cfg = DataConfig(profile="procedural")
    fdef = feature_definition(motion.skeleton, "procedural", cfg)
    seq = extract_features(motion, "procedural", cfg)
    with pytest.raises(ValueError, match=r"need poses \(\.\.\., F, 61\)"):
        reconstruct_world_positions(seq.poses[:, :60], seq.control, fdef)
    with pytest.raises(ValueError, match="needs the 'rotations' representation"):
        features_to_motion(seq.poses, seq.control, fdef)
    with pytest.raises(Exception, match="joint_Root"):
        extract_features(motion, "bandai_namco", cfg)


def test_batched_positions_reconstruction(procedural_take):
    motion, _ = procedural_take
    cfg = DataConfig(profile="procedural")
    fdef = feature_definition(motion.skeleton, "procedural", cfg)
    seq = extract_features(motion, "procedural", cfg)
    poses = np.stack([seq.poses, seq.poses[::-1]])
    control = np.stack([seq.control, seq.control[::-1]])
    batch = reconstruct_world_positions(poses, control, fdef, np.stack([seq.root_start, np.zeros(3)]))
    assert batch.shape == (2, seq.num_frames, 21, 3)
    assert np.array_equal(batch[0], reconstruct_world_positions(seq.poses, seq.control, fdef, seq.root_start))
    assert np.array_equal(batch[1], reconstruct_world_positions(seq.poses[::-1], seq.control[::-1], fdef))


@pytest.mark.parametrize("frames", [1, 2, 3])
def test_very_short_motions(procedural_take, frames):
    motion, _ = procedural_take
    short = type(motion)(motion.skeleton, motion.values[:frames], motion.frame_time, motion.source)
    for rep in ("positions", "rotations"):
        cfg = DataConfig(profile="procedural", representation=rep, fps=60.0)
        seq = extract_features(short, "procedural", cfg)
        fdef = feature_definition(short.skeleton, "procedural", cfg)
        assert seq.num_frames == frames
        ref = model_joint_positions(short, "procedural")
        assert np.abs(sequence_world_positions(seq, fdef) - ref).max() < 1e-6
