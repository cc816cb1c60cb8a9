"""Exact left/right mirroring on the kinematic data."""
from __future__ import annotations

import numpy as np
import pytest

from data_pipeline.bvh import read_bvh
from data_pipeline.kinematics import forward_kinematics, local_transforms
from data_pipeline.mirror import (infer_mirror_reflections, mirror_motion, mirror_offset_error,
                                  reflect_positions)
from data_pipeline.procedural_skeleton import procedural_skeleton
from data_pipeline.profiles import REFLECTIONS, load_profile
from data_pipeline.rotations import euler_to_matrix
from data_pipeline.skeleton import Motion, Skeleton


def random_motion(skel: Skeleton, frames: int = 40, seed: int = 0) -> Motion:
    """Random angles in [-120, 120] degrees and random translations on every channel."""
    rng = np.random.default_rng(seed)
    values = np.empty((frames, skel.num_channels))
    col = 0
    for j, chans in enumerate(skel.channels):
        for c in chans:
            if c.endswith("rotation"):
                values[:, col] = rng.uniform(-120, 120, frames)
            else:
                axis = "XYZ".index(c[0])
                values[:, col] = skel.offsets[j, axis] + rng.normal(0, 50 if j == 0 else 3, frames)
            col += 1
    return Motion(skel, values, 1 / 30, source="random")


def six_channel_skeleton() -> Skeleton:
    """The procedural skeleton with position and rotation channels on every joint (like Bandai Namco)."""
    skel = procedural_skeleton()
    six = ("Xposition", "Yposition", "Zposition", "Zrotation", "Xrotation", "Yrotation")
    return Skeleton(skel.names, skel.parents, skel.offsets, [() if e else six for e in skel.is_end_site],
                    skel.is_end_site)


def same_rotations(a: Motion, b: Motion, tol: float = 1e-9) -> bool:
    """Channel values agree up to an equivalent Euler triple (compared as matrices) and positions."""
    ra, pa = local_transforms(a)
    rb, pb = local_transforms(b)
    return np.abs(ra - rb).max() < tol and np.abs(pa - pb).max() < tol


def test_symmetric_skeleton_mirror_is_exact_and_is_MRM():
    prof = load_profile("procedural")
    motion = random_motion(procedural_skeleton())
    refl = infer_mirror_reflections(motion, prof)
    assert set(refl.values()) == {"x"}  # a rest pose symmetric about X = 0: R -> M R M everywhere
    mirrored = mirror_motion(motion, prof)
    partner = prof.mirror_index(motion.skeleton)
    expected = reflect_positions(forward_kinematics(motion)[0], partner)
    assert np.abs(forward_kinematics(mirrored)[0] - expected).max() < 1e-9
    # R -> M R M with ZXY channels is: keep X, negate Y and Z angles, swap partners
    m = np.diag([-1.0, 1.0, 1.0])
    rot, _ = local_transforms(motion)
    rot_m, _ = local_transforms(mirrored)
    assert np.abs(rot_m - m @ rot[:, partner] @ m).max() < 1e-12
    assert mirrored.skeleton is motion.skeleton and mirrored.frame_time == motion.frame_time
    assert all(v == 0 for v in mirror_offset_error(motion.skeleton, prof, refl).values())


def test_mirror_twice_is_the_identity():
    prof = load_profile("procedural")
    motion = random_motion(procedural_skeleton(), seed=1)
    twice = mirror_motion(mirror_motion(motion, prof), prof)
    assert same_rotations(twice, motion)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_any_local_reflections_are_exact_with_position_channels(seed):
    """With position channels everywhere, FK is exact whatever each joint's reflection K_j is
    (End Sites, which have no channels, need the K that matches their offsets)."""
    prof = load_profile("procedural")
    skel = six_channel_skeleton()
    motion = random_motion(skel, seed=seed)
    rng = np.random.default_rng(seed)
    refl = {n: str(rng.choice(list(REFLECTIONS))) for n, e in zip(skel.names, skel.is_end_site) if not e}
    for left, right in prof.mirror_pairs:  # partners share K, which makes mirroring an involution
        refl[right] = refl[left]
    mirrored = mirror_motion(motion, prof, reflections=refl)
    expected = reflect_positions(forward_kinematics(motion)[0], prof.mirror_index(skel))
    joints = ~skel.is_end_site
    assert np.abs(forward_kinematics(mirrored)[0][:, joints] - expected[:, joints]).max() < 1e-9
    assert same_rotations(mirror_motion(mirrored, prof, reflections=refl), motion)


def test_asymmetric_offsets_without_position_channels():
    """The same skeleton cannot hold the mirrored offsets: the error is bounded by the offset
    asymmetry summed along the chain; skeleton='mirrored' is exact."""
    prof = load_profile("procedural")
    skel = procedural_skeleton()
    skel.offsets[skel.index("LowerLeg_R")] += [0.4, 0.2, 0.0]  # make the right thigh asymmetric
    motion = random_motion(skel, seed=3)
    refl = infer_mirror_reflections(motion, prof)
    err_off = mirror_offset_error(skel, prof, refl)
    assert err_off["LowerLeg_L"] == pytest.approx(np.hypot(0.4, 0.2))
    assert err_off["Spine"] == 0
    partner = prof.mirror_index(skel)
    expected = reflect_positions(forward_kinematics(motion)[0], partner)
    err = np.linalg.norm(forward_kinematics(mirror_motion(motion, prof))[0] - expected, axis=-1).max(0)
    for j, name in enumerate(skel.names):  # triangle inequality along the chain
        bound, k = 0.0, j
        while k > 0:
            bound += err_off.get(skel.names[k], 0.0)
            k = skel.parents[k]
        assert err[j] <= bound + 1e-9, name
    assert err.max() > 0.3
    exact = mirror_motion(motion, prof, skeleton="mirrored")
    assert np.abs(forward_kinematics(exact)[0] - expected).max() < 1e-9


def test_real_bandai_namco_mirror(bandai_namco_dir):
    """Bandai Namco: exact (position channels on every joint), in the rig's own conventions."""
    prof = load_profile("bandai_namco")
    folder = bandai_namco_dir / "dataset-2"
    for name in ("dataset-2_walk-turn-right_feminine_001.bvh", "dataset-2_run_masculine_002.bvh"):
        motion = read_bvh(folder / name)
        # the reflections shipped in the profile are what inference finds on real files
        assert infer_mirror_reflections(motion, prof, fixed={}) == prof.mirror_reflections
        mirrored = mirror_motion(motion, prof)
        world = forward_kinematics(motion)[0]
        expected = reflect_positions(world, prof.mirror_index(motion.skeleton))
        err = np.abs(forward_kinematics(mirrored)[0] - expected).max()
        height = np.ptp(world[0, :, 1])
        print(f"\n{name}: mirror FK error {err:.2e} cm = {err / height:.1e} of body height ({height:.1f} cm)")
        assert err < 1e-6
        # the mirrored translations stay at the OFFSETs (within the rig's 0.04 cm asymmetry) ...
        _, pos = local_transforms(mirrored)
        body = [j for j in range(2, motion.skeleton.num_joints)]
        assert np.abs(pos[:, body] - motion.skeleton.offsets[body]).max() < 0.05
        # ... whereas the plain R -> M R M (all "x") is exact only through translations far from them
        naive = mirror_motion(motion, prof, reflections={n: "x" for n in prof.mirror_reflections})
        assert np.abs(forward_kinematics(naive)[0] - expected).max() < 1e-6
        assert np.abs(local_transforms(naive)[1][:, body] - motion.skeleton.offsets[body]).max() > 5.0
        # the mirrored hips stay upright (their local X axis points up, like the original's)
        hips = motion.skeleton.index("Hips")
        up = forward_kinematics(mirrored)[1][:, hips, 1, 0]
        assert up.min() > 0.8


def test_real_cmu_mirror_error(cmu_dir):
    prof = load_profile("cmu")
    motion = read_bvh(cmu_dir / "01_01.bvh")
    motion.values = motion.values[::8]
    refl = infer_mirror_reflections(motion, prof)
    assert set(refl.values()) == {"x"}
    world = forward_kinematics(motion)[0]
    expected = reflect_positions(world, prof.mirror_index(motion.skeleton))
    err = np.abs(forward_kinematics(mirror_motion(motion, prof))[0] - expected).max()
    height = np.ptp(world[0, :, 1])
    print(f"\nCMU 01_01 same-skeleton mirror error {err * prof.unit_scale * 100:.2f} cm = {err / height:.3f} of "
          f"body height (rest offsets asymmetric, no position channels)")
    assert err / height < 0.05
    exact = mirror_motion(motion, prof, skeleton="mirrored")
    assert np.abs(forward_kinematics(exact)[0] - expected).max() < 1e-9


def test_channel_orders_differ_between_partners():
    """Partners with different Euler orders: channels are rewritten in each joint's own order."""
    prof = load_profile("procedural")
    skel = procedural_skeleton()
    channels = list(skel.channels)
    channels[skel.index("UpperArm_R")] = ("Xrotation", "Yrotation", "Zrotation")
    skel = Skeleton(skel.names, skel.parents, skel.offsets, channels, skel.is_end_site)
    motion = random_motion(skel, seed=4)
    mirrored = mirror_motion(motion, prof)
    expected = reflect_positions(forward_kinematics(motion)[0], prof.mirror_index(skel))
    assert np.abs(forward_kinematics(mirrored)[0] - expected).max() < 1e-9
    col = skel.channel_offsets[skel.index("UpperArm_L")]
    r = euler_to_matrix(mirrored.values[:, col:col + 3], "ZXY")
    assert np.allclose(r @ np.swapaxes(r, -1, -2), np.eye(3))
