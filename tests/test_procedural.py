"""The procedural locomotion generator: determinism, file round trip, and that its gait is a gait."""
from __future__ import annotations

import json

import numpy as np
import pytest

from data_pipeline.bvh import read_bvh
from data_pipeline.bvh_writer import write_bvh
from data_pipeline.kinematics import forward_kinematics
from data_pipeline.procedural import generate_dataset, generate_take, load_path
from data_pipeline.procedural_skeleton import STANDING_HIPS_HEIGHT, procedural_skeleton
from data_pipeline.styles import parse_labels

FPS = 60.0
JOINTS = ["Hips", "Spine", "Chest", "Neck", "Head", "Shoulder_L", "UpperArm_L", "LowerArm_L", "Hand_L",
          "Shoulder_R", "UpperArm_R", "LowerArm_R", "Hand_R", "UpperLeg_L", "LowerLeg_L", "Foot_L", "Toes_L",
          "UpperLeg_R", "LowerLeg_R", "Foot_R", "Toes_R"]


@pytest.fixture(scope="module")
def takes(tmp_path_factory):
    """kind -> (motion read back from its BVH file, known path, world positions (F, J, 3) cm)."""
    folder = tmp_path_factory.mktemp("procedural")
    out = {}
    for kind, seed in (("walk", 3), ("run", 6), ("mixed", 9)):
        motion, known = generate_take(seed, 20.0, FPS, kind)
        write_bvh(motion, folder / f"{kind}.bvh")
        back = read_bvh(folder / f"{kind}.bvh")
        out[kind] = (back, known, forward_kinematics(back)[0])
    return out


def _joint(motion, name: str) -> int:
    return motion.skeleton.index(name)


def test_deterministic_under_seed(tmp_path):
    a, pa = generate_take(11, 3.0, FPS, "mixed")
    b, pb = generate_take(11, 3.0, FPS, "mixed")
    c, _ = generate_take(12, 3.0, FPS, "mixed")
    assert np.array_equal(a.values, b.values) and np.array_equal(pa["contact"], pb["contact"])
    assert not np.allclose(a.values, c.values)
    first = generate_dataset(tmp_path / "one", num_takes=2, seconds=1.5, seed=4, progress=False)
    second = generate_dataset(tmp_path / "two", num_takes=2, seconds=1.5, seed=4, progress=False)
    assert [p.name for p in first] == [p.name for p in second]
    assert all(p.read_bytes() == q.read_bytes() for p, q in zip(first, second))


def test_skeleton_and_round_trip(tmp_path):
    motion, _ = generate_take(2, 2.0, FPS, "walk")
    assert motion.num_frames == 120 and motion.frame_time == pytest.approx(1 / FPS)
    write_bvh(motion, tmp_path / "t.bvh")
    back = read_bvh(tmp_path / "t.bvh")
    sk = back.skeleton
    assert [n for n, e in zip(sk.names, sk.is_end_site) if not e] == JOINTS
    end_parents = sorted(sk.names[sk.parents[j]] for j in np.flatnonzero(sk.is_end_site))
    assert end_parents == ["Hand_L", "Hand_R", "Head", "Toes_L", "Toes_R"]
    assert sk.channels[0] == ("Xposition", "Yposition", "Zposition", "Zrotation", "Xrotation", "Yrotation")
    assert all(sk.channels[j] == ("Zrotation", "Xrotation", "Yrotation")
               for j in range(1, sk.num_joints) if not sk.is_end_site[j])
    assert np.allclose(sk.offsets, procedural_skeleton().offsets)
    assert np.abs(back.values - motion.values).max() < 1e-5
    # rest pose: an adult about 175 cm tall, Y up, facing +Z, left hand on +X
    rest = back.skeleton.offsets.copy()
    pos = np.zeros_like(rest)
    for j in range(1, sk.num_joints):
        pos[j] = pos[sk.parents[j]] + rest[j]
    height = pos[sk.index("Head_End"), 1] - pos[sk.index("Toes_L_End"), 1]
    assert 165 < height < 185
    assert pos[sk.index("Hand_L"), 0] > 50 and pos[sk.index("Hand_R"), 0] < -50
    assert pos[sk.index("Toes_L_End"), 2] > pos[sk.index("Foot_L"), 2]


@pytest.mark.parametrize("kind", ["walk", "run", "mixed"])
def test_feet_planted_during_contact_and_lifted_in_swing(takes, kind):
    motion, known, world = takes[kind]
    contact = known["contact"]
    assert contact.shape == (motion.num_frames, 2) and contact.dtype == bool
    for f, side in enumerate("LR"):
        toes = world[:, _joint(motion, f"Toes_{side}")]
        tip = world[:, _joint(motion, f"Toes_{side}_End")]
        down = contact[:, f]
        assert 0.2 < down.mean() < 0.95
        assert toes[down, 1].max() < 3.0 and np.abs(tip[down, 1]).max() < 3.0
        both = down[1:] & down[:-1]
        speed = np.linalg.norm(np.diff(toes[:, [0, 2]], axis=0), axis=-1) * FPS  # cm/s
        assert speed[both].mean() < 10.0 and speed[both].max() < 30.0
        assert toes[~down, 1].mean() > 4.0 and toes[~down, 1].max() > 7.0
        # nothing goes through the floor
        assert world[:, :, 1].min() > -1.0


@pytest.mark.parametrize("kind", ["walk", "run", "mixed"])
def test_root_follows_the_known_path(takes, kind):
    motion, known, world = takes[kind]
    root = world[:, 0]
    assert np.abs(root[:, [0, 2]] - known["root_xz"]).max() < 1e-4  # the file's root is the known path
    assert np.abs(known["root_xz"] - known["path_xz"]).max() < 5.0  # plus a few cm of sway
    assert 80.0 < root[:, 1].min() and root[:, 1].max() < STANDING_HIPS_HEIGHT + 0.5
    # the path's speed and heading describe its own motion
    step = np.diff(known["path_xz"], axis=0)
    assert np.allclose(np.linalg.norm(step, axis=-1) * FPS, known["speed"][:-1], atol=0.5)
    moving = known["speed"][:-1] > 30.0
    direction = np.arctan2(step[:, 0], step[:, 1])
    diff = np.angle(np.exp(1j * (direction - known["heading"][:-1])))
    assert np.abs(diff[moving]).max() < 0.01
    # the body faces along the path: hips' left-right axis is perpendicular to the heading
    hips_axis = world[:, _joint(motion, "UpperLeg_L")] - world[:, _joint(motion, "UpperLeg_R")]
    body_heading = np.arctan2(-hips_axis[:, 2], hips_axis[:, 0])
    assert np.abs(np.angle(np.exp(1j * (body_heading - known["heading"])))).max() < np.radians(15)


def test_bone_lengths_are_constant(takes):
    motion, _, world = takes["mixed"]
    sk = motion.skeleton
    lengths = np.linalg.norm(world[:, 1:] - world[:, sk.parents[1:]], axis=-1)
    assert np.abs(lengths - np.linalg.norm(sk.offsets[1:], axis=-1)).max() < 1e-3


def test_gait_looks_like_gait(takes):
    # walking: left and right feet anti-phased, a double-support phase, never airborne
    motion, known, world = takes["walk"]
    walking = (known["speed"] > 60) & (known["speed"] < 185)
    assert walking.sum() > 300
    heights = world[:, [_joint(motion, "Toes_L"), _joint(motion, "Toes_R")], 1]
    assert np.corrcoef(heights[walking].T)[0, 1] < -0.2
    contact = known["contact"]
    assert contact[walking].all(axis=1).mean() > 0.05
    assert contact[walking].any(axis=1).all()
    # running: anti-phased, with a flight phase and no double support
    motion, known, world = takes["run"]
    running = known["speed"] > 280
    assert running.sum() > 300
    heights = world[:, [_joint(motion, "Toes_L"), _joint(motion, "Toes_R")], 1]
    assert np.corrcoef(heights[running].T)[0, 1] < -0.2
    contact = known["contact"]
    assert (~contact[running].any(axis=1)).mean() > 0.1
    assert contact[running].all(axis=1).mean() < 0.02
    # the arms swing against the legs: left hand forward while the right foot is forward
    fwd = np.stack([np.sin(known["heading"]), np.cos(known["heading"])], -1)
    rel = lambda name: np.sum((world[:, _joint(motion, name)][:, [0, 2]] - world[:, 0][:, [0, 2]]) * fwd, -1)
    feet = rel("Foot_R") - rel("Foot_L")
    hands = rel("Hand_L") - rel("Hand_R")
    assert np.corrcoef(feet[running], hands[running])[0, 1] > 0.5


def test_stops_stand_on_both_feet():
    for seed in range(20):
        motion, known = generate_take(seed, 20.0, FPS, "walk")
        still = known["speed"] == 0.0
        if still.sum() > 2 * FPS:
            break
    else:
        pytest.fail("no take with a stop among 20 walking takes")
    world = forward_kinematics(motion)[0]
    # once the path has been still for a second, the character stands on both feet, not moving
    settled = np.convolve(still, np.ones(int(FPS)), mode="full")[:len(still)] >= FPS
    assert settled.sum() > 10
    assert known["contact"][settled].all()
    assert np.abs(np.diff(world[:, 0], axis=0)[settled[1:]]).max() < 1.0


def test_dataset_files_and_labels(tmp_path):
    paths = generate_dataset(tmp_path, num_takes=4, seconds=1.0, seed=1, fps=30.0, progress=False)
    assert [p.name for p in paths] == ["procedural_walk_relaxed_000.bvh", "procedural_mixed_brisk_001.bvh",
                                       "procedural_run_heavy_002.bvh", "procedural_mixed_relaxed_003.bvh"]
    labels = parse_labels(paths[2].name.removesuffix(".bvh"), "procedural_{content}_{style}_{id}")
    assert labels == {"content": "run", "style": "heavy", "id": "002"}
    motion = read_bvh(paths[1])
    assert motion.num_frames == 30 and motion.fps == pytest.approx(30.0, rel=1e-6)
    known = load_path(paths[1].with_name(paths[1].stem + ".path.json"))
    assert known["root_xz"].shape == (30, 2) and known["contact"].dtype == bool
    assert known["kind"] == "mixed" and known["style"] == "brisk" and known["fps"] == 30.0
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["seed"] == 1 and manifest["files"] == [p.name for p in paths]


def test_bad_arguments():
    with pytest.raises(ValueError, match="kind"):
        generate_take(0, 1.0, FPS, "jog")
    with pytest.raises(ValueError, match="style"):
        generate_take(0, 1.0, FPS, "walk", style="sleepy")
    with pytest.raises(ValueError, match="positive"):
        generate_take(0, 0.0, FPS)


def test_cli_writes_a_dataset(tmp_path, capsys):
    from moglow.cli import main

    rc = main(["generate-data", "--out", str(tmp_path / "d"), "--takes", "2", "--seconds", "1",
               "--seed", "3", "--fps", "30", "--no-progress"])
    assert rc == 0
    assert len(sorted((tmp_path / "d").glob("*.bvh"))) == 2 and len(sorted((tmp_path / "d").glob("*.path.json"))) == 2
    assert "wrote 2 takes" in capsys.readouterr().out
    first = sorted((tmp_path / "d").glob("*.bvh"))[0]
    first.write_text("the user's take")
    rc = main(["generate-data", "--out", str(tmp_path / "d"), "--takes", "2", "--seconds", "1", "--no-progress"])
    assert rc == 1 and "exists" in capsys.readouterr().err and first.read_text() == "the user's take"
    assert main(["generate-data", "--out", str(tmp_path / "d"), "--takes", "2", "--seconds", "1", "--no-progress",
                 "--force"]) == 0
    assert first.read_text().startswith("HIERARCHY")
    assert main(["generate-data", "--out", str(tmp_path / "f"), "--seconds", "1e9"]) == 1
    assert "--seconds must be between 0.1 and 3600" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["generate-data", "--out", str(tmp_path / "e"), "--kinds", "walk,jog"])
