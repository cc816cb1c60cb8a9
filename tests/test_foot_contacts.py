"""Foot-contact labels (data_pipeline.contacts) and the foot clean-up (data_pipeline.foot_cleanup,
moglow.cleanup): synthetic stepping / gliding / sliding motion and a real Bandai Namco walk."""
from __future__ import annotations

import numpy as np
import pytest

from conftest import BANDAI_NAMCO, require_path
from data_pipeline.bvh import read_bvh
from data_pipeline.config import DataConfig
from data_pipeline.contacts import ContactSpec, contact_scores
from data_pipeline.features import (FeatureDefinition, extract_features, feature_definition, features_to_local,
                                    sequence_world_positions)
from data_pipeline.foot_cleanup import CleanupConfig, StreamingFootCleanup, clean_local_transforms, clean_positions
from data_pipeline.leg_ik import leg_chains, soft_reach, solve_legs, two_bone_ik
from data_pipeline.kinematics import forward_kinematics_local
from data_pipeline.profiles import load_profile
from moglow.evaluation import metrics as M

FPS = 20.0
SPEC = ContactSpec(levels={"ankle": 0.10, "toe": 0.03})


# ============================================================================ labels
def _foot(heights: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """(F, 2, 3): an ankle at ``heights`` and a toe 7 cm lower, both at x = ``xs``."""
    f = len(xs)
    out = np.zeros((f, 2, 3))
    out[:, 0, 0] = out[:, 1, 0] = xs
    out[:, 0, 1] = heights
    out[:, 1, 1] = heights - 0.07
    out[:, 1, 2] = 0.12
    return out


def test_labels_on_synthetic_stepping_and_gliding():
    t = np.arange(80) / FPS
    planted = (t % 1.0) < 0.5                          # 0.5 s down, 0.5 s swing
    swing_phase = np.clip((t % 1.0 - 0.5) / 0.5, 0, 1)
    height = 0.10 + 0.12 * np.sin(np.pi * swing_phase)  # lifts 12 cm in the swing
    step_x = np.floor(t) * 1.0 + np.where(planted, 0.0, swing_phase * 1.0)  # still while planted, 2 m/s swing
    scores = contact_scores(_foot(height, step_x), FPS, SPEC)
    assert scores.shape == (80, 2) and scores.dtype == np.float32
    assert np.all((scores >= 0) & (scores <= 1))
    # away from the phase changes (one frame either side: central differences see the neighbour)
    inner = planted & np.roll(planted, 1) & np.roll(planted, -1)
    air = ~planted & np.roll(~planted, 1) & np.roll(~planted, -1)
    assert (scores[inner] > 0.9).all() and (scores[air] < 0.1).all()
    # gliding: on the floor but moving at 1 m/s is not a contact; standing still is
    glide = contact_scores(_foot(np.full(40, 0.10), np.arange(40) / FPS * 1.0), FPS, SPEC)
    stand = contact_scores(_foot(np.full(40, 0.10), np.zeros(40)), FPS, SPEC)
    assert (glide < 0.05).all() and (stand > 0.95).all()
    # the thresholds are in metres and m/s: 0.5 at exactly the height or the speed limit
    edge = contact_scores(_foot(np.full(5, 0.10 + SPEC.height), np.zeros(5)), FPS, SPEC)
    assert edge[:, 0] == pytest.approx(0.5, abs=0.02)
    with pytest.raises(ValueError, match="contact joints"):
        contact_scores(np.zeros((5, 3, 3)), FPS, SPEC)


@pytest.fixture(scope="module")
def walk():
    root = require_path(BANDAI_NAMCO / "dataset-2", "Bandai Namco mocap (dataset-2)")
    return read_bvh(root / "dataset-2_walk_normal_013.bvh")


def test_labels_on_a_real_walk_both_representations_and_mirror(walk):
    profile = load_profile("bandai_namco")
    out = {}
    for rep in ("positions", "rotations"):
        cfg = DataConfig(representation=rep, contacts=True)
        fdef = feature_definition(walk.skeleton, profile, cfg)
        seq = extract_features(walk, profile, cfg)
        assert fdef.columns[-4:] == [f"contact.{j}" for j in profile.contacts.joints] and fdef.num_contacts == 4
        assert seq.poses.shape[1] == fdef.pose_dim
        out[rep] = fdef.contacts_of(seq.poses)
        # the contact columns change nothing else: the same world positions as without them
        plain_cfg = DataConfig(representation=rep)
        plain = sequence_world_positions(extract_features(walk, profile, plain_cfg),
                                         feature_definition(walk.skeleton, profile, plain_cfg))
        np.testing.assert_allclose(sequence_world_positions(seq, fdef), plain, atol=1e-9)
    np.testing.assert_array_equal(out["positions"], out["rotations"])
    c = out["positions"] > 0.5
    # a walk: each foot joint down 30-70% of the time, some foot joint down almost always
    assert np.all((c.mean(axis=0) > 0.3) & (c.mean(axis=0) < 0.7)), c.mean(axis=0)
    assert c.any(axis=1).mean() > 0.85  # at 20 fps a heel strike is still faster than 0.3 m/s for a frame
    # both feet (ankle and toe) in the air: rare in a walk
    assert (~(c[:, 0] | c[:, 1]) & ~(c[:, 2] | c[:, 3])).mean() < 0.1
    # mirrored take: left labels are the original's right ones (exact mirror of the motion)
    cfg = DataConfig(contacts=True)
    mirrored = feature_definition(walk.skeleton, profile, cfg).contacts_of(
        extract_features(walk, profile, cfg, mirror=True).poses)
    np.testing.assert_allclose(mirrored, out["positions"][:, [2, 3, 0, 1]], atol=1e-4)


def test_old_feature_definitions_have_no_contact_channels(walk):
    fdef = feature_definition(walk.skeleton, "bandai_namco", DataConfig())
    d = fdef.to_dict()
    d.pop("contact_joints"), d.pop("contact_spec")  # a definition saved before contacts existed
    old = FeatureDefinition.from_dict(d)
    assert old.num_contacts == 0 and old.contacts_of(np.zeros((3, old.pose_dim))) is None
    assert old.contact_config() is None
    import dataclasses
    no_contacts = dataclasses.replace(load_profile("bandai_namco"), contacts=None)
    with pytest.raises(ValueError, match="contacts"):
        feature_definition(walk.skeleton, no_contacts, DataConfig(contacts=True))


# ============================================================================ clean-up, synthetic
THIGH, SHIN, FOOT = 0.45, 0.45, 0.15
LEVELS = np.array([0.10, 0.03])


def _leg_motion(frames=60):
    """A hip walking forward at 0.5 m/s, an ankle that slides 0.3 m/s while 'planted' (frames
    10-21) and swings at up to ~1.6 m/s otherwise, dipping below the floor in places."""
    t = np.arange(frames) / FPS
    hip = np.stack([np.zeros(frames), np.full(frames, 0.85), 0.5 * t], -1)
    contact = (np.arange(frames) >= 10) & (np.arange(frames) < 22)
    z0 = hip[10, 2] + 0.15
    ankle_z = np.where(contact, z0 + 0.3 * (t - t[10]), np.nan)
    ankle_z[:10] = z0 - 0.8 * (t[10] - t[:10])
    ankle_z[22:] = ankle_z[21] + 0.8 * (t[22:] - t[21]) + 0.08 * np.sin(4 * np.pi * (t[22:] - t[21]))
    ankle_y = np.where(contact, 0.10, 0.10 + 0.06 * np.abs(np.sin(2 * np.pi * t)) - 0.02)  # dips 2 cm below
    ankle = np.stack([np.full(frames, 0.1), ankle_y, ankle_z], -1)
    knee, ankle = two_bone_ik(hip, hip + [0, -0.4, 0.3], ankle, THIGH, SHIN)
    toe = ankle + [0.0, -0.07, np.sqrt(FOOT ** 2 - 0.07 ** 2)]
    toe[5:8, 1] -= 0.03  # a toe through the floor
    pos = np.stack([hip, knee, ankle, toe], 1)  # (F, 4, 3)
    scores = np.repeat(contact[:, None].astype(float), 2, axis=1)
    return pos, scores, contact


def _chains():
    rest = np.array([[0, 0.9, 0], [0, 0.45, 0], [0, 0, 0], [0, 0, FOOT]])
    return leg_chains(["hip", "knee", "ankle", "toe"], [-1, 0, 1, 2], ["ankle", "toe"], rest)


def test_cleanup_locks_a_sliding_foot_keeps_bones_and_floor_and_does_not_pop():
    pos, scores, contact = _leg_motion()
    chains = _chains()
    assert len(chains) == 1 and chains[0].toe == 3 and chains[0].thigh == pytest.approx(THIGH)
    cfg = CleanupConfig(smooth_s=0.0)
    out = clean_positions(pos, scores, chains, [2, 3], LEVELS, FPS, cfg)
    # the planted ankle and toe stay exactly where the contact began (the raw one slides 0.3 m/s)
    speed = lambda p, j: np.linalg.norm(np.diff(p[:, j][:, [0, 2]], axis=0), axis=-1) * FPS  # noqa: E731
    during = contact[1:] & contact[:-1]
    assert speed(pos, 2)[during].mean() == pytest.approx(0.3, rel=0.05)
    assert speed(out, 2)[during].max() < 1e-9 and speed(out, 3)[during].max() < 1e-9
    # the locking starts where the foot was: no change at all at the first contact frame
    np.testing.assert_allclose(out[10, 2], pos[10, 2], atol=1e-12)
    # bone lengths exactly the leg's; hip untouched
    for a, b, length in ((0, 1, THIGH), (1, 2, SHIN), (2, 3, FOOT)):
        np.testing.assert_allclose(np.linalg.norm(out[:, b] - out[:, a], axis=-1), length, atol=1e-9)
    np.testing.assert_array_equal(out[:, 0], pos[:, 0])
    # never below the floor (the raw ankle dips 2 cm, the raw toe 3 cm)
    assert (pos[:, 2, 1] < LEVELS[0] - 0.01).any() and (pos[:, 3, 1] < LEVELS[1] - 0.01).any()
    assert out[:, 2, 1].min() >= LEVELS[0] - 1e-9 and out[:, 3, 1].min() >= LEVELS[1] - 1e-9
    # no pop: what the clean-up adds to any frame-to-frame step is smaller than the motion's own largest step
    own = np.linalg.norm(np.diff(pos[:, 2:], axis=0), axis=-1)
    added = np.linalg.norm(np.diff(out[:, 2:] - pos[:, 2:], axis=0), axis=-1)
    assert added.max() < own.max(), (added.max(), own.max())
    # the release blends back to the model's motion within blend frames
    n = int(np.ceil(max(cfg.blend_s * FPS, 0.3 * 12 / FPS * FPS / cfg.blend_speed))) + 1
    late = 22 + n
    np.testing.assert_allclose(out[late:, 2, [0, 2]], pos[late:, 2, [0, 2]], atol=1e-9)


def test_soft_reach_is_smooth_short_of_the_straight_leg_and_keeps_the_motions_own_ankle():
    L, soft = THIGH + SHIN, 0.06
    hip, u = np.zeros(3), np.array([0.0, -0.8, 0.6])
    d = np.linspace(0.5, 1.3, 801)
    r = np.linalg.norm(soft_reach(hip, d[:, None] * u, L, soft), axis=-1)
    inside = d <= (1 - soft) * L
    np.testing.assert_allclose(r[inside], d[inside], rtol=0, atol=1e-12)  # untouched below the soft zone
    assert r.max() < L and (np.diff(r) > 0).all()  # always short of the straight leg, monotone
    slope = np.diff(r) / np.diff(d)
    # no kink where the soft zone starts: the slope changes by at most step / w per step (the
    # exponential's curvature), also across d0 (a kink would jump by the whole slope)
    assert np.abs(np.diff(slope)).max() <= 1.01 * (d[1] - d[0]) / (soft * L)
    # a target at (or short of) where the motion itself puts the ankle is kept
    own = 0.99 * L * u
    np.testing.assert_allclose(soft_reach(hip, own, L, soft, own=own), own, atol=1e-12)
    far = np.linalg.norm(soft_reach(hip, 1.2 * L * u, L, soft, own=own))
    assert 0.99 * L - 1e-12 <= far < L


def test_soft_reach_keeps_a_locked_knee_from_snapping_straight():
    """A locked ankle target pulled from 0.85 to 1.1 leg lengths away along the leg: hard IK
    straightens the leg (knee on the hip-ankle line) and the knee travels fast near the end;
    the soft reach keeps it bent and moves it less."""
    L = THIGH + SHIN
    f = 101
    u = np.array([0.0, -0.9, 0.3]) / np.linalg.norm([0.0, -0.9, 0.3])
    hip = np.zeros((f, 3))
    ankle_own = np.broadcast_to(0.85 * L * u, (f, 3))
    knee_own, _ = two_bone_ik(hip, hip + [0.0, -0.4, 0.3], ankle_own, THIGH, SHIN)
    pos = np.stack([hip, knee_own, ankle_own, ankle_own + [0.0, 0.0, FOOT]], 1)
    targets = np.stack([np.linspace(0.85, 1.1, f)[:, None] * L * u, ankle_own + [0.0, 0.0, FOOT]], 1)
    locked = np.tile([True, False], (f, 1))
    chains = _chains()

    def knee_offset(out):  # distance of the knee from the hip-ankle line (0: straight leg)
        a = out[:, 2] - out[:, 0]
        k = out[:, 1] - out[:, 0]
        return np.linalg.norm(np.cross(a, k), axis=-1) / np.linalg.norm(a, axis=-1)

    hard, smooth = (solve_legs(pos, targets, locked, chains, soft=s) for s in (0.0, 0.06))
    assert knee_offset(hard)[-1] < 1e-3 and knee_offset(smooth).min() > 0.02
    path = lambda out: np.linalg.norm(np.diff(out[:, 1], axis=0), axis=-1)  # noqa: E731
    assert path(smooth).max() < 0.5 * path(hard).max()
    for out in (hard, smooth):  # rigid bones either way
        np.testing.assert_allclose(np.linalg.norm(out[:, 1] - out[:, 0], axis=-1), THIGH, atol=1e-9)
        np.testing.assert_allclose(np.linalg.norm(out[:, 2] - out[:, 1], axis=-1), SHIN, atol=1e-9)


def test_streaming_cleanup_equals_offline_and_keeps_state_across_chunks():
    pos, scores, _ = _leg_motion()
    chains, cfg = _chains(), CleanupConfig(smooth_s=0.0)
    offline = clean_positions(np.stack([pos, pos[::-1]]), np.stack([scores, scores[::-1]]), chains, [2, 3],
                              LEVELS, FPS, cfg)
    stream = StreamingFootCleanup(chains, [2, 3], LEVELS, FPS, cfg)
    frames = [stream.step(pos[t], scores[t]) for t in range(len(pos))]
    np.testing.assert_allclose(np.stack(frames), offline[0], atol=1e-12)
    stream.reset()
    again = stream.step(pos[15], scores[15])  # a fresh stream locks where the foot is now
    np.testing.assert_allclose(again[2], pos[15, 2], atol=1e-12)


# ============================================================================ clean-up on a real skeleton
def test_cleanup_on_a_real_take_is_rigid_above_the_floor_and_removes_an_added_slide(walk):
    profile = load_profile("bandai_namco")
    cfg = DataConfig(representation="rotations", contacts=True)
    fdef = feature_definition(walk.skeleton, profile, cfg)
    seq = extract_features(walk, profile, cfg)
    # a slide: the whole body drifts sideways 0.4 m/s while the labels still say planted
    control = seq.control.copy()
    control[1:, 0] += 0.4 / FPS
    rot, pos = features_to_local(seq.poses, control, fdef, seq.root_start, seq.passthrough)
    skel = fdef.source_skeleton()
    idx = [skel.index(n) for n in fdef.file_joints]
    before = forward_kinematics_local(skel, rot, pos)[0][:, idx] * fdef.unit_scale
    rot2, pos2 = clean_local_transforms(skel, rot, pos, fdef.file_joints, fdef.contacts_of(seq.poses),
                                        profile.contacts, fdef.unit_scale, FPS, CleanupConfig(smooth_s=0.0))
    world = forward_kinematics_local(skel, rot2, pos2)[0]
    after = world[:, idx] * fdef.unit_scale
    # rigid: every bone of the whole skeleton keeps the file's OFFSET length
    has = skel.parents >= 0
    has[skel.index(fdef.root)] = False  # the root's translation is the path, not a bone
    lengths = np.linalg.norm(world[:, has] - world[:, skel.parents[has]], axis=-1)
    np.testing.assert_allclose(lengths, np.broadcast_to(np.linalg.norm(skel.offsets[has], axis=-1), lengths.shape),
                               atol=1e-9)
    # only the legs moved
    legs = {j for n in ("UpperLeg", "LowerLeg", "Foot", "Toes") for j in (f"{n}_L", f"{n}_R")}
    others = [i for i, n in enumerate(fdef.file_joints) if n not in legs]
    np.testing.assert_allclose(after[:, others], before[:, others], atol=1e-9)
    feet = [fdef.file_joints.index(n) for n in profile.feet]
    levels = profile.contacts.level_array()
    # (1e-7 m: the legs are re-aimed by angles good to ~1e-8 rad over bones of < 1 m)
    assert (after[:, feet, 1] >= levels - 1e-7).all(), (after[:, feet, 1] - levels).min(axis=0)
    lv = M.foot_levels(before, feet)
    skate = lambda p: M.foot_skating(p, feet, FPS, lv, 0.02, 0.2)["speed_cm_s"].value  # noqa: E731
    take = sequence_world_positions(seq, fdef)
    added = skate(before) - skate(take)  # the slide adds ~30 cm/s to the take's own ~36 (heel strikes, toe-offs)
    assert added > 20.0
    # most of the added slide is gone (the rest: contact samples of the metric outside the labelled contacts)
    assert skate(after) < skate(take) + 0.5 * added, (skate(take), skate(before), skate(after))


def test_streaming_cleanup_for_a_model_layout(walk):
    """The live-page entry point: built from a feature definition; scores from the contact
    channels or, for older layouts, estimated from the last two frames."""
    from moglow.cleanup import streaming_cleanup

    profile = load_profile("bandai_namco")
    cfg = DataConfig(contacts=True)
    fdef = feature_definition(walk.skeleton, profile, cfg)
    seq = extract_features(walk, profile, cfg)
    world = sequence_world_positions(seq, fdef)
    cleaner = streaming_cleanup(fdef, profile)
    frames = np.stack([cleaner.step(world[t], fdef.contacts_of(seq.poses[t])) for t in range(len(world))])
    feet = [fdef.file_joints.index(n) for n in profile.feet]
    assert (frames[:, feet, 1] >= profile.contacts.level_array() - 1e-9).all()
    # a real walk barely changes (its own contacts are where its feet are; a nearly straight knee
    # moves most when its ankle is held a few mm elsewhere)
    assert np.linalg.norm(frames - world, axis=-1).mean() < 0.01 and np.abs(frames - world).max() < 0.1
    plain = feature_definition(walk.skeleton, profile, DataConfig())
    estimating = streaming_cleanup(plain, profile)
    out = np.stack([estimating.step(world[t]) for t in range(len(world))])
    assert np.isfinite(out).all() and np.linalg.norm(out - world, axis=-1).mean() < 0.01


def test_standing_mask_waits_for_the_command_to_stay_still():
    from data_pipeline.foot_cleanup import standing_mask

    control = np.zeros((2, 40, 3))
    control[0, :10, 1] = 1.2 / FPS  # walk 0.5 s, then stand
    control[0, 30:, 2] = np.deg2rad(45) / FPS  # turn on the spot from 1.5 s
    mask = standing_mask(control, FPS, CleanupConfig(stand_delay_s=0.5))
    # the 10th still frame (0.5 s at 20 fps) is the first standing one
    assert not mask[0, :19].any() and mask[0, 19:30].all() and not mask[0, 30:].any()
    assert not mask[1, :9].any() and mask[1, 9:].all()  # still from the start
    assert not standing_mask(control, FPS, CleanupConfig(stand_speed=0.0)).any()
