"""Tests of ``visualize.geometry`` (no GL needed): instance matrices, shadows, path ribbons,
the following camera, choosing the root joint, the unit guess."""
from __future__ import annotations

import numpy as np
import pytest

from render_testutils import PARENTS, toy_walk
from visualize import geometry as geo


def test_segment_matrices_map_unit_cylinder_onto_segment():
    rng = np.random.default_rng(0)
    start, end = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    end[0] = start[0] + [1e-9, 0, 0]  # degenerate bone stays invertible
    m = geo.segment_matrices(start, end, radius=0.03).astype(np.float64)
    top = m @ np.array([0, 0, 0.5, 1.0])
    bottom = m @ np.array([0, 0, -0.5, 1.0])
    np.testing.assert_allclose(top[1:, :3], end[1:], atol=1e-5)
    np.testing.assert_allclose(bottom[1:, :3], start[1:], atol=1e-5)
    # the radius columns are orthogonal to the axis and 3 cm long
    axis = m[:, :3, 2]
    for k in (0, 1):
        np.testing.assert_allclose(np.linalg.norm(m[:, :3, k], axis=1), 0.03, rtol=1e-5)
        np.testing.assert_allclose(np.einsum("bi,bi->b", m[:, :3, k], axis), 0, atol=1e-6)
    assert np.all(np.abs(np.linalg.det(m[:, :3, :3])) > 0)


def test_bone_and_joint_matrices_shapes_and_positions():
    pos = toy_walk(5)
    j = geo.joint_matrices(pos, 0.05)
    b = geo.bone_matrices(pos, PARENTS, 0.02)
    assert j.shape == (5, 16, 4, 4) and b.shape == (5, 15, 4, 4)
    np.testing.assert_allclose(j[..., :3, 3], pos, atol=1e-6)
    child, parent = geo.bone_pairs(PARENTS)
    np.testing.assert_allclose(b[..., :3, 3], 0.5 * (pos[:, child] + pos[:, parent]), atol=1e-5)


def test_planar_shadow_matrix_projects_along_light_onto_floor():
    light = np.array([0.3, -1.0, 0.2])
    s = geo.planar_shadow_matrix(light, floor_y=0.1, lift=0.0, squash=0.0)
    p = np.array([0.5, 1.6, -0.2, 1.0])
    q = s @ p
    assert q[1] == pytest.approx(0.1)
    # q lies on the line through p along the light direction
    d = (q[:3] - p[:3]) / light
    np.testing.assert_allclose(d, d[0], rtol=1e-9)
    with pytest.raises(ValueError):
        geo.planar_shadow_matrix([0, 1, 0], 0.0)


def test_ribbon_faces_point_up_and_follow_path():
    path = np.stack([np.linspace(0, 3, 20), np.sin(np.linspace(0, 3, 20))], 1)
    v, f = geo.ribbon(path, width=0.1, y=0.01)
    assert len(f) == 2 * (len(path) - 1)
    n = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    assert np.all(n[:, 1] > 0)
    np.testing.assert_allclose(v[:, 1], 0.01)
    centre = 0.5 * (v[0::2] + v[1::2])[:, [0, 2]]
    np.testing.assert_allclose(centre, path, atol=1e-6)
    assert geo.ribbon(np.zeros((5, 2)), 0.1, 0.0)[1].shape == (0, 3)


def test_smoothing_has_no_lag_and_camera_looks_at_character():
    xz = np.stack([np.linspace(0, 4, 60), np.zeros(60)], 1)
    sm = geo.smooth_track(xz, 6.0)
    np.testing.assert_allclose(sm[25:35], xz[25:35], atol=1e-9)  # centred kernel: a straight line is kept
    jitter = xz + np.random.default_rng(1).normal(scale=0.05, size=xz.shape)
    assert np.abs(np.diff(geo.smooth_track(jitter, 6.0), 2, axis=0)).max() < np.abs(np.diff(jitter, 2, axis=0)).max() / 5
    cams = geo.follow_camera(xz, height=1.7, floor_y=0.0, yfov=np.radians(40), aspect=4 / 3, azimuth=0.5,
                             sigma_frames=0.0)
    view = -cams[:, :3, 2]  # the camera looks along its -Z
    to_target = np.stack([xz[:, 0], np.full(60, 0.85), xz[:, 1]], 1) - cams[:, :3, 3]
    cos = np.einsum("fi,fi->f", view, to_target) / np.linalg.norm(to_target, axis=1)
    np.testing.assert_allclose(cos, 1.0, atol=1e-6)
    np.testing.assert_allclose(cams[:, :3, :3] @ cams[:, :3, :3].transpose(0, 2, 1), np.tile(np.eye(3), (60, 1, 1)),
                               atol=1e-9)


def test_choose_root_skips_a_single_child_top_joint_and_subtree_drops_it():
    assert geo.choose_root(PARENTS) == 0  # the hips branch: they are the root
    # a joint above the hips with a single child, like Bandai Namco dataset-2's joint_Root
    parents = np.concatenate([[-1], np.where(PARENTS < 0, 0, PARENTS + 1)])
    root = geo.choose_root(parents)
    assert root == 1
    keep, new_parents = geo.subtree(parents, root)
    np.testing.assert_array_equal(keep, np.arange(1, 17))
    np.testing.assert_array_equal(new_parents, PARENTS)


def test_unit_scale_guess():
    from visualize.inputs import guess_unit_scale

    assert guess_unit_scale(170.0) == 0.01
    assert guess_unit_scale(1.7) == 1.0
