"""Resampling to another frame rate: index arithmetic, slerp, and real files."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation, Slerp

from data_pipeline.bvh import read_bvh
from data_pipeline.kinematics import forward_kinematics
from data_pipeline.resample import (resample_indices, resample_local, resample_motion, slerp_frames,
                                    slerp_quaternions, snap_fps)


@pytest.mark.parametrize("src, dst, frames, expected", [
    (30, 20, 7, [0.0, 1.5, 3.0, 4.5, 6.0]),
    (30, 20, 6, [0.0, 1.5, 3.0, 4.5]),
    (120, 20, 13, [0.0, 6.0, 12.0]),
    (60, 20, 7, [0.0, 3.0, 6.0]),
    (25, 20, 6, [0.0, 1.25, 2.5, 3.75, 5.0]),
    (20, 30, 3, [0.0, 2 / 3, 4 / 3, 2.0]),
])
def test_resample_indices_place_output_frames_at_k_over_fps(src, dst, frames, expected):
    idx0, idx1, alpha = resample_indices(frames, src, dst)
    assert np.allclose(idx0 + alpha, expected, atol=1e-12)
    assert np.all(idx1 - idx0 == (alpha > 0))
    assert np.all((alpha >= 0) & (alpha < 1))
    assert idx1.max() <= frames - 1


def test_whole_ratios_pick_frames_exactly():
    idx0, idx1, alpha = resample_indices(1000, 120, 20)
    assert np.array_equal(idx0, np.arange(0, 1000, 6)) and np.all(alpha == 0) and np.array_equal(idx0, idx1)


def test_snap_fps():
    assert snap_fps(1 / 0.0333333) == 30.0
    assert snap_fps(120.00048000192001) == 120.0
    assert snap_fps(29.97) == 29.97  # NTSC is a real rate, not a rounding error
    assert snap_fps(1 / 0.0333333, tolerance=0) != 30.0


def test_slerp_matches_scipy():
    rng = np.random.default_rng(0)
    r0, r1 = Rotation.random(200, random_state=1), Rotation.random(200, random_state=2)
    alpha = rng.uniform(0, 1, 200)
    q = slerp_quaternions(r0.as_quat(), r1.as_quat(), alpha)
    for i in range(0, 200, 17):
        ref = Slerp([0, 1], Rotation.concatenate([r0[i], r1[i]]))(alpha[i])
        assert (Rotation.from_quat(q[i]) * ref.inv()).magnitude() < 1e-9
    # nearly identical quaternions (the linear fallback) stay unit and in between
    q = slerp_quaternions(r0.as_quat(), r0.as_quat(), alpha)
    assert np.allclose(np.abs(np.sum(q * r0.as_quat(), -1)), 1.0)


def test_constant_angular_velocity_is_resampled_exactly():
    """Slerp is exact for rotation at constant angular velocity about a fixed axis, and lerp
    for constant linear velocity: 30 -> 20 fps must give the analytic values at t = k / 20."""
    rng = np.random.default_rng(3)
    axes = rng.normal(size=(4, 3))
    axes /= np.linalg.norm(axes, axis=1, keepdims=True)
    omega = rng.uniform(-4, 4, size=4)  # rad/s, below pi per source frame
    vel = rng.normal(size=(4, 3))
    offset0 = rng.normal(size=(4, 3))

    def sample(t):
        rot = Rotation.from_rotvec((t[:, None, None] * omega[None, :, None] * axes[None]).reshape(-1, 3))
        return rot.as_matrix().reshape(len(t), 4, 3, 3), offset0 + t[:, None, None] * vel

    t_src = np.arange(91) / 30
    rot, pos = sample(t_src)
    rot2, pos2 = resample_local(rot, pos, 30, 20)
    assert rot2.shape[0] == 61
    ref_rot, ref_pos = sample(np.arange(61) / 20)
    assert np.abs(rot2 - ref_rot).max() < 1e-10
    assert np.abs(pos2 - ref_pos).max() < 1e-12
    # frames falling on source frames are copied bit for bit
    assert np.array_equal(rot2[::2], rot[::3]) and np.array_equal(pos2[::2], pos[::3])


def test_slerp_frames_handles_extra_axes():
    rot = Rotation.random(10 * 3, random_state=5).as_matrix().reshape(10, 3, 3, 3)
    idx0, idx1, alpha = resample_indices(10, 30, 20)
    out = slerp_frames(rot, idx0, idx1, alpha)
    assert out.shape == (len(idx0), 3, 3, 3)
    assert np.allclose(out @ np.swapaxes(out, -1, -2), np.eye(3), atol=1e-12)


def test_resample_real_bandai_namco_file(bandai_namco_dir):
    motion = read_bvh(bandai_namco_dir / "dataset-2" / "dataset-2_walk-turn-left_normal_001.bvh")
    out = resample_motion(motion, 20.0)
    assert out.num_frames == (motion.num_frames - 1) * 2 // 3 + 1
    assert out.frame_time == pytest.approx(0.05) and out.skeleton is motion.skeleton
    w_in, _ = forward_kinematics(motion)
    w_out, _ = forward_kinematics(out)
    # even output frames are source frames 0, 3, 6, ...
    assert np.abs(w_out[::2] - w_in[::3][: len(w_out[::2])]).max() < 1e-9
    # odd ones lie between their neighbours (slerp of local rotations, not world lerp)
    mid = 0.5 * (w_in[1::3] + w_in[2::3])[: len(w_out[1::2])]
    gap = np.abs(w_out[1::2] - mid).max()
    assert 0 < gap < 2.0  # cm: close to, but not the same as, the world-space average


def test_resample_real_cmu_120_to_20(cmu_dir):
    motion = read_bvh(cmu_dir / "01_01.bvh")
    motion.values = motion.values[:600]
    out = resample_motion(motion, 20.0)
    assert out.num_frames == 100
    assert np.abs(forward_kinematics(out)[0] - forward_kinematics(motion)[0][::6]).max() < 1e-9
