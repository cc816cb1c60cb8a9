"""PAAF, Leaky ReLU, the shared-weight flow and the augmentation wrapper pass the
toolkit's bijection contract, plus their own properties."""
from __future__ import annotations

import math

import pytest
import torch

from baselines.toy.augment import Augmentation
from baselines.toy.paaf import PAAF, LeakyReLU
from baselines.toy.shared import SharedWeightFlow, Shift, shared_inn, shared_step
from moglow.flows.checks import check_bijection
from moglow.flows.glow import glow_flow


def _x(*shape, scale=2.0, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * scale


@pytest.mark.parametrize("init", ["fixed", "data"])
@pytest.mark.parametrize("m", [1, 2, 8])
def test_paaf_contract(init, m):
    check_bijection(lambda: PAAF(3, m, init=init).double(), _x(5, 3, scale=3.0))


def test_paaf_contract_on_sequences():
    check_bijection(lambda: PAAF(2, 4, init="data").double(), _x(3, 4, 2))


def test_leaky_relu_contract():
    check_bijection(lambda: LeakyReLU(0.3).double(), _x(5, 3), check_params=False)


@pytest.mark.parametrize("activation", ["leaky", "paaf"])
@pytest.mark.parametrize("normalize", [False, True])
def test_shared_weight_flow_contract(activation, normalize):
    torch.manual_seed(0)
    check_bijection(lambda: shared_inn(3, num_steps=4, activation=activation, normalize=normalize,
                                       paaf_init="data").double(), _x(5, 3))


def test_shift_contract():
    check_bijection(lambda: Shift(3).double(), _x(4, 3))


def test_augmentation_contract():
    torch.manual_seed(0)
    make = lambda: Augmentation(glow_flow(4, 2, net="mlp", hidden=8, num_layers=1), 2, 2, noise_std=0.5).double()
    check_bijection(make, _x(5, 4))


def test_shared_flow_reuses_one_step():
    """K applications of one step: as many parameters as one step, same map as applying it K times."""
    torch.manual_seed(0)
    step = shared_step(2, activation="paaf", paaf_init="fixed")
    flow = SharedWeightFlow(step, 5)
    assert sum(p.numel() for p in flow.parameters()) == sum(p.numel() for p in step.parameters())
    x = torch.randn(7, 2)
    y, total = x, 0
    for _ in range(5):
        y, ld = step(y)
        total = total + ld
    z, logdet = flow(x)
    assert torch.allclose(z, y) and torch.allclose(logdet, total)


def test_paaf_generalises_leaky_relu():
    """One breakpoint at 0 with slopes (α, 1) is exactly Leaky ReLU, log-det included."""
    act = PAAF(2, num_breakpoints=1, init="fixed", span=(0.0, 0.0), leaky_init=0.2).double()
    ref = LeakyReLU(0.2).double()
    x = _x(100, 2)
    (z, ld), (z_ref, ld_ref) = act(x), ref(x)
    assert torch.allclose(z, z_ref) and torch.allclose(ld, ld_ref)


def test_paaf_monotone_continuous_and_identity_at_init():
    act = PAAF(1, num_breakpoints=6, init="fixed").double()
    x = torch.linspace(-5, 5, 2001, dtype=torch.float64)[:, None]
    assert torch.allclose(act(x)[0], x)  # identity before training
    with torch.no_grad():
        act.log_slopes.copy_(torch.tensor([[-1.0, 0.5, -0.3, 1.2, 0.0, -2.0, 0.7]]))
        act.offset.fill_(0.3)
    y, logdet = act(x)
    dy = y[1:, 0] - y[:-1, 0]
    assert (dy > 0).all()  # monotone
    assert dy.max() < 10 * 0.005 * math.exp(1.2)  # no jumps: continuous
    b, _, s = act.knots()
    piece = torch.searchsorted(b[0], x[:, 0], right=True)
    assert torch.allclose(logdet, torch.log(s[0, piece]))


def test_paaf_data_init_puts_breakpoints_on_the_data_scale():
    act = PAAF(2, num_breakpoints=3, init="data")
    x = torch.randn(4000, 2) * torch.tensor([50.0, 0.01]) + torch.tensor([100.0, -3.0])
    act(x)
    b = act.knots()[0].detach()
    assert bool(act.initialized)
    expected = torch.quantile(x, torch.tensor([0.25, 0.5, 0.75]), dim=0).T
    assert torch.allclose(b, expected, rtol=1e-3, atol=1e-3)
    before = b.clone()
    act(x * 10)  # initialised once only
    assert torch.equal(act.knots()[0].detach(), before)


def test_paaf_smoothed_gradient_matches_the_expected_loss():
    """The log-det is piecewise constant in the breakpoints and inputs; the pathwise
    gradient misses the crossing term, the smoothed one estimates it. Reference: finite
    differences of the expected loss under x ~ N(0, 1), by quadrature on a fine grid."""
    x = torch.linspace(-8, 8, 400_001, dtype=torch.float64)[:, None]
    w = torch.exp(-0.5 * x[:, 0] ** 2) * (x[1, 0] - x[0, 0]) / math.sqrt(2 * math.pi)
    act = PAAF(1, num_breakpoints=3, init="fixed", span=(-1.0, 1.0)).double()
    with torch.no_grad():
        act.log_slopes.copy_(torch.tensor([[0.0, 1.0, -1.0, 0.5]]))

    def loss():
        z, ld = act(x)
        return ((0.5 * z[:, 0].pow(2) - ld) * w).sum()

    eps = 1e-3
    with torch.no_grad():
        act.start += eps
        lp = loss().item()
        act.start -= 2 * eps
        lm = loss().item()
        act.start += eps
    fd = (lp - lm) / (2 * eps)
    (g_smooth,) = torch.autograd.grad(loss(), act.start)
    act.smooth_grad = 0.0
    (g_path,) = torch.autograd.grad(loss(), act.start)
    assert abs(g_smooth.item() - fd) < 0.05 * abs(fd), (g_smooth.item(), fd)
    assert abs(g_path.item() - fd) > 0.3 * abs(fd), (g_path.item(), fd)


def _exact_paaf_logdet(act: PAAF, x):
    """The unsmoothed log-det, written independently: Σ_d log s_d[piece], piece = #{b_j ≤ x}."""
    b, _, _ = act.knots()
    piece = (x[:, :, None] >= b[None]).sum(-1)  # (N, D) in [0, M]
    one_hot = torch.nn.functional.one_hot(piece, act.num_breakpoints + 1).to(x.dtype)  # (N, D, M+1)
    return (one_hot * act.log_slopes[None]).sum((1, 2))


@pytest.mark.parametrize("mode", ["plain", "smoothed"])
def test_paaf_logdet_gradient_plain_is_autograd_of_the_exact_log_det(mode):
    """``plain``: the log-det's gradient w.r.t. every parameter (breakpoints, slopes, offset)
    and the input is autograd of the exact expression (zero for the breakpoints and the
    input); ``smoothed``: same value, but the breakpoints and the input get the surrogate's
    non-zero gradient."""
    from baselines.toy.paaf import smooth_grad_for

    torch.manual_seed(0)
    act = PAAF(2, num_breakpoints=4, init="fixed", span=(-1.5, 1.5),
               smooth_grad=smooth_grad_for(mode, 0.05)).double()
    with torch.no_grad():
        act.log_slopes.copy_(torch.randn(2, 5, dtype=torch.float64) * 0.5)
    x = _x(300, 2, scale=1.5).requires_grad_(True)
    params = [act.start, act.raw_gaps, act.log_slopes, act.offset, x]
    _, ld = act(x)
    ref = _exact_paaf_logdet(act, x)
    assert torch.allclose(ld, ref)
    got = torch.autograd.grad(ld.sum(), params, allow_unused=True)
    want = torch.autograd.grad(ref.sum(), params, allow_unused=True)
    zeros = [torch.zeros_like(p) for p in params]
    got = [g if g is not None else z for g, z in zip(got, zeros)]
    want = [w if w is not None else z for w, z in zip(want, zeros)]
    assert want[2].abs().sum() > 0  # the slopes' gradient: the counts per piece
    for name, g, w in zip(["start", "raw_gaps", "log_slopes", "offset", "x"], got, want):
        if mode == "plain" or name in ("log_slopes", "offset"):
            assert torch.allclose(g, w), name
        else:  # the surrogate moves the breakpoints and the input, the exact log-det does not
            assert g.abs().sum() > 1e-3 and w.abs().sum() == 0, name


@pytest.mark.parametrize("mode", ["plain", "smoothed"])
def test_leaky_relu_logdet_gradient_modes(mode):
    from baselines.toy.paaf import LEAKY_SMOOTH_GRAD, smooth_grad_for

    act = LeakyReLU(0.5, smooth_grad=smooth_grad_for(mode, LEAKY_SMOOTH_GRAD))
    x = _x(200, 2).requires_grad_(True)
    _, ld = act(x)
    ref = (x < 0).to(x.dtype).sum(-1) * math.log(0.5)
    assert torch.allclose(ld, ref)
    if mode == "plain":  # the exact log-det is constant in x: autograd gives no gradient at all
        assert not ld.requires_grad
    else:
        (g,) = torch.autograd.grad(ld.sum(), x)
        assert g.abs().sum() > 0


@pytest.mark.parametrize("activation", ["leaky", "paaf"])
def test_shared_step_passes_the_logdet_gradient_mode(activation):
    from baselines.toy.models import ToyModelConfig, build_model

    for mode, on in (("plain", False), ("smoothed", True)):
        cfg = ToyModelConfig(family="shared", num_steps=2, activation=activation, logdet_gradient=mode)
        acts = [m for m in build_model(cfg).modules() if isinstance(m, (PAAF, LeakyReLU))]
        assert acts and all((a.smooth_grad > 0) == on for a in acts)
        assert ("plain gradient" in cfg.label()) == (not on)
    with pytest.raises(ValueError):
        shared_step(2, activation=activation, logdet_gradient="exact")


def test_augmentation_noise_entropy_and_whitening():
    aug = Augmentation(Shift(5), data_dim=2, extra_dims=3, noise_std=0.5)
    assert math.isclose(aug.noise_entropy(), 1.5 * math.log(2 * math.pi * math.e * 0.25))
    eps = aug.sample_noise((200_000,))
    assert abs(eps.std().item() - 0.5) < 0.01
    assert abs(-aug.noise_log_prob(eps).mean().item() - aug.noise_entropy()) < 0.01
    v = torch.randn(4, 5)
    z, logdet = aug(v)
    assert torch.allclose(z[:, 2:], v[:, 2:] / 0.5) and torch.allclose(logdet, torch.full((4,), -3 * math.log(0.5)))
    with pytest.raises(ValueError, match="2 data \\+ 3 noise"):
        aug(torch.randn(4, 2))
