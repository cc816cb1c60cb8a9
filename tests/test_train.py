"""Training loop: learning, exact resume, validation without dropout, non-finite steps, batch order."""
from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from moglow.batches import StepBatchOrder, dropout_keep_mask, style_dropout
from moglow.config import ConfigError
from moglow.checkpoint import load_checkpoint, non_finite_entries
from moglow.logging_utils import read_csv
from moglow.lr_schedule import LRSchedule
from moglow.train import Trainer, TrainingDiverged
from train_testutils import SyntheticData, inject_nan, tiny_config

torch.set_num_threads(1)


def _losses(rows, column):
    return [(int(r["step"]), r[column]) for r in rows]


def test_loss_goes_down_and_run_folder_is_complete(tmp_path):
    cfg = tiny_config(steps=60, lr=3e-3, val_every=30, log_every=10, plot_every=60, checkpoint_every=30,
                      tensorboard=True)
    result = Trainer(cfg, SyntheticData(), tmp_path, progress=False).fit()
    rows = read_csv(tmp_path / "losses.csv")
    train = [float(r["train_nats_per_frame_dropout"]) for r in rows]
    val = [float(r["val_nats_per_frame"]) for r in rows if r["val_nats_per_frame"]]
    assert [int(r["step"]) for r in rows] == list(range(10, 61, 10))
    assert train[-1] < train[0] - 1.0, train
    assert len(val) == 2 and val[-1] < val[0]
    assert result.best_val_nats == pytest.approx(min(val))
    for r in rows:  # bits are nats / ln 2
        assert float(r["train_bits_per_frame_dropout"]) == pytest.approx(float(r["train_nats_per_frame_dropout"]) / math.log(2))
    for name in ("latest.pt", "best.pt", "config.yaml", "training_curves.png"):
        assert (tmp_path / name).exists(), name
    assert any((tmp_path / "tensorboard").iterdir())
    assert load_checkpoint(tmp_path / "best.pt")["trainer"]["best_val"] == pytest.approx(min(val))
    assert load_checkpoint(tmp_path / "latest.pt")["step"] == 60


@pytest.mark.parametrize("ema_decay", [0.0, 0.9])
def test_resume_repeats_uninterrupted_run_exactly(tmp_path, ema_decay):
    data = SyntheticData()
    straight = tmp_path / "straight"
    Trainer(tiny_config(steps=12, ema_decay=ema_decay), data, straight, progress=False).fit()

    split = tmp_path / "split"
    Trainer(tiny_config(steps=6, ema_decay=ema_decay), data, split, progress=False).fit()
    resumed = Trainer(tiny_config(steps=12, ema_decay=ema_decay), data, split, progress=False)
    resumed.fit(resume_from=split / "latest.pt")

    a, b = read_csv(straight / "losses.csv"), read_csv(split / "losses.csv")
    for col in ("train_nats_per_frame_dropout", "val_nats_per_frame", "grad_norm", "lr"):
        assert _losses(a, col) == _losses(b, col), col
    ca, cb = load_checkpoint(straight / "latest.pt"), load_checkpoint(split / "latest.pt")
    for key in ("model", "trained_weights") if ema_decay else ("model",):
        assert all(torch.equal(ca[key][k], cb[key][k]) for k in ca[key]), key
    if ema_decay:  # the average and the trained weights differ, and both came back on resume
        assert ca["weight_average"] == cb["weight_average"] == {"decay": 0.9, "updates": 12}
        assert any(not torch.equal(ca["model"][k], ca["trained_weights"][k]) for k in ca["model"])


def test_weight_average_is_what_validation_scores_and_checkpoints_hold(tmp_path):
    data = SyntheticData()
    trainer = Trainer(tiny_config(steps=8, ema_decay=0.9, val_every=8), data, tmp_path, progress=False)
    trainer.fit()
    ckpt = load_checkpoint(tmp_path / "latest.pt")
    trained = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    assert all(torch.equal(trained[k], ckpt["trained_weights"][k]) for k in trained)
    val_avg = trainer.validate()
    trainer.average = None  # the same validation of the trained weights scores differently
    val_trained = trainer.validate()
    assert val_avg != val_trained
    assert load_checkpoint(tmp_path / "best.pt")["trainer"]["best_val"] == pytest.approx(val_avg)
    # the averaged weights in "model" are what load_model builds
    from moglow.checkpoint import load_model
    model, _ = load_model(tmp_path / "latest.pt")
    assert all(torch.equal(model.state_dict()[k], ckpt["model"][k]) for k in ckpt["model"])
    with pytest.raises(ConfigError, match="ema_decay"):
        tiny_config(ema_decay=1.0).train.validate()


def test_resume_drops_log_rows_after_the_checkpoint(tmp_path):
    data = SyntheticData()
    Trainer(tiny_config(steps=10, checkpoint_every=6), data, tmp_path, progress=False).fit()
    # pretend the run died at step 10 before writing its last checkpoint: latest.pt is step 6
    ckpt_dir = tmp_path / "ck"
    Trainer(tiny_config(steps=6), data, ckpt_dir, progress=False).fit()
    (tmp_path / "latest.pt").write_bytes((ckpt_dir / "latest.pt").read_bytes())
    Trainer(tiny_config(steps=8), data, tmp_path, progress=False).fit(resume_from=tmp_path)
    steps = [int(r["step"]) for r in read_csv(tmp_path / "losses.csv")]
    assert steps == [2, 4, 6, 8]


def test_validation_ignores_data_dropout(tmp_path):
    data = SyntheticData()
    a = Trainer(tiny_config(data_dropout=0.0), data, tmp_path / "a", progress=False)
    b = Trainer(tiny_config(data_dropout=0.9), data, tmp_path / "b", progress=False)
    a.data_dependent_init()
    with torch.no_grad():  # the couplings' zero-initialised output layers would hide the condition
        for p in a.model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    b.model.load_state_dict(a.model.state_dict())
    assert a.validate() == b.validate()
    # while the training loss does see the dropout
    batch = a._collate([a.train_ds[i] for i in a.order.global_indices(0)])
    with torch.no_grad():
        la = a.model.log_prob(a._with_dropout(batch, 0, 0, 1)).mean()
        lb = b.model.log_prob(b._with_dropout(batch, 0, 0, 1)).mean()
    assert la != lb


def test_single_nan_step_is_skipped_and_counted(tmp_path):
    cfg = tiny_config(steps=8)
    result = inject_nan(Trainer(cfg, SyntheticData(), tmp_path, progress=False), [3]).fit()
    assert result.skipped_steps == 1 and result.rollbacks == 0
    rows = read_csv(tmp_path / "losses.csv")
    assert [r["skipped_steps"] for r in rows] == ["0", "1", "1", "1"]
    assert all(math.isfinite(float(r["train_nats_per_frame_dropout"])) for r in rows)
    assert not non_finite_entries(load_checkpoint(tmp_path / "latest.pt")["model"])


def test_repeated_nan_rolls_back_with_lower_lr(tmp_path):
    cfg = tiny_config(steps=12, checkpoint_every=4, max_consecutive_skips=3)
    trainer = inject_nan(Trainer(cfg, SyntheticData(), tmp_path, progress=False), [5, 6, 7])
    result = trainer.fit()
    # steps 5, 6, 7 fail -> back to latest.pt (step 4) with lr x0.5, then 5.. run cleanly
    assert result.rollbacks == 1 and result.skipped_steps == 3 and result.step == 12
    assert trainer.schedule.scale == 0.5
    ckpt = load_checkpoint(tmp_path / "latest.pt")
    assert not non_finite_entries(ckpt["model"])
    assert ckpt["scheduler"]["scale"] == 0.5
    rows = read_csv(tmp_path / "losses.csv")
    assert [int(r["step"]) for r in rows] == [2, 4, 6, 8, 10, 12]  # the failed attempt's rows are gone
    assert float(rows[-1]["lr"]) == pytest.approx(0.5e-3) and rows[-1]["rollbacks"] == "1"


def test_persistent_nan_stops_with_clear_message(tmp_path):
    cfg = tiny_config(steps=30, max_consecutive_skips=2, max_rollbacks=2)
    with pytest.raises(TrainingDiverged, match="max_rollbacks=2"):
        inject_nan(Trainer(cfg, SyntheticData(), tmp_path, progress=False), list(range(2, 30))).fit()
    assert not non_finite_entries(load_checkpoint(tmp_path / "latest.pt")["model"])


def test_batch_order_is_a_function_of_seed_and_step():
    order = StepBatchOrder(num_items=50, batch_size=8, seed=3)
    epoch0 = [i for s in range(order.steps_per_epoch) for i in order.global_indices(s)]
    assert len(set(epoch0)) == len(epoch0) == 48  # a permutation without repeats
    assert StepBatchOrder(50, 8, 3).global_indices(17) == order.global_indices(17)
    assert StepBatchOrder(50, 8, 4).global_indices(17) != order.global_indices(17)
    assert order.global_indices(0) != order.global_indices(order.steps_per_epoch)  # new epoch, new order
    shards = [order.shard_indices(5, r, 4) for r in range(4)]
    assert sorted(sum(shards, [])) == sorted(order.global_indices(5))
    with pytest.raises(ValueError, match="divisible"):
        order.shard_indices(0, 0, 3)
    small = StepBatchOrder(num_items=3, batch_size=8, seed=0)  # fewer windows than a batch
    assert len(small.global_indices(0)) == 8 and max(small.global_indices(0)) < 3


def test_dropout_masks_rate_and_shards():
    keep = dropout_keep_mask(seed=0, step=7, batch_size=64, seq_len=20, tau=10, p=0.7)
    assert keep.shape == (64, 20, 10) and keep.dtype == torch.bool
    assert abs(1 - keep.float().mean().item() - 0.7) < 0.02
    assert torch.equal(dropout_keep_mask(0, 7, 64, 20, 10, 0.7, rank=1, world_size=2), keep[1::2])
    assert not torch.equal(dropout_keep_mask(0, 8, 64, 20, 10, 0.7), keep)
    assert dropout_keep_mask(0, 7, 4, 5, 3, 0.0).all()


def test_style_dropout_rate_and_shards():
    """Style dropout replaces a window's style by -1 (none) at rate p, the same windows however the
    global batch is sharded, other steps other windows; p = 0 leaves the styles alone."""
    style = torch.arange(4096) % 5
    dropped = style_dropout(style, seed=0, step=7, p=0.25)
    none = dropped == -1
    assert abs(none.float().mean().item() - 0.25) < 0.03  # 4 standard errors at n = 4096
    assert torch.equal(dropped[~none], style[~none])
    assert torch.equal(style_dropout(style[1::2], 0, 7, 0.25, rank=1, world_size=2), dropped[1::2])
    assert not torch.equal(style_dropout(style, 0, 8, 0.25), dropped)
    assert style_dropout(style, 0, 7, 0.0) is style
    with pytest.raises(ConfigError, match="style_dropout"):
        tiny_config(style_dropout=1.0).train.validate()


def test_learning_rate_schedules():
    paper = tiny_config(lr=1e-4, warmup_steps=1000, schedule="constant").train
    s = LRSchedule(paper)
    assert s(0) == pytest.approx(1e-7) and s(499) == pytest.approx(5e-5) and s(999) == pytest.approx(1e-4)
    assert s(150_000) == pytest.approx(1e-4)
    noam = LRSchedule(tiny_config(lr=1e-3, warmup_steps=1000, schedule="noam", min_lr=1e-4).train)
    assert noam(999) == pytest.approx(1e-3)
    assert noam(3999) == pytest.approx(5e-4)  # lr * sqrt(1000 / 4000)
    assert noam(79_999) == pytest.approx(1e-3 * math.sqrt(1000 / 80_000))
    assert noam(99_999) == pytest.approx(1e-4)  # the floor is reached at step 100k
    assert noam(200_000) == pytest.approx(1e-4)


def test_cli_prepares_raw_bvh_trains_and_resumes(tmp_path, bandai_namco_dir):
    """``moglow train`` on a raw BVH folder: prepared into the cache, trained, resumed exactly."""
    import yaml

    from moglow.cli import main

    d = yaml.safe_load((Path(__file__).resolve().parents[1] / "configs" / "tiny_cpu.yaml").read_text())
    d["data"].update(pattern="dataset-2_walk_normal_00[1-6].bvh", mirror=False,
                     split={"val_fraction": 0.2, "test_fraction": 0.0, "seed": 0})
    d["model"].update(num_steps=2, hidden=16)
    d["train"].update(batch_size=8, seq_len=10, val_every=3, val_batches=1, checkpoint_every=3, log_every=1,
                      plot_every=None, tensorboard=False, warmup_steps=2)
    config = tmp_path / "cfg.yaml"
    config.write_text(yaml.safe_dump(d))
    common = ["--data", str(bandai_namco_dir / "dataset-2"), "--cache", str(tmp_path / "cache"), "--no-progress"]
    assert main(["train", "--config", str(config), "--out", str(tmp_path / "a"), "--steps", "6", *common]) == 0
    assert main(["train", "--config", str(config), "--out", str(tmp_path / "b"), "--steps", "3", *common]) == 0
    assert main(["train", "--resume", str(tmp_path / "b"), "--steps", "6", *common]) == 0
    a, b = read_csv(tmp_path / "a" / "losses.csv"), read_csv(tmp_path / "b" / "losses.csv")
    for col in ("train_nats_per_frame_dropout", "val_nats_per_frame"):
        assert _losses(a, col) == _losses(b, col), col
    assert len(list((tmp_path / "cache").iterdir())) == 1  # prepared once, reused
    ckpt = load_checkpoint(tmp_path / "b" / "best.pt")
    assert ckpt["data"]["skeleton"]["names"][0] and ckpt["data"]["feature_def"] and ckpt["data"]["scaler"]["mean"]
    bank = ckpt["data"]["start_bank"]  # real training windows for sampling's context, tau frames each
    assert bank["poses"].shape[1:] == (10, ckpt["data"]["pose_dim"]) and len(bank["sources"]) == len(bank["poses"])


def test_nan_weights_are_never_saved_and_lead_to_a_rollback(tmp_path, monkeypatch):
    cfg = tiny_config(steps=12, checkpoint_every=2, val_every=100, max_consecutive_skips=2)
    trainer = Trainer(cfg, SyntheticData(), tmp_path, progress=False)
    real_step, calls = trainer.optimizer.step, []

    def poisoned_step(*args, **kwargs):  # the 4th update leaves a NaN in the weights
        out = real_step(*args, **kwargs)
        calls.append(1)
        if len(calls) == 4:
            with torch.no_grad():
                next(trainer.model.parameters()).view(-1)[0] = float("nan")
        return out

    monkeypatch.setattr(trainer.optimizer, "step", poisoned_step)
    result = trainer.fit()
    assert result.rollbacks == 1 and result.step == 12
    for name in ("latest.pt", "best.pt"):
        assert not non_finite_entries(load_checkpoint(tmp_path / name)["model"]), name
    assert all(bool(torch.isfinite(p).all()) for p in trainer.model.parameters())


def test_loader_workers_do_not_change_the_losses(tmp_path):
    data = SyntheticData()
    Trainer(tiny_config(steps=4, num_workers=0), data, tmp_path / "w0", progress=False).fit()
    Trainer(tiny_config(steps=4, num_workers=2), data, tmp_path / "w2", progress=False).fit()
    a, b = read_csv(tmp_path / "w0" / "losses.csv"), read_csv(tmp_path / "w2" / "losses.csv")
    assert _losses(a, "train_nats_per_frame_dropout") == _losses(b, "train_nats_per_frame_dropout")


def test_torch_compile_option_trains_to_the_same_losses(tmp_path):
    """``train.compile: true`` wraps the loss in torch.compile (inductor on the CPU here): same
    losses as eager up to float32 rounding of the fused kernels. The one compile test of the suite:
    two steps of short windows, since inductor's cold start (~20 s on 2 cores) dominates."""
    rows = {}
    for c in (False, True):
        cfg = tiny_config(steps=2, seq_len=4, log_every=1, val_every=2, checkpoint_every=2, val_batches=1, compile=c)
        Trainer(cfg, SyntheticData(), tmp_path / str(c), progress=False).fit()
        rows[c] = read_csv(tmp_path / str(c) / "losses.csv")
    assert [r["step"] for r in rows[True]] == [r["step"] for r in rows[False]] == ["1", "2"]
    # Step 1 runs both on the same parameters: the loss and its gradient agree up to float32 rounding
    # of the fused kernels (u = 6e-8 per operation, a few hundred deep: well inside 1e-5 relative).
    first = {c: rows[c][0] for c in rows}
    for column in ("train_nats_per_frame_dropout", "grad_norm"):
        assert float(first[True][column]) == pytest.approx(float(first[False][column]), rel=1e-5), column
    # Adam's first update is ~lr * sign(gradient) per parameter, so a gradient component that rounding
    # flips moves its parameter by up to 2 lr: after one step the runs differ at the 1e-3 level, no more.
    second = {c: float(rows[c][1]["train_nats_per_frame_dropout"]) for c in rows}
    assert second[True] == pytest.approx(second[False], rel=1e-2)


def test_a_nan_validation_never_becomes_best(tmp_path, monkeypatch):
    """A NaN first validation once became best.pt forever (nothing is < NaN)."""
    cfg = tiny_config(steps=12, val_every=3, checkpoint_every=3)
    trainer = Trainer(cfg, SyntheticData(), tmp_path, progress=False)
    values = iter([float("nan"), 5.0, float("nan"), 4.0])
    monkeypatch.setattr(trainer, "validate", lambda: next(values))
    result = trainer.fit()
    assert result.best_val_nats == 4.0
    best = load_checkpoint(tmp_path / "best.pt")
    assert best["step"] == 12 and best["trainer"]["best_val"] == 4.0
    assert load_checkpoint(tmp_path / "latest.pt")["trainer"]["last_val"] == 4.0


def test_a_nan_first_validation_writes_no_best(tmp_path, monkeypatch):
    trainer = Trainer(tiny_config(steps=6, val_every=3), SyntheticData(), tmp_path, progress=False)
    monkeypatch.setattr(trainer, "validate", lambda: float("nan"))
    assert trainer.fit().best_val_nats is None
    assert not (tmp_path / "best.pt").exists()  # sample/evaluate fall back to latest.pt


def test_rollback_goes_to_the_checkpoint_before_the_first_bad_step(tmp_path, capsys):
    """latest.pt is not rewritten during a streak of non-finite steps (steps 5-9 here, with a
    checkpoint due at 6 and 8): the rollback returns to step 4, before the streak began."""
    cfg = tiny_config(steps=14, checkpoint_every=2, val_every=100, max_consecutive_skips=5)
    result = inject_nan(Trainer(cfg, SyntheticData(), tmp_path, progress=False), [5, 6, 7, 8, 9]).fit()
    assert result.rollbacks == 1 and result.step == 14
    assert "rolled back to step 4 (latest.pt)" in capsys.readouterr().err
    assert load_checkpoint(tmp_path / "latest.pt")["step"] == 14
