"""Image Real NVP: training (NLL, GAN, hybrid, resume), FID-LeNet, teacher/students, grids
and the ``moglow images`` command (tiny models, 8×8 digits)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from baselines.images.data import load_images, uniform_noise_images
from baselines.images.fid import FIDLeNet, frechet_from_features
from baselines.images.gan import Discriminator, discriminator_loss, generator_loss
from baselines.images.grids import save_grid
from baselines.images.model import ImageFlow, ImageFlowConfig, evaluate_bits_u
from baselines.images.teacher import entropy_bits, freeze, sample_with_density, student_configs
from baselines.images.train import TrainConfig, load_checkpoint_model, train_image_flow


@pytest.fixture(scope="module")
def digits():
    return load_images("digits", 0.2, seed=0)


def _tiny(seed=0, **kw):
    torch.manual_seed(seed)
    return ImageFlow(ImageFlowConfig(shape=(1, 8, 8), levels=17, size="tiny", scales=2, **kw))


# ---------------------------------------------------------------- FID-LeNet


def test_frechet_identical_sets_zero_and_gaussians_closed_form():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(2000, 5))
    assert frechet_from_features(a, a) < 1e-8
    # N(m1, diag s1²) vs N(m2, diag s2²): d² = |m1 - m2|² + Σ (s1 - s2)²
    m1, m2 = np.array([0, 1, 2, 0, 0.]), np.array([1, 1, 0, 0, 3.])
    s1, s2 = np.array([1, 2, 1, 0.5, 1.]), np.array([1, 1, 3, 0.5, 2.])
    x = m1 + s1 * rng.normal(size=(200000, 5))
    y = m2 + s2 * rng.normal(size=(200000, 5))
    expected = np.sum((m1 - m2) ** 2) + np.sum((s1 - s2) ** 2)
    assert abs(frechet_from_features(x, y) - expected) < 0.05 * expected


def test_fid_lenet_separates_real_from_noise(digits, tmp_path):
    fid = FIDLeNet.train_on(digits.train, digits.train_labels, digits.levels, epochs=2, seed=0)
    assert fid.accuracy(digits.test, digits.test_labels) > 0.8
    n = len(digits.test)
    floor = fid.distance(digits.train[:n], digits.test)
    noise = fid.distance(uniform_noise_images(n, (1, 8, 8), 17, seed=0), digits.test)
    assert fid.distance(digits.test, digits.test) < 1e-6
    assert noise > 10 * floor
    fid.save(tmp_path / "c.pt")
    assert FIDLeNet.load(tmp_path / "c.pt").distance(digits.train[:n], digits.test) == pytest.approx(floor, rel=1e-6)


# ---------------------------------------------------------------- training


def test_nll_training_lowers_test_bits(digits):
    model = _tiny()
    hist = train_image_flow(model, digits.train, digits.test,
                            TrainConfig(steps=40, batch_size=64, lr=3e-3, eval_every=40, eval_size=300),
                            progress=False)
    assert hist[0]["step"] == 0 and hist[-1]["step"] == 40
    assert hist[-1]["test_bpd"] < hist[0]["test_bpd"] - 0.5
    assert 1.0 < hist[-1]["test_bpd"] < math.log2(17)


def test_resumed_run_equals_uninterrupted_run(digits, tmp_path):
    cfg = TrainConfig(steps=6, batch_size=16, eval_every=3, eval_size=50, checkpoint_every=3)
    a = _tiny(seed=1)
    train_image_flow(a, digits.train, digits.test, cfg, progress=False)
    b = _tiny(seed=1)
    ckpt = tmp_path / "run" / "checkpoint.pt"
    train_image_flow(b, digits.train, digits.test, TrainConfig(**{**vars(cfg), "steps": 3}), checkpoint=ckpt,
                     progress=False)
    c = _tiny(seed=5)  # different init: everything must come from the checkpoint
    hist = train_image_flow(c, digits.train, digits.test, cfg, checkpoint=ckpt, progress=False)
    assert [e["step"] for e in hist] == [0, 3, 6]
    for (n, p), q in zip(a.state_dict().items(), c.state_dict().values()):
        assert torch.allclose(p.float(), q.float(), atol=1e-6), n
    assert torch.equal(load_checkpoint_model(ckpt).state_dict()["flow.parts.1.net.input.weight"],
                       c.state_dict()["flow.parts.1.net.input.weight"])


@pytest.mark.parametrize("paradigm", ["gan", "hybrid"])
def test_adversarial_steps_move_the_generator(digits, paradigm):
    model = _tiny()
    before = [p.detach().clone() for p in model.parameters()]
    hist = train_image_flow(model, digits.train, digits.test,
                            TrainConfig(paradigm=paradigm, steps=3, batch_size=16, eval_every=3, eval_size=50,
                                        lr=1e-3, disc_warmup=2, disc_width=8), progress=False)
    moved = sum(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
    assert moved > len(before) // 2
    assert math.isfinite(hist[-1]["d_loss"]) and math.isfinite(hist[-1]["g_loss"])


def test_gan_losses():
    z = torch.zeros(7)
    assert discriminator_loss(z, z).item() == pytest.approx(2 * math.log(2))
    assert generator_loss(z).item() == pytest.approx(math.log(2))
    # the non-saturating loss keeps a gradient where the discriminator is confident
    d = torch.full((3,), -8.0, requires_grad=True)
    generator_loss(d).backward()
    assert d.grad.abs().min() > 0.3 / 3
    assert Discriminator((1, 8, 8), 4)(torch.rand(2, 1, 8, 8)).shape == (2,)


# ---------------------------------------------------------------- teacher and students


def test_teacher_samples_carry_their_exact_density_and_a_copy_reaches_the_entropy(digits):
    teacher = _tiny(seed=3)
    teacher.initialize(digits.train[:300])
    freeze(teacher)
    assert not any(p.requires_grad for p in teacher.parameters())
    u, bpd, dropped = sample_with_density(teacher, 300, seed=0, batch_size=128)
    assert u.shape == (300, 1, 8, 8) and bpd.shape == (300,) and dropped < 30
    assert torch.allclose(teacher.bits_per_dim_u(u).double(), bpd)
    u2, bpd2, _ = sample_with_density(teacher, 300, seed=0, batch_size=128)
    assert torch.equal(u, u2)  # seeded
    h, se = entropy_bits(bpd)
    # a student identical to the teacher scores exactly the teacher's entropy estimate on these samples
    student = ImageFlow(teacher.cfg)
    student.load_state_dict(teacher.state_dict())
    assert evaluate_bits_u(student, u) == pytest.approx(h, abs=1e-5)
    assert se > 0
    cfgs = student_configs(teacher.cfg)
    assert set(cfgs) == {"well-specified", "smaller", "single-scale", "larger"}
    sizes = {k: ImageFlow(c).num_parameters() for k, c in cfgs.items()}
    assert sizes["smaller"] < sizes["well-specified"] == teacher.num_parameters() < sizes["larger"]


def test_continuous_student_learns_and_never_beats_the_teacher_entropy(digits):
    from moglow.flows.checks import perturb_parameters

    teacher = _tiny(seed=3)
    teacher.initialize(digits.train[:300])
    perturb_parameters(teacher, 0.1, seed=0)  # give the teacher structure the student must learn
    freeze(teacher)
    u, bpd, _ = sample_with_density(teacher, 600, seed=1)
    student = _tiny(seed=4)
    hist = train_image_flow(student, u[:200], u[200:], TrainConfig(steps=30, batch_size=32, lr=3e-3, eval_every=30,
                                                                   eval_size=400), continuous=True, progress=False)
    assert hist[-1]["train_bpd"] < hist[0]["train_bpd"] - 0.05, hist
    h, se = entropy_bits(bpd[200:])
    # cross-entropy >= entropy: no student may beat the teacher on held-out teacher samples
    assert hist[-1]["test_bpd"] > h - 4 * se, (hist[-1]["test_bpd"], h, se)


# ---------------------------------------------------------------- grids and command


def test_save_grid_png(tmp_path):
    import matplotlib.image

    imgs = torch.randint(0, 17, (10, 1, 8, 8))
    p = save_grid(imgs, 17, tmp_path / "g.png", nrow=4, scale=2)
    arr = matplotlib.image.imread(p)
    assert arr.shape[:2] == (2 * (3 * 9 + 1), 2 * (4 * 9 + 1))


def test_cli_train_and_evaluate(tmp_path, capsys):
    from moglow.cli import main

    out = tmp_path / "run"
    assert main(["images", "train", "--data", "digits", "--size", "tiny", "--steps", "4", "--batch-size", "16",
                 "--eval-every", "2", "--out", str(out)]) == 0
    assert (out / "checkpoint.pt").exists() and (out / "history.json").exists()
    assert main(["images", "evaluate", str(out), "--samples", "100", "--fid-epochs", "1",
                 "--fid-classifier", str(tmp_path / "fid.pt")]) == 0
    text = capsys.readouterr().out
    assert "bits/dim" in text and "FID-LeNet" in text
    assert (out / "samples.png").exists() and (out / "metrics.json").exists()


def test_spectral_norm_discriminator_layers_have_unit_spectral_norm():
    from torch import nn

    torch.manual_seed(0)
    x = torch.rand(16, 1, 8, 8)
    for sn in (True, False):
        d = Discriminator((1, 8, 8), width=8, spectral_norm=sn)
        with torch.no_grad():
            for m in d.modules():
                if isinstance(m, (nn.Conv2d, nn.Linear)):
                    w = m.parametrizations.weight.original if sn else m.weight
                    w.mul_(10.0)  # a discriminator that would like large logits
        d.train()
        for _ in range(30):  # power iterations run on forward passes in training mode
            d(x)
        sig = [torch.linalg.matrix_norm(m.weight.detach().reshape(m.weight.shape[0], -1), ord=2).item()
               for m in d.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
        if sn:
            assert max(abs(s - 1.0) for s in sig) < 0.05, sig
        else:
            assert min(sig) > 1.5, sig


def test_draw_images_is_seeded_integer_and_batch_independent():
    from baselines.images.experiment import draw_images

    torch.manual_seed(0)
    model = ImageFlow(ImageFlowConfig(shape=(1, 8, 8), levels=17, size="tiny", scale="sigmoid")).eval()
    a = draw_images(model, 7, seed=3, batch_size=7)
    assert a.shape == (7, 1, 8, 8) and a.dtype == torch.int64
    assert int(a.min()) >= 0 and int(a.max()) < 17
    assert torch.equal(a, draw_images(model, 7, seed=3, batch_size=7))  # same seed, same images
    assert not torch.equal(a, draw_images(model, 7, seed=4, batch_size=7))
    assert draw_images(model, 7, seed=3, batch_size=3).shape == (7, 1, 8, 8)  # a partial last batch
