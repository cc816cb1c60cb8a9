"""Real data against an independent implementation, the ``bvh-converter`` package.

CMU takes (Debian's assimp-testmodels): world positions agree to 1e-6 on 50 frames spread over
each take. Bandai Namco dataset-2: bvh-converter drops the position channels of every joint but
the root, so it loses the walking path that these files carry on ``Hips``; ours keeps it, and
agrees with the reference wherever the reference is right.
"""
from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np
import pytest

from data_pipeline.bvh import read_bvh, read_bvh_folder
from data_pipeline.bvh_writer import write_bvh
from data_pipeline.kinematics import forward_kinematics, local_transforms
from data_pipeline.skeleton import Motion

from test_bvh_parse import import_bvh_converter

bvh_converter = import_bvh_converter()


def reference_world_positions(path: Path, frames: np.ndarray, names: list[str]) -> np.ndarray:
    """bvh-converter's world positions (len(frames), J, 3) for our joints ``names``.

    The reference names End Sites "<parent>End" where we say "<parent>_End".
    """
    with contextlib.redirect_stdout(io.StringIO()):  # it prints progress
        ref = bvh_converter.process_bvhfile(str(path))
    for f in frames:
        bvh_converter.process_bvhkeyframe(ref.keyframes[f], ref.root, ref.dt * f)
    by_name = {}
    for joint in ref.joint_dfs(ref.root):
        name = joint.name
        if not joint.children and name.endswith("End"):
            name = name[:-3] + "_End"
        by_name[name] = joint
    assert sorted(by_name) == sorted(names)
    return np.array([[by_name[n].worldpos[ref.dt * f][:3] for n in names] for f in frames])


@pytest.mark.parametrize("take", ["01_01.bvh", "01_03.bvh"])
def test_cmu_world_positions_match_reference(cmu_dir: Path, take: str) -> None:
    motion = read_bvh(cmu_dir / take)
    sk = motion.skeleton
    assert motion.num_frames == {"01_01.bvh": 2752, "01_03.bvh": 4511}[take]
    assert sk.num_joints - int(sk.is_end_site.sum()) == 31 and motion.fps == pytest.approx(120, rel=1e-4)
    assert np.any(np.all(sk.offsets[1:] == 0, axis=1))  # the zero-length bones are there
    pos, _ = forward_kinematics(motion)
    frames = np.linspace(0, motion.num_frames - 1, 50).round().astype(int)
    ref = reference_world_positions(cmu_dir / take, frames, sk.names)
    np.testing.assert_allclose(pos[frames], ref, rtol=0, atol=1e-6)
    assert np.ptp(pos[:, 0], axis=0).max() > 1.0  # the take does move: the check is not vacuous


def test_cmu_round_trip_through_writer(cmu_dir: Path, tmp_path: Path) -> None:
    motion = read_bvh(cmu_dir / "01_01.bvh")
    write_bvh(motion, tmp_path / "copy.bvh")
    back = read_bvh(tmp_path / "copy.bvh")
    assert back.skeleton.names == motion.skeleton.names
    assert back.skeleton.channels == motion.skeleton.channels
    np.testing.assert_allclose(back.skeleton.offsets, motion.skeleton.offsets, atol=1e-6)
    np.testing.assert_allclose(back.values, motion.values, atol=1e-6)
    np.testing.assert_allclose(forward_kinematics(back)[0], forward_kinematics(motion)[0], atol=1e-4)


WALK = "dataset-2/dataset-2_walk_normal_001.bvh"


def test_bandai_namco_keeps_the_walking_path_the_reference_drops(bandai_namco_dir: Path) -> None:
    path = bandai_namco_dir / WALK
    motion = read_bvh(path)
    sk = motion.skeleton
    hips = sk.index("Hips")
    assert sk.channels[hips][:3] == ("Xposition", "Yposition", "Zposition")
    pos, rot = forward_kinematics(motion)
    frames = np.arange(0, motion.num_frames, 5)
    ref = reference_world_positions(path, frames, sk.names)

    # Ours: Hips travels metres (file units are cm), exactly as its position channels say,
    # placed by joint_Root (which stands still in dataset-2).
    hips_channels = motion.values[:, sk.channel_offsets[hips]:sk.channel_offsets[hips] + 3]
    expected = pos[:, 0] + np.einsum("fij,fj->fi", rot[:, 0], hips_channels)
    np.testing.assert_allclose(pos[:, hips], expected, atol=1e-9)
    travel = np.linalg.norm(pos[-1, hips, [0, 2]] - pos[0, hips, [0, 2]])
    assert travel > 300.0, f"Hips moved only {travel:.1f} cm"
    # The reference: Hips is pinned to its OFFSET, the path is gone.
    assert np.ptp(ref[:, hips], axis=0).max() < 1e-6
    np.testing.assert_allclose(ref[:, hips], np.broadcast_to(sk.offsets[hips], ref[:, hips].shape), atol=1e-6)

    # Where the reference is right, we agree: the pose relative to the Hips (the other joints'
    # position channels equal their OFFSETs to about 1e-5 cm, which the reference reads instead) ...
    assert sk.children(0) == [hips]  # so every joint but joint_Root hangs from Hips
    below = list(range(1, sk.num_joints))
    rel_ours = pos[frames][:, below] - pos[frames][:, [hips]]
    rel_ref = ref[:, below] - ref[:, [hips]]
    np.testing.assert_allclose(rel_ours, rel_ref, atol=1e-3)
    # ... and, exactly, the whole skeleton once the position channels below the root are made
    # to say what the reference assumes (their OFFSETs).
    values = motion.values.copy()
    for j in range(1, sk.num_joints):
        for k, name in enumerate(sk.channels[j]):
            if name.endswith("position"):
                values[:, sk.channel_offsets[j] + k] = sk.offsets[j, "XYZ".index(name[0])]
    pinned = forward_kinematics(Motion(sk, values, motion.frame_time))[0]
    np.testing.assert_allclose(pinned[frames], ref, rtol=0, atol=1e-6)


def test_bandai_namco_files_share_one_skeleton(bandai_namco_dir: Path) -> None:
    motions = read_bvh_folder(bandai_namco_dir / "dataset-2", pattern="dataset-2_*_00[1-3].bvh", progress=False)
    assert len(motions) >= 12
    first = motions[0].skeleton
    assert first.num_joints == 27 and int(first.is_end_site.sum()) == 5
    for m in motions:
        assert m.skeleton.names == first.names and m.skeleton.channels == first.channels
        assert m.fps == pytest.approx(30, rel=1e-4)
        local_rot, local_pos = local_transforms(m)
        assert np.isfinite(local_pos).all() and local_rot.shape == (m.num_frames, 27, 3, 3)
