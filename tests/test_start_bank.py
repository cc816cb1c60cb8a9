"""The start bank: real training windows as the context of built-in paths."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from moglow.checkpoint import load_checkpoint, save_checkpoint
from moglow.paths import make_path
from moglow.sampling import SamplingMeta, sample_path
from moglow.start_bank import StartBank, window_velocity
from sampling_testutils import prepared_procedural, random_model, tiny_model_config

torch.set_num_threads(1)


class _Seq:
    def __init__(self, poses, control, fps=20.0, source="x.bvh"):
        self.poses, self.control, self.fps, self.source = poses, control, fps, source


def _walk_sequences(fps=20.0):
    """Three takes at 0.5, 1.0 and 2.0 m/s forward (one turning at 1 rad/s), poses = frame index."""
    seqs = []
    for k, (speed, turn) in enumerate([(0.5, 0.0), (1.0, 1.0), (2.0, 0.0)]):
        F = 40
        control = np.tile([0.0, speed / fps, turn / fps], (F, 1)).astype(np.float32)
        poses = (np.arange(F)[:, None] + 1000 * k + np.zeros((1, 4))).astype(np.float32)
        seqs.append(_Seq(poses, control, fps, f"/data/take_{k}.bvh"))
    return seqs


def test_windows_are_real_consecutive_frames_after_the_skipped_start():
    seqs = _walk_sequences()
    bank = StartBank.from_sequences(seqs, tau=5, max_windows=10_000, skip_seconds=0.5)
    assert len(bank) == 3 * (40 - 10 - 5 + 1)  # every start after 0.5 s (10 frames)
    first = bank.poses[:, :, 0]
    assert (np.diff(first, axis=1) == 1).all()  # consecutive frames of one take
    assert (first[:, 0] % 1000 >= 10).all()  # nothing from the first 0.5 s
    np.testing.assert_allclose(bank.velocity, window_velocity(bank.control, 20.0))
    assert set(bank.sources) == {"take_0.bvh", "take_1.bvh", "take_2.bvh"}
    small = StartBank.from_sequences(seqs, tau=5, max_windows=7, seed=3)
    assert len(small) == 7 and (np.diff(small.poses[:, :, 0], axis=1) == 1).all()
    with pytest.raises(ValueError, match="no sequence"):
        StartBank.from_sequences(seqs, tau=41)


def test_match_picks_windows_by_velocity():
    bank = StartBank.from_sequences(_walk_sequences(), tau=5)
    take = lambda idx: bank.poses[idx, 0, 0] // 1000  # noqa: E731
    fps = 20.0
    for speed, turn, expect in [(0.4, 0.0, 0), (1.1, 0.9, 1), (1.9, 0.0, 2), (1.0, 0.0, 1)]:
        control = np.tile([0.0, speed / fps, turn / fps], (5, 1))
        idx = bank.match(control, num=4)
        assert (take(idx) == expect).all(), (speed, turn)
        assert len(set(idx.tolist())) == 4  # four different windows
    per_sample = np.stack([np.tile([0.0, v / fps, 0.0], (5, 1)) for v in (2.0, 0.5)])
    assert take(bank.match(per_sample, num=2)).tolist() == [2, 0]
    with pytest.raises(ValueError, match="windows of 5 frames"):
        bank.match(np.zeros((4, 3)), num=1)


def test_bank_round_trips_through_a_weights_only_checkpoint(tmp_path):
    bank = StartBank.from_sequences(_walk_sequences(), tau=5, max_windows=9)
    save_checkpoint({"data": {"start_bank": bank.to_dict()}}, tmp_path / "c.pt")
    back = StartBank.from_dict(load_checkpoint(tmp_path / "c.pt")["data"]["start_bank"])
    for name in ("poses", "control", "velocity"):
        np.testing.assert_array_equal(getattr(back, name), getattr(bank, name))
    assert back.fps == 20.0 and back.sources == bank.sources


def test_sample_path_starts_from_matched_real_windows(tmp_path):
    prepared = prepared_procedural(tmp_path)
    tau = 3
    meta = SamplingMeta.from_prepared(prepared)
    model = random_model(tiny_model_config(tau=tau), prepared.pose_dim, scale=0.02)
    traj = make_path("line:speed=1.2", tau + 20, meta.data_config)
    with pytest.raises(ValueError, match="no start bank"):
        sample_path(model, meta, traj, num=2, start="bank")
    mean = sample_path(model, meta, traj, num=2, temperature=0.0, start="auto")  # no bank: the mean pose
    assert mean.context == "mean pose"
    meta.start_bank = StartBank.from_sequences(prepared.splits["train"], tau)
    smp = sample_path(model, meta, traj, num=2, temperature=0.0)
    assert smp.context.startswith("real training windows")
    assert np.abs(smp.poses - mean.poses).max() > 1e-3  # the context matters
    forced_mean = sample_path(model, meta, traj, num=2, temperature=0.0, start="mean")
    np.testing.assert_array_equal(forced_mean.poses, mean.poses)
    # the generated frames still follow the path: the bank only replaces the context
    np.testing.assert_allclose(smp.control, mean.control)
    idx = meta.start_bank.match(traj.control()[:tau], 2)
    assert np.abs(meta.start_bank.velocity[idx, 1] - 1.2).max() < 0.5  # a real window near the path's speed
    with pytest.raises(ValueError, match="start must be"):
        sample_path(model, meta, traj, start="nope")


def test_trainer_stores_a_bank_of_training_windows(tmp_path):
    from moglow.training_data import start_bank_for

    prepared = prepared_procedural(tmp_path)
    d = start_bank_for(prepared, tau=4)
    bank = StartBank.from_dict(d)
    assert bank.tau == 4 and bank.poses.shape[2] == prepared.pose_dim
    train_names = {s.source.rsplit("/", 1)[-1] for s in prepared.splits["train"]}
    assert set(bank.sources) <= train_names  # never validation or test files
    assert start_bank_for(type("N", (), {"normalised": True, "splits": prepared.splits})(), tau=4) is None
