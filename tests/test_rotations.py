"""Rotation conversions, checked against scipy.spatial.transform.Rotation."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from data_pipeline.rotations import (axis_rotation, euler_to_matrix, matrix_to_6d, matrix_to_euler,
                                     rotation_about_y, sixd_to_matrix)

ORDERS = ["XYZ", "XZY", "YXZ", "YZX", "ZXY", "ZYX"]


def random_angles(rng: np.random.Generator, n: int) -> np.ndarray:
    """(n, 3) degrees: first and last in (-180, 180), middle in (-90, 90)."""
    angles = rng.uniform(-180, 180, size=(n, 3))
    angles[:, 1] /= 2
    return angles


@pytest.mark.parametrize("order", ORDERS)
def test_euler_to_matrix_matches_scipy_intrinsic(order: str) -> None:
    rng = np.random.default_rng(1)
    angles = rng.uniform(-400, 400, size=(500, 3))  # beyond one turn too
    ours = euler_to_matrix(angles, order)
    theirs = Rotation.from_euler(order, angles, degrees=True).as_matrix()  # upper case: intrinsic
    np.testing.assert_allclose(ours, theirs, atol=1e-12)


def test_euler_to_matrix_is_product_in_listed_order() -> None:
    """BVH convention: channels "Zrotation Xrotation Yrotation" give R = Rz @ Rx @ Ry."""
    a = np.array([30.0, -50.0, 70.0])
    expected = (axis_rotation("Z", np.deg2rad(a[0])) @ axis_rotation("X", np.deg2rad(a[1]))
                @ axis_rotation("Y", np.deg2rad(a[2])))
    np.testing.assert_allclose(euler_to_matrix(a, "ZXY"), expected, atol=1e-14)
    # Rz(90) turns +X into +Y (right-handed).
    np.testing.assert_allclose(euler_to_matrix([90.0], "Z") @ [1, 0, 0], [0, 1, 0], atol=1e-15)


def test_euler_to_matrix_exact_at_special_angles() -> None:
    for deg in [0.0, 90.0, -90.0, 180.0, -180.0, 360.0]:
        R = euler_to_matrix([deg, 0.0, 0.0], "XYZ")
        expected = Rotation.from_euler("X", deg, degrees=True).as_matrix()
        np.testing.assert_allclose(R, expected, atol=1e-15)


@pytest.mark.parametrize("order", ["X", "ZY", "YX"])
def test_euler_to_matrix_fewer_channels(order: str) -> None:
    rng = np.random.default_rng(2)
    angles = rng.uniform(-180, 180, size=(20, len(order)))
    theirs = Rotation.from_euler(order, angles, degrees=True).as_matrix()
    np.testing.assert_allclose(euler_to_matrix(angles, order), theirs, atol=1e-12)


@pytest.mark.parametrize("order", ORDERS)
def test_matrix_to_euler_recovers_angles(order: str) -> None:
    rng = np.random.default_rng(3)
    angles = random_angles(rng, 500)
    recovered = matrix_to_euler(euler_to_matrix(angles, order), order)
    np.testing.assert_allclose(recovered, angles, atol=1e-8)
    theirs = Rotation.from_matrix(euler_to_matrix(angles, order)).as_euler(order, degrees=True)
    np.testing.assert_allclose(recovered, theirs, atol=1e-8)


@pytest.mark.parametrize("order", ORDERS)
def test_matrix_to_euler_round_trip_near_gimbal_lock(order: str) -> None:
    rng = np.random.default_rng(4)
    angles = random_angles(rng, 400)
    near = np.array([90.0, -90.0, 90 - 1e-7, -90 + 1e-7, 90 - 1e-4, 89.9, -89.99])
    angles[:, 1] = near[rng.integers(0, len(near), size=len(angles))]
    R = Rotation.from_euler(order, angles, degrees=True).as_matrix()
    back = euler_to_matrix(matrix_to_euler(R, order), order)
    np.testing.assert_allclose(back, R, atol=1e-9)


def test_matrix_to_euler_ranges_and_shapes() -> None:
    rng = np.random.default_rng(5)
    R = Rotation.random(60, random_state=6).as_matrix().reshape(3, 4, 5, 3, 3)
    e = matrix_to_euler(R, "YZX")
    assert e.shape == (3, 4, 5, 3)
    assert np.all(np.abs(e[..., 1]) <= 90 + 1e-9) and np.all(np.abs(e) <= 180 + 1e-9)
    assert euler_to_matrix(rng.normal(size=(2, 7, 3)), "ZXY").shape == (2, 7, 3, 3)


def test_bad_orders_are_rejected() -> None:
    for order in ["XXY", "XYZW", "ABC", ""]:
        with pytest.raises(ValueError, match="Euler order"):
            euler_to_matrix(np.zeros(len(order) or 3), order)
    with pytest.raises(ValueError, match="Euler order"):
        matrix_to_euler(np.eye(3), "XYX")
    with pytest.raises(ValueError, match="shape"):
        euler_to_matrix(np.zeros(2), "XYZ")


def test_6d_round_trip_and_gram_schmidt() -> None:
    R = Rotation.random(200, random_state=7).as_matrix()
    d6 = matrix_to_6d(R)
    assert d6.shape == (200, 6)
    np.testing.assert_allclose(d6[:, :3], R[:, :, 0])
    np.testing.assert_allclose(sixd_to_matrix(d6), R, atol=1e-12)
    # Perturbed, non-orthonormal input still gives proper rotations keeping the first direction.
    rng = np.random.default_rng(8)
    noisy = d6 * rng.uniform(0.5, 2.0, size=(200, 1)) + 0.05 * rng.normal(size=d6.shape)
    M = sixd_to_matrix(noisy)
    np.testing.assert_allclose(M @ np.swapaxes(M, -1, -2), np.broadcast_to(np.eye(3), M.shape), atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(M), 1.0, atol=1e-12)
    first = noisy[:, :3] / np.linalg.norm(noisy[:, :3], axis=-1, keepdims=True)
    np.testing.assert_allclose(M[:, :, 0], first, atol=1e-12)


def test_rotation_about_y_matches_scipy() -> None:
    theta = np.linspace(-7, 7, 29).reshape(29)
    theirs = Rotation.from_rotvec(theta[:, None] * np.array([0.0, 1.0, 0.0])).as_matrix()
    np.testing.assert_allclose(rotation_about_y(theta), theirs, atol=1e-12)
    # Positive angles turn +Z towards +X.
    np.testing.assert_allclose(rotation_about_y(np.pi / 2) @ [0, 0, 1], [1, 0, 0], atol=1e-15)


@pytest.mark.parametrize("order", ["X", "Y", "Z", "XY", "YX", "XZ", "ZX", "YZ", "ZY"])
def test_matrix_to_euler_fewer_channels_full_range(order: str) -> None:
    rng = np.random.default_rng(9)
    angles = rng.uniform(-179.9, 179.9, size=(300, len(order)))  # no range restriction on any angle
    back = matrix_to_euler(euler_to_matrix(angles, order), order)
    np.testing.assert_allclose(back, angles, atol=1e-9)
