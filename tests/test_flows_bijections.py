"""Every bijection of the flow toolkit against the contract (check_bijection: inverse,
log-det vs the autograd Jacobian, gradients, save/load), in float64 at random parameters;
plus ActNorm's initialisation, LULinear's inverse cache, the transform registry and the
base distributions (against scipy)."""
from __future__ import annotations

import io
import math

import pytest
import torch
from scipy import stats

from moglow.flows import (ActNorm, AdditiveTransform, AffineTransform, Compose, Coupling, LULinear, PerPart,
                          ProjectedCondition, StandardNormal, StudentT, TransformFamily, all_initialized, get_transform,
                          glow_flow, glow_step, register_transform)
from moglow.flows.checks import check_bijection

DT = torch.float64


def rand(*shape, seed=0, scale=1.0, shift=0.0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=DT) * scale + shift


def seeded(factory, seed=0):
    """A ``make`` for check_bijection that builds the same module each call."""
    def make():
        torch.manual_seed(seed)
        return factory().to(DT)
    return make


# ---- ActNorm ---------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(6, 4), (3, 5, 4)])
def test_actnorm_vectors_and_sequences(shape):
    check_bijection(seeded(lambda: ActNorm(4)), rand(*shape, scale=3.0, shift=2.0))


def test_actnorm_images():
    check_bijection(seeded(lambda: ActNorm(3, event_dims=3)), rand(2, 3, 4, 5, scale=2.0, shift=-1.0))


def test_actnorm_initialises_to_zero_mean_unit_variance_once():
    x = rand(200, 3, scale=torch.tensor([1.0, 5.0, 0.1], dtype=DT), shift=3.0)
    an = ActNorm(3).to(DT)
    z, ld = an(x)
    torch.testing.assert_close(z.mean(0), torch.zeros(3, dtype=DT), atol=1e-12, rtol=0)
    torch.testing.assert_close(z.std(0, unbiased=False), torch.ones(3, dtype=DT), atol=1e-12, rtol=0)
    assert an.initialized.item() == 1 and all_initialized(an)
    before = an.log_scale.detach().clone()
    an(x * 10)  # a second batch must not re-initialise
    torch.testing.assert_close(an.log_scale.detach(), before)


def test_actnorm_constant_channel_gets_unit_scale_not_inf():
    x = rand(50, 3)
    x[:, 1] = 7.0
    an = ActNorm(3).to(DT)
    z, ld = an(x)
    assert torch.isfinite(z).all() and torch.isfinite(ld).all()
    assert an.log_scale[1].item() == 0.0 and an.bias[1].item() == -7.0
    # a single example: every channel is constant
    z1, ld1 = ActNorm(3).to(DT)(rand(1, 3))
    assert torch.isfinite(z1).all() and torch.isfinite(ld1).all()


def test_actnorm_does_not_initialise_in_eval_mode_and_flag_survives_checkpoint():
    an = ActNorm(2).eval()
    an(torch.randn(10, 2) + 5)
    assert an.initialized.item() == 0 and an.bias.abs().max() == 0
    an.train()
    an(torch.randn(10, 2) + 5)
    buf = io.BytesIO()
    torch.save(an.state_dict(), buf)
    buf.seek(0)
    fresh = ActNorm(2)
    fresh.load_state_dict(torch.load(buf, weights_only=True))
    assert "initialized" in an.state_dict() and fresh.initialized.item() == 1
    bias = fresh.bias.detach().clone()
    fresh(torch.randn(10, 2) * 100)  # loaded as initialised: no re-initialisation
    torch.testing.assert_close(fresh.bias.detach(), bias)


# ---- LULinear --------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(5, 4), (2, 3, 4)])
def test_lulinear_vectors(shape):
    check_bijection(seeded(lambda: LULinear(4)), rand(*shape))


def test_lulinear_images():
    check_bijection(seeded(lambda: LULinear(3, event_dims=3)), rand(2, 3, 4, 5))


def test_lulinear_weight_is_p_l_u_and_logdet_matches_slogdet():
    torch.manual_seed(0)
    lin = LULinear(5).to(DT)
    with torch.no_grad():
        for p in lin.parameters():
            p.add_(torch.randn_like(p) * 0.3)
    w = lin.weight()
    assert abs(torch.linalg.slogdet(w)[1].item() - lin.log_s.sum().item()) < 1e-10
    x = rand(7, 5)
    torch.testing.assert_close(lin(x)[0], x @ w.T)
    torch.testing.assert_close(lin.inverse_weight() @ w, torch.eye(5, dtype=DT))


def test_lulinear_inverse_cache_follows_mode_and_parameter_changes():
    torch.manual_seed(1)
    lin = LULinear(4).to(DT).eval()
    z = rand(3, 4)
    with torch.no_grad():
        first = lin.inverse_weight()
        assert lin.inverse_weight() is first  # cached
        lin.upper.add_(0.5)  # an in-place change (as an optimiser step) invalidates it
        second = lin.inverse_weight()
        assert second is not first
        torch.testing.assert_close(lin(lin.inverse(z)[0])[0], z)
    lin.train()
    assert lin._inv_cache is None
    with torch.no_grad():
        assert lin.inverse_weight() is not lin.inverse_weight()  # never cached in training mode
    lin.eval()
    params = dict(lin.named_parameters())
    state = {k: v + 0.01 if k in params else v for k, v in lin.state_dict().items()}
    with torch.no_grad():
        w_before = lin.inverse_weight()
        lin.load_state_dict(state)
        torch.testing.assert_close(lin.inverse_weight() @ lin.weight(), torch.eye(4, dtype=DT))
        assert not torch.allclose(w_before, lin.inverse_weight())


# ---- transforms and couplings -------------------------------------------------------------

TRANSFORMS = [("affine", {"scale": "sigmoid"}), ("affine", {"scale": "exp"}),
              ("affine", {"scale": "exp", "clamp": None}), ("additive", {})]


@pytest.mark.parametrize("name,options", TRANSFORMS)
@pytest.mark.parametrize("swap", [False, True])
def test_mlp_coupling(name, options, swap):
    make = seeded(lambda: Coupling(5, net="mlp", hidden=8, num_layers=2, transform=name, swap=swap,
                                   transform_options=options))
    check_bijection(make, rand(6, 5))


def test_conditional_mlp_coupling_on_sequences():
    make = seeded(lambda: Coupling(4, cond_features=3, net="mlp", hidden=8, num_layers=1))
    check_bijection(make, rand(2, 3, 4), rand(2, 3, 3, seed=1))


@pytest.mark.parametrize("net,options", [("lstm", {"impl": "fused"}), ("lstm", {"impl": "stepwise"}), ("gru", {})])
@pytest.mark.parametrize("name", ["affine", "additive"])
def test_recurrent_coupling_on_sequences_with_condition(net, options, name):
    make = seeded(lambda: Coupling(5, cond_features=3, net=net, hidden=6, num_layers=2, transform=name,
                                   net_options=options))
    check_bijection(make, rand(2, 4, 5), rand(2, 4, 3, seed=1))


@pytest.mark.parametrize("impl", ["fused", "stepwise"])
def test_recurrent_coupling_stateful_frame_by_frame_equals_one_call(impl):
    torch.manual_seed(2)
    c = Coupling(5, cond_features=3, net="lstm", hidden=6, num_layers=2, net_options={"impl": impl}).to(DT)
    with torch.no_grad():
        for p in c.parameters():
            p.add_(torch.randn_like(p) * 0.2)
    x, cond = rand(2, 6, 5), rand(2, 6, 3, seed=1)
    z, ld, _ = c.forward_stateful(x, cond, None)
    state, zs, lds = None, [], []
    for t in range(6):
        zt, ldt, state = c.forward_stateful(x[:, t: t + 1], cond[:, t: t + 1], state)
        zs.append(zt)
        lds.append(ldt)
    torch.testing.assert_close(torch.cat(zs, 1), z)
    torch.testing.assert_close(torch.cat(lds, 1), ld)
    state, xs = None, []
    for t in range(6):
        xt, _, state = c.inverse_stateful(z[:, t: t + 1], cond[:, t: t + 1], state)
        xs.append(xt)
    torch.testing.assert_close(torch.cat(xs, 1), x)


def test_coupling_leaves_conditioning_half_unchanged_and_uses_condition():
    torch.manual_seed(3)
    c = Coupling(4, cond_features=2, net="mlp", hidden=8).to(DT)
    torch.nn.init.normal_(c.net.output_layer.weight)
    x = rand(5, 4)
    z, _ = c(x, rand(5, 2, seed=1))
    z2, _ = c(x, rand(5, 2, seed=2))
    torch.testing.assert_close(z[:, :2], x[:, :2])
    assert (z[:, 2:] - z2[:, 2:]).abs().max() > 1e-3


def test_compose_of_glow_steps_with_lstm():
    make = seeded(lambda: glow_flow(5, 3, cond_features=3, net="lstm", hidden=6, num_layers=2))
    check_bijection(make, rand(2, 4, 5, scale=2.0), rand(2, 4, 3, seed=1))


def test_compose_hands_each_part_its_own_condition():
    """A PerPart condition gives part i its i-th entry (here of different widths, one of them
    already projected by the coupling's first layer): the same map as running the parts by hand."""
    torch.manual_seed(4)
    a, b = Coupling(4, 2, net="mlp", hidden=8).to(DT), Coupling(4, 3, net="mlp", hidden=8, swap=True).to(DT)
    for c in (a, b):
        torch.nn.init.normal_(c.net.output_layer.weight, std=0.3)
    flow = Compose([a, b])
    x, ca, cb = rand(5, 4), rand(5, 2, seed=1), rand(5, 3, seed=2)
    conds = PerPart([ca, ProjectedCondition(b.cond_projection(cb))])
    z, logdet = flow(x, conds)
    h, ld_a = a(x, ca)
    z_ref, ld_b = b(h, cb)
    torch.testing.assert_close(z, z_ref, rtol=0, atol=1e-12)
    torch.testing.assert_close(logdet, ld_a + ld_b, rtol=0, atol=1e-12)
    assert (z - flow(x, PerPart([ca, ProjectedCondition(b.cond_projection(2 * cb))]))[0]).abs().max() > 1e-3
    torch.testing.assert_close(flow.inverse(z, conds)[0], x, rtol=0, atol=1e-10)
    with pytest.raises(ValueError, match="2 parts got 1"):
        flow(x, PerPart([ca]))


def test_glow_step_with_mlp_is_a_plain_bijection():
    check_bijection(seeded(lambda: Compose([glow_step(3, net="mlp", hidden=8), glow_step(3, net="mlp", hidden=8)])),
                    rand(6, 3))


def test_affine_scale_ranges():
    x2 = rand(4, 3)
    big = torch.full((4, 6), 50.0, dtype=DT)
    _, ld_sig = AffineTransform("sigmoid")(x2, big)
    assert ld_sig.max() <= 3 * math.log(1 + 1e-6) + 1e-12  # sigmoid scale is at most 1 + eps
    _, ld_exp = AffineTransform("exp", clamp=2.0)(x2, big)
    assert ld_exp.max() <= 3 * 2.0 + 1e-9  # soft clamp: |log s| < c
    y, _ = AffineTransform("sigmoid")(x2, torch.cat([torch.ones(4, 3, dtype=DT), torch.zeros(4, 3, dtype=DT)], -1))
    torch.testing.assert_close(y, (x2 + 1) * (torch.sigmoid(torch.tensor(2.0, dtype=DT)) + 1e-6))  # shift then scale


def test_transform_registry():
    assert isinstance(get_transform("additive"), AdditiveTransform)
    t = get_transform("affine", scale="exp", variant="ignored-by-affine")
    assert isinstance(t, AffineTransform) and t.scale == "exp"
    with pytest.raises(KeyError, match="unknown transform 'nope'"):
        get_transform("nope")

    class Negate(TransformFamily):
        def num_params(self, dim):
            return 1

        def forward(self, x2, params):
            return -x2, x2.new_zeros(x2.shape[:-1])

        def inverse(self, y2, params):
            return -y2, y2.new_zeros(y2.shape[:-1])

    register_transform("test-negate", Negate)
    c = Coupling(4, transform="test-negate")
    x = torch.randn(3, 4)
    torch.testing.assert_close(c(x)[0][:, 2:], -x[:, 2:])
    with pytest.raises(ValueError, match="scale must be"):
        AffineTransform("softplus")


# ---- base distributions ---------------------------------------------------------------------

def test_standard_normal_log_prob_and_sampling():
    base = StandardNormal(3).to(DT)
    z = rand(10, 4, 3)
    ref = torch.distributions.Normal(0.0, 1.0).log_prob(z).sum(-1)
    torch.testing.assert_close(base.log_prob(z), ref)
    s = base.sample((2000,), temperature=0.5, generator=torch.Generator().manual_seed(0))
    assert s.shape == (2000, 3) and s.dtype == DT
    assert abs(s.std().item() - 0.5) < 0.03
    assert base.sample((2, 5), temperature=0).abs().max() == 0
    a = base.sample((4,), generator=torch.Generator().manual_seed(7))
    b = base.sample((4,), generator=torch.Generator().manual_seed(7))
    torch.testing.assert_close(a, b)


def test_student_t_matches_scipy():
    base = StudentT(2, df=4.0).to(DT)
    z = rand(50, 2, scale=3.0)
    ref = stats.t(df=4.0).logpdf(z.numpy()).sum(-1)
    torch.testing.assert_close(base.log_prob(z), torch.from_numpy(ref))
    s = base.sample((4000,), generator=torch.Generator().manual_seed(0))
    assert s.shape == (4000, 2) and torch.isfinite(s).all()
    assert stats.kstest(s.flatten().numpy(), stats.t(df=4.0).cdf).pvalue > 1e-3
    hot = base.sample((4000,), temperature=2.0, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(hot, 2 * s)
    with pytest.raises(ValueError, match="df"):
        StudentT(2, df=0.0)
