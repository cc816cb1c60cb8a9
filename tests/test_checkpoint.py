"""Checkpoints: atomic writes, no NaN ever written, self-contained, loadable anywhere."""
from __future__ import annotations

import random

import numpy as np
import pytest
import torch

import moglow.checkpoint as ckpt_mod
from moglow.checkpoint import (CheckpointError, load_checkpoint, load_model, rng_state, save_checkpoint,
                               set_rng_state)
from moglow.train import Trainer
from train_testutils import SyntheticData, tiny_config

torch.set_num_threads(1)


def _state(value: float = 1.0) -> dict:
    return {"model": {"w": torch.full((3,), value)}, "optimizer": {"state": {}, "param_groups": []}, "step": 1}


def test_save_load_round_trip_leaves_no_temp_files(tmp_path):
    path = save_checkpoint(_state(2.0), tmp_path / "a.pt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.pt"]
    state = load_checkpoint(path)
    assert torch.equal(state["model"]["w"], torch.full((3,), 2.0)) and state["step"] == 1


def test_failed_write_keeps_the_old_checkpoint(tmp_path, monkeypatch):
    path = save_checkpoint(_state(1.0), tmp_path / "latest.pt")

    def broken_save(obj, f):
        f.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(ckpt_mod.torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(_state(5.0), path)
    monkeypatch.undo()
    assert torch.equal(load_checkpoint(path)["model"]["w"], torch.full((3,), 1.0))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latest.pt"]


@pytest.mark.parametrize("where", ["model", "optimizer"])
def test_non_finite_values_are_never_written(tmp_path, where):
    state = _state(1.0)
    if where == "model":
        state["model"]["w"][1] = float("nan")
    else:
        state["optimizer"]["state"] = {0: {"exp_avg": torch.tensor([float("inf")])}}
    with pytest.raises(CheckpointError, match=where):
        save_checkpoint(state, tmp_path / "x.pt")
    assert not any(tmp_path.iterdir())


def test_not_a_checkpoint_is_a_clear_error(tmp_path):
    (tmp_path / "junk.pt").write_bytes(b"not a torch file")
    with pytest.raises(CheckpointError, match="junk.pt"):
        load_checkpoint(tmp_path / "junk.pt")
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "missing.pt")


def test_rng_states_round_trip():
    random.seed(1), np.random.seed(1), torch.manual_seed(1)
    saved = rng_state()
    first = (random.random(), np.random.rand(), torch.rand(1).item())
    set_rng_state(saved)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == first


def test_trainer_checkpoint_is_self_contained_and_loads_on_another_device(tmp_path):
    data = SyntheticData()
    trainer = Trainer(tiny_config(steps=4), data, tmp_path, progress=False)
    trainer.fit()
    ckpt = load_checkpoint(tmp_path / "latest.pt")
    for key in ("config", "model", "optimizer", "scheduler", "step", "rng", "sampler", "data", "trainer"):
        assert key in ckpt, key
    assert {"python", "numpy", "torch", "cuda"} <= set(ckpt["rng"])
    assert ckpt["data"]["data_hash"] == data.data_hash and ckpt["data"]["pose_dim"] == data.pose_dim
    assert ckpt["optimizer"]["state"]  # Adam moments are there
    # weights_only loading works (plain data + tensors only)
    torch.load(tmp_path / "latest.pt", weights_only=True)
    # the model rebuilt from the file alone gives the trainer's log-likelihoods; map_location moves tensors
    model, _ = load_model(tmp_path, map_location="cpu")
    batch = trainer._collate([trainer.val_ds[i] for i in range(4)])
    trainer.model.eval()
    with torch.no_grad():
        assert torch.allclose(model.log_prob(batch), trainer.model.log_prob(batch))
    meta = load_checkpoint(tmp_path / "latest.pt", map_location="meta")
    assert next(iter(meta["model"].values())).device.type == "meta"
    if torch.cuda.is_available():
        on_gpu = load_checkpoint(tmp_path / "latest.pt", map_location="cuda")
        assert next(iter(on_gpu["model"].values())).is_cuda


def test_resuming_on_different_data_is_refused(tmp_path):
    Trainer(tiny_config(steps=2), SyntheticData(seed=0), tmp_path, progress=False).fit()
    other = SyntheticData(seed=1)
    with pytest.raises(CheckpointError, match="different data"):
        Trainer(tiny_config(steps=4), other, tmp_path, progress=False).fit(resume_from=tmp_path)


@pytest.mark.parametrize("where", ["data.scaler.std", "data.start_bank.poses", "data.control_scaler.mean",
                                   "trainer.best_val"])
def test_no_nan_anywhere_in_a_checkpoint(tmp_path, where):
    """Every tensor, array and number is checked, not only model and optimiser (``tau: 0`` once
    wrote NaN into the start bank)."""
    state = _state(1.0)
    state["data"] = {"scaler": {"mean": [0.0, 1.0], "std": [1.0, 2.0]},
                     "control_scaler": {"mean": np.zeros(3), "std": np.ones(3)},
                     "start_bank": {"poses": torch.zeros(4, 3, 2), "sources": ["a", "b"]}}
    state["trainer"] = {"best_val": 1.5, "rng": [1, 2, 3]}
    save_checkpoint(state, tmp_path / "fine.pt")  # all finite: written
    if where == "data.scaler.std":
        state["data"]["scaler"]["std"][1] = float("nan")
    elif where == "data.start_bank.poses":
        state["data"]["start_bank"]["poses"][2, 1, 0] = float("nan")
    elif where == "data.control_scaler.mean":
        state["data"]["control_scaler"]["mean"][0] = np.inf
    else:
        state["trainer"]["best_val"] = float("nan")
    with pytest.raises(CheckpointError, match=where.replace(".", r"\.")):
        save_checkpoint(state, tmp_path / "x.pt")
    assert not (tmp_path / "x.pt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fine.pt"]


def test_resume_removes_temporaries_of_an_interrupted_write(tmp_path):
    """A kill during a checkpoint write leaves ``.latest.pt.*.tmp``; resuming removes them."""
    data = SyntheticData()
    Trainer(tiny_config(steps=6), data, tmp_path, progress=False).fit()
    stale = [tmp_path / ".latest.pt.k1l2m3.tmp", tmp_path / ".best.pt.x9y8z7.tmp"]
    for p in stale:
        p.write_bytes(b"half a checkpoint")
    keep = tmp_path / ".notes.tmp"
    keep.write_text("not ours")
    Trainer(tiny_config(steps=8), data, tmp_path, progress=False).fit(resume_from=tmp_path)
    assert not any(p.exists() for p in stale)
    assert keep.exists() and load_checkpoint(tmp_path / "latest.pt")["step"] == 8


def test_configs_stored_by_older_versions_still_load(tmp_path):
    """A checkpoint written before a config key was retired (train.inject_nan_at) still loads; a
    config file naming it is still an error."""
    import yaml

    from data_pipeline.typed_config import ConfigError
    from moglow.config import experiment_from_dict, experiment_to_dict, load_experiment

    stored = experiment_to_dict(tiny_config())
    stored["train"]["inject_nan_at"] = []
    assert experiment_from_dict(stored) == tiny_config()
    (tmp_path / "old.yaml").write_text(yaml.safe_dump(stored))
    with pytest.raises(ConfigError, match="inject_nan_at"):
        load_experiment(tmp_path / "old.yaml")
