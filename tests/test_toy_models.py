"""One fast training test per toy model family: a few hundred steps must bring the test NLL
clearly below its value at initialisation, and the learnt density must integrate to 1
on a grid (which catches log-det sign errors). Plus GBNF's own mechanics."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from baselines.toy.data import get_dataset, make_test_set, make_validation_set
from baselines.toy.gbnf import GBNF, _resampled_batches, fit_gbnf, line_search_weight, resampling_probs
from baselines.toy.models import ToyModelConfig, build_model, build_single
from baselines.toy.train import TrainConfig, density_on_grid, evaluate, grid_integral, train_model

FAST = dict(batch_size=256, lr=5e-3, warmup=20)


def _widened(bounds, pad=1.5):
    (x0, x1), (y0, y1) = bounds
    return (x0 - pad, x1 + pad), (y0 - pad, y1 + pad)


def _init_nll(model, ds, x_test):
    model.train()
    with torch.no_grad():
        model.loss(ds.sample(256, seed=1), torch.Generator().manual_seed(0))  # data-dependent init
    return evaluate(model, ds, x_test)["nll"]


@pytest.mark.parametrize("dataset,fields,steps,margin", [
    ("moons", dict(family="glow", num_steps=2, hidden=32), 300, 0.3),
    ("8gaussians", dict(family="realnvp", num_steps=4, hidden=32), 300, 0.3),
    ("moons", dict(family="shared", num_steps=4), 300, 0.2),
    ("moons", dict(family="shared", num_steps=4, activation="paaf", paaf_init="data"), 300, 0.2),
    ("moons", dict(family="glow", num_steps=2, hidden=32, augment=2, is_samples=32), 300, 0.2),
])
def test_training_improves_and_density_normalises(dataset, fields, steps, margin):
    torch.manual_seed(0)
    ds = get_dataset(dataset)
    x_test = make_test_set(dataset, n=2000)
    model = build_model(ToyModelConfig(**fields))
    before = _init_nll(model, ds, x_test)
    train_model(model, ds, TrainConfig(steps=steps, seed=0, **FAST), progress=False)
    after = evaluate(model, ds, x_test)
    assert after["nll"] < before - margin, (before, after["nll"])
    assert after["gap"] > -0.05  # cannot beat the entropy (up to test-set noise)
    xs, ys, log_q = density_on_grid(model, _widened(ds.bounds()), resolution=120, is_samples=16)
    assert abs(grid_integral(xs, ys, log_q) - 1) < 0.03
    if "nll_bound" in after:  # augmented: the importance-sampled NLL is below the bound
        assert after["nll"] <= after["nll_bound"] + 1e-3


def test_augmented_importance_sampling_tightens_with_samples():
    torch.manual_seed(0)
    ds = get_dataset("moons")
    model = build_model(ToyModelConfig(family="glow", num_steps=2, hidden=16, augment=2))
    train_model(model, ds, TrainConfig(steps=100, seed=0, **FAST), progress=False)
    x = make_test_set("moons", n=1000)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        bound = -model.bound_log_prob(x, g).mean().item()
        is1 = -model.log_prob(x, g, num_samples=1).mean().item()
        is64 = -model.log_prob(x, g, num_samples=64).mean().item()
    assert abs(is1 - bound) < 0.1          # one sample: the bound, up to noise
    assert is64 < bound - 0.01             # more samples: a tighter (lower) NLL


def test_line_search_finds_the_mixture_weight():
    """Data from 0.3·N(-2, 1) + 0.7·N(2, 1): the held-out optimum of ρ (weight of the
    right component) is close to 0.7."""
    g = torch.Generator().manual_seed(0)
    n = 20000
    right = torch.rand(n, generator=g) < 0.7
    x = torch.randn(n, generator=g) + torch.where(right, 2.0, -2.0)
    log_n = lambda m: -0.5 * (x - m) ** 2 - 0.5 * math.log(2 * math.pi)
    rho, nll = line_search_weight(log_n(-2.0), log_n(2.0))
    assert abs(rho - 0.7) < 0.02
    assert line_search_weight(log_n(-2.0), log_n(-2.0) - 5)[0] < 0.01  # a useless component gets ~0


def test_gbnf_trains_mixes_and_samples():
    torch.manual_seed(0)
    ds = get_dataset("8gaussians")
    cfg = ToyModelConfig(family="glow", num_steps=2, hidden=16)
    model = GBNF(lambda: build_single(cfg), 3)
    hist = fit_gbnf(model, ds, make_validation_set("8gaussians", n=2000), TrainConfig(steps=450, seed=0, **FAST),
                    progress=False)
    assert int(model.num_active) == 3 and len(hist["stages"]) == 6
    assert hist["first_steps"] * 3 + hist["refit_steps"] * 3 == 450  # equal total steps
    w = model.weights
    assert torch.isclose(w.sum(), torch.tensor(1.0), atol=1e-5) and (w > 0).all()
    # boosting resamples: effective sample size below the pool size once there is a mixture
    assert all(s["ess_fraction_mean"] < 1.0 for s in hist["stages"] if s["stage"] == "boost" and s["component"] > 0)
    # the mixture beats (or ties) its first component on held-out data at that stage
    assert hist["stages"][2]["val_nll"] <= hist["stages"][0]["val_nll"] + 1e-6
    x_test = make_test_set("8gaussians", n=2000)
    res = evaluate(model, ds, x_test)
    xs, ys, log_q = density_on_grid(model, _widened(ds.bounds()), resolution=120)
    assert abs(grid_integral(xs, ys, log_q) - 1) < 0.03
    # sampling picks components by weight
    g = torch.Generator().manual_seed(1)
    idx = torch.multinomial(w, 30000, replacement=True, generator=g)
    assert np.allclose(torch.bincount(idx, minlength=3).numpy() / 30000, w.numpy(), atol=0.02)
    s = model.sample(500, g)
    assert s.shape == (500, 2) and torch.isfinite(s).all() and math.isfinite(res["nll"])


@pytest.mark.parametrize("refit", [False, True])
def test_gbnf_steps_per_component_trains_each_component_that_long(refit):
    """The paper's protocol: every component takes ``steps_per_component`` optimiser steps
    (counted at its loss), whatever ``cfg.steps`` says; a refit pass adds round(S/3) each."""
    cfg = ToyModelConfig(family="glow", num_steps=1, hidden=8)
    torch.manual_seed(0)
    model = GBNF(lambda: build_single(cfg), 3)
    calls = [0, 0, 0]
    for c, comp in enumerate(model.components):
        def counted(x, gen=None, c=c, loss=comp.loss):
            calls[c] += 1
            return loss(x, gen)
        comp.loss = counted
    hist = fit_gbnf(model, get_dataset("moons"), make_validation_set("moons", n=300),
                    TrainConfig(steps=1000, **FAST), refit=refit, steps_per_component=7, progress=False)
    expected = 7 + (round(7 / 3) if refit else 0)
    assert calls == [expected] * 3 and int(model.num_active) == 3
    assert [s["steps"] for s in hist["stages"] if s["stage"] == "boost"] == [7, 7, 7]
    with pytest.raises(ValueError, match="steps_per_component"):
        fit_gbnf(model, get_dataset("moons"), make_validation_set("moons", n=300), TrainConfig(**FAST),
                 steps_per_component=0, progress=False)


def test_uncapped_weights_are_the_normalised_inverse_density():
    """``truncate=False`` resamples ∝ 1/G exactly (the paper's weights); the cap only lowers
    the largest weights to mean·√N. Checked against a direct computation, also inside the
    batch sampler (its effective sample size on the same pool)."""
    log_g = torch.randn(500, dtype=torch.float64) * 3
    direct = (1 / log_g.exp()) / (1 / log_g.exp()).sum()
    assert torch.allclose(resampling_probs(log_g, truncate=False), direct, rtol=1e-10, atol=0)
    capped = resampling_probs(log_g, truncate=True)
    w = 1 / log_g.exp()
    cap = w.mean() * math.sqrt(len(w))
    assert torch.allclose(capped, torch.minimum(w, cap) / torch.minimum(w, cap).sum(), rtol=1e-10)
    assert (w > cap).any() and capped.max() < direct.max()  # the cap binds on this pool
    ds = get_dataset("8gaussians")
    log_rest = lambda x: ds.log_prob(x).float() + 0.3 * x[:, 0]  # any fixed "rest" density  # noqa: E731
    for truncate in (False, True):
        stats: dict = {}
        batch = _resampled_batches(ds, log_rest, 64, 4, np.random.default_rng(5), torch.Generator().manual_seed(0),
                                   stats, truncate=truncate)
        batch(0)
        pool = ds.sample(256, generator=np.random.default_rng(5))  # the same pool
        w = 1 / log_rest(pool).double().exp()
        if truncate:
            w = torch.minimum(w, w.mean() * math.sqrt(len(w)))
        p = w / w.sum()
        assert math.isclose(stats["ess_fraction"][0], float(1 / p.pow(2).sum() / 256), rel_tol=1e-6)


def test_gbnf_state_dict_round_trip():
    cfg = ToyModelConfig(family="glow", num_steps=1, hidden=8)
    torch.manual_seed(0)
    a = GBNF(lambda: build_single(cfg), 2)
    fit_gbnf(a, get_dataset("moons"), make_validation_set("moons", n=500), TrainConfig(steps=20, **FAST),
             progress=False)
    b = GBNF(lambda: build_single(cfg), 2)
    b.load_state_dict(a.state_dict())
    b.eval()
    x = make_test_set("moons", n=100)
    assert torch.allclose(a.log_prob(x), b.log_prob(x))


def test_config_round_trip_and_errors():
    cfg = ToyModelConfig(family="shared", activation="paaf", augment=2, components=3)
    assert ToyModelConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown ToyModelConfig keys"):
        ToyModelConfig.from_dict({"famly": "glow"})
    with pytest.raises(ValueError, match="unknown toy model family"):
        build_model(ToyModelConfig(family="maf"))
