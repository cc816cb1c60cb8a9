"""Issue 17's additions: CPU-time budget, FID-LeNet logged during training, GAN stabilisers
(R1, instance noise, several D steps) and the NLL-vs-GAN study script's equal-steps /
equal-CPU-time bookkeeping (tiny models, 8×8 digits)."""
from __future__ import annotations

import json
import math

import pytest
import torch

from baselines.images.data import load_images
from baselines.images.experiment import fid_probe
from baselines.images.fid import FIDLeNet
from baselines.images.gan import Discriminator, discriminator_loss
from baselines.images.model import ImageFlow, ImageFlowConfig
from baselines.images.train import TrainConfig, adversarial_d_loss, train_image_flow


@pytest.fixture(scope="module")
def digits():
    return load_images("digits", 0.2, seed=0)


@pytest.fixture(scope="module")
def fid(digits):
    return FIDLeNet.train_on(digits.train, digits.train_labels, digits.levels, epochs=1, seed=0)


def _tiny(seed=0):
    torch.manual_seed(seed)
    return ImageFlow(ImageFlowConfig(shape=(1, 8, 8), levels=17, size="tiny", scales=2))


def test_cpu_budget_stops_early_and_evaluates_the_stopping_step(digits):
    hist = train_image_flow(_tiny(), digits.train, digits.test,
                            TrainConfig(steps=10_000, batch_size=16, eval_every=1000, eval_size=20),
                            progress=False, max_cpu_seconds=0.3)
    last = hist[-1]
    assert 0 < last["step"] < 10_000
    assert last["cpu_seconds"] >= 0.3 and last["cpu_seconds"] < 5.0
    assert hist[0]["cpu_seconds"] == 0.0


def test_fid_probe_is_logged_and_leaves_training_unchanged(digits, fid):
    cfg = TrainConfig(steps=2, batch_size=16, eval_every=1, eval_size=20)
    a, b = _tiny(seed=3), _tiny(seed=3)
    train_image_flow(a, digits.train, digits.test, cfg, progress=False)
    probe = fid_probe(fid, digits.test[:100], n_samples=40, seed=0)
    hist = train_image_flow(b, digits.train, digits.test, cfg, progress=False, extra_eval=probe)
    assert [e["step"] for e in hist] == [0, 1, 2]
    assert all(math.isfinite(e["fid_lenet"]) and e["fid_lenet"] > 0 for e in hist)
    for (k, va), vb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(va, vb), k
    assert probe(b)["fid_lenet"] == pytest.approx(hist[-1]["fid_lenet"], rel=1e-9)  # same seeded latents
    assert b.training  # the probe restores the training mode


def test_adversarial_d_loss_defaults_equal_plain_loss_and_r1_adds_a_positive_penalty():
    torch.manual_seed(0)
    d = Discriminator((1, 8, 8), width=8)
    real, fake = torch.rand(8, 1, 8, 8), torch.rand(8, 1, 8, 8)
    g = torch.Generator().manual_seed(0)
    plain = discriminator_loss(d(real), d(fake))
    assert adversarial_d_loss(d, real, fake, TrainConfig(paradigm="gan"), g).item() == pytest.approx(plain.item())
    with_r1 = adversarial_d_loss(d, real, fake, TrainConfig(paradigm="gan", r1_weight=10.0), g)
    assert with_r1.item() > plain.item() + 1e-6
    with_r1.backward()  # the penalty is differentiable w.r.t. the discriminator
    assert all(p.grad is not None for p in d.parameters())
    noisy = adversarial_d_loss(d, real, fake, TrainConfig(paradigm="gan", instance_noise=0.5), g)
    assert noisy.item() != pytest.approx(plain.item())


def test_stabilised_gan_trains_and_resumes_its_cpu_clock(digits, tmp_path):
    cfg = TrainConfig(paradigm="gan", steps=1, batch_size=8, eval_every=1, eval_size=20, disc_steps=2,
                      r1_weight=1.0, instance_noise=0.1, beta1=0.0, disc_beta1=0.0, disc_width=8)
    ckpt = tmp_path / "c.pt"
    h1 = train_image_flow(_tiny(), digits.train, digits.test, cfg, checkpoint=ckpt, progress=False)
    h2 = train_image_flow(_tiny(), digits.train, digits.test, TrainConfig(**{**vars(cfg), "steps": 2}),
                          checkpoint=ckpt, progress=False)
    assert h2[-1]["step"] == 2 and h2[-1]["cpu_seconds"] > h1[-1]["cpu_seconds"] > 0
    assert math.isfinite(h2[-1]["d_loss"])
    with pytest.raises(ValueError):
        TrainConfig(paradigm="gan", disc_steps=0)


def test_study_run_has_both_comparison_points_and_reports(digits, fid, tmp_path, monkeypatch):
    from benchmarks import images_nll_gan_study as st

    for k, v in dict(STEPS=4, EVAL_EVERY=2, EVAL_SIZE=20, FID_SAMPLES=30, SCALES=2, BATCH=16).items():
        monkeypatch.setattr(st, k, v)
    folder = st.run_folder(tmp_path, "main", "nll", 0)
    m = st.train_one(folder, st.NLL, 0, digits, fid, steps=4, cpu_seconds=0.4)
    h = m["history"]
    assert st.at_step(h, 4) is not None                       # the equal-steps point
    assert st.at_cpu(h, 0.4) is h[-1] and h[-1]["cpu_seconds"] >= 0.4 and h[-1]["step"] > 4
    assert all(h[i]["cpu_seconds"] < 0.4 for i in range(len(h) - 1))  # it stopped at the crossing
    assert json.loads((folder / "metrics.json").read_text())["steps"] == h[-1]["step"]
    assert st.train_one(folder, st.NLL, 0, digits, fid, steps=4, cpu_seconds=0.4)["steps"] == m["steps"]  # resumed
    doc = tmp_path / "doc.md"
    doc.write_text(f"a\n<!-- {st.MARK} -->\nold\n<!-- /{st.MARK} -->\nb\n")
    monkeypatch.setattr(st, "SEEDS", [0])
    st.main(["report", "--out", str(tmp_path), "--doc", str(doc), "--figure", str(tmp_path / "fig.png")])
    assert (tmp_path / "fig.png").stat().st_size > 1000
    text = doc.read_text()
    assert "old" not in text and "| nll | 1 |" in text and text.endswith(f"<!-- /{st.MARK} -->\nb\n")
    assert st.fmt([1.0, 3.0]) == "2.0 ± 1.4" and st.fmt([]) == "–"


def test_curve_band_averages_common_steps_and_interpolates_cpu_time():
    from benchmarks import images_nll_gan_study as st

    h1 = [{"step": 0, "cpu_seconds": 0.0, "fid_lenet": 10.0}, {"step": 2, "cpu_seconds": 1.0, "fid_lenet": 6.0},
          {"step": 4, "cpu_seconds": 2.0, "fid_lenet": 2.0}]
    h2 = [{"step": 0, "cpu_seconds": 0.0, "fid_lenet": 20.0}, {"step": 2, "cpu_seconds": 2.0, "fid_lenet": 10.0}]
    x, mu, sd = st.curve_band([h1, h2], "step")
    assert x == [0, 2] and mu == pytest.approx([15.0, 8.0]) and sd == pytest.approx([50**0.5, 8**0.5])
    x, mu, _ = st.curve_band([h1, h2], "cpu_seconds", [0.0, 1.0, 2.0, 3.0])
    assert x == [0.0, 1.0, 2.0] and mu == pytest.approx([15.0, 10.5, 6.0])  # h2 at 1 s: 15 (interpolated)
    assert st.curve_band([h1], "step")[2] == [0.0, 0.0, 0.0]


def test_cli_train_with_gan_options_cpu_budget_and_fid_log(fid, tmp_path, capsys):
    from moglow.cli import main

    fid.save(tmp_path / "fid.pt")
    out = tmp_path / "run"
    assert main(["images", "train", "--data", "digits", "--size", "tiny", "--paradigm", "gan", "--steps", "2",
                 "--batch-size", "8", "--eval-every", "1", "--disc-width", "8", "--disc-steps", "2",
                 "--r1-weight", "1", "--instance-noise", "0.05", "--beta1", "0.0", "--cpu-minutes", "5",
                 "--fid-samples", "30", "--fid-classifier", str(tmp_path / "fid.pt"),
                 "--threads", "1", "--out", str(out)]) == 0
    assert "FID-LeNet" in capsys.readouterr().out
    hist = json.loads((out / "history.json").read_text())
    assert [e["step"] for e in hist] == [0, 1, 2] and all("fid_lenet" in e for e in hist)
    train = json.loads((out / "run.json").read_text())["train"]
    assert (train["disc_steps"], train["r1_weight"], train["beta1"]) == (2, 1.0, 0.0)
