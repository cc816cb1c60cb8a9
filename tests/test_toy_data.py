"""Toy datasets: sampling, exact densities, entropy floors."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from baselines.toy.data import EightGaussians, Rings, TwoMoons, get_dataset, make_test_set


@pytest.mark.parametrize("name", ["moons", "8gaussians", "rings"])
def test_density_integrates_to_one(name):
    ds = get_dataset(name)
    (x0, x1), (y0, y1) = ds.bounds()
    xs, ys = torch.linspace(x0 - 1, x1 + 1, 200), torch.linspace(y0 - 1, y1 + 1, 200)
    xx, yy = torch.meshgrid(xs, ys, indexing="ij")
    p = ds.log_prob(torch.stack([xx, yy], -1).reshape(-1, 2)).exp()
    integral = float(p.sum() * (xs[1] - xs[0]) * (ys[1] - ys[0]))
    assert abs(integral - 1) < 2e-3


def test_moons_density_is_the_kde_limit_of_make_moons():
    """The quadrature density matches a Gaussian KDE of many make_moons points (same noise)."""
    from sklearn.datasets import make_moons

    ds = TwoMoons(noise=0.1)
    centres, _ = make_moons(n_samples=20000, noise=0.0, random_state=0)  # arc points, uniform in angle
    pts = torch.tensor([[0.0, 1.0], [1.0, -0.5], [0.5, 0.25], [-1.0, 0.0], [2.0, 0.5], [0.3, 0.9]],
                       dtype=torch.float64)
    d2 = torch.cdist(pts, torch.from_numpy(centres)).pow(2)
    kde = torch.exp(-d2 / (2 * 0.01)).mean(1) / (2 * math.pi * 0.01)
    assert torch.allclose(ds.log_prob(pts).exp(), kde, rtol=2e-3, atol=1e-6)


def test_samples_follow_the_density():
    """Mean −log p over fresh make_moons samples (plain Monte Carlo) agrees with the
    control-variate entropy estimate within a few standard errors."""
    for ds in (TwoMoons(), EightGaussians(), Rings()):
        x = ds.sample(20000, seed=11)
        nll = -ds.log_prob(x)
        plain, se = nll.mean().item(), nll.std().item() / math.sqrt(len(nll))
        ent = ds.entropy()
        assert abs(plain - ent.value) < 4 * math.hypot(se, ent.stderr), (ds.name, plain, ent)


def test_entropy_floors_match_planning_values():
    moons, eight = get_dataset("moons").entropy(), get_dataset("8gaussians").entropy()
    assert abs(moons.value - 1.007) < 0.01 and moons.stderr < 1e-3
    assert abs(eight.value - 2.832) < 0.002 and eight.stderr < 1e-3
    # eight Gaussians: just below log 8 + Gaussian entropy (the components overlap slightly)
    upper = math.log(8) + math.log(2 * math.pi * math.e * 0.125)
    assert upper - 0.02 < eight.value < upper


@pytest.mark.parametrize("name", ["moons", "8gaussians", "rings"])
def test_stored_entropy_agrees_with_a_fresh_estimate(name):
    """The stored default estimate against a recomputation with another seed."""
    ds = get_dataset(name)
    stored, fresh = ds.entropy(), ds.entropy(30000, seed=77)
    assert "stored" in stored.method and "stored" not in fresh.method
    assert abs(stored.value - fresh.value) < 4 * math.hypot(stored.stderr, fresh.stderr)


def test_rings_density_matches_quadrature_over_the_angle():
    """The closed-form (Bessel) density of the blurred rings against a direct numerical
    integral of the Gaussian over the ring's angle (2000 midpoints per ring)."""
    ds = Rings()
    pts = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.7, 0.7], [1.5, -0.1], [0.0, 2.05], [-1.9, 0.4], [2.6, 0.0]],
                       dtype=torch.float64)
    theta = (torch.arange(2000, dtype=torch.float64) + 0.5) * (2 * math.pi / 2000)
    circle = torch.stack([torch.cos(theta), torch.sin(theta)], 1)
    var = ds.noise**2
    dens = sum(torch.exp(-torch.cdist(pts, r * circle).pow(2) / (2 * var)).mean(1) / (2 * math.pi * var)
               for r in ds.radii) / len(ds.radii)
    assert torch.allclose(ds.log_prob(pts).exp(), dens, rtol=1e-6, atol=1e-300)


def test_rings_floor_is_close_to_the_thin_ring_limit():
    """For thin rings (σ ≪ R) the entropy is the angle's and the radial Gaussian's:
    log K + mean_k log(2πR_k) + ½ log(2πeσ²), up to O(σ²/R²)."""
    ds, ent = Rings(), get_dataset("rings").entropy()
    thin = (math.log(len(ds.radii)) + np.mean([math.log(2 * math.pi * r) for r in ds.radii])
            + 0.5 * math.log(2 * math.pi * math.e * ds.noise**2))
    assert abs(ent.value - thin) < 0.01 and ent.stderr < 1e-3
    assert abs(ent.value - 1.993) < 0.003  # the stored floor used in docs/results_toy.md


def test_moons_entropy_scales_with_noise():
    """More noise, more entropy; the floor is recomputed for the configured noise."""
    assert TwoMoons(0.2).entropy(20000).value > TwoMoons(0.1).entropy(20000).value + 0.3


def test_sampling_is_seeded_and_fresh():
    ds = get_dataset("moons")
    a, b = ds.sample(100, seed=3), ds.sample(100, seed=3)
    assert torch.equal(a, b) and a.shape == (100, 2) and a.dtype == torch.float32
    rng = np.random.default_rng(0)
    assert not torch.equal(ds.sample(100, generator=rng), ds.sample(100, generator=rng))
    # eight Gaussians: FFJORD convention (radius 4, std 0.5, then / sqrt(2))
    ds8 = get_dataset("8gaussians")
    x = ds8.sample(80000, seed=1).double()
    nearest = torch.cdist(x, ds8.centres).argmin(1)
    assert torch.allclose(ds8.centres.norm(dim=1), torch.full((8,), 4 / math.sqrt(2), dtype=torch.float64))
    assert abs((x - ds8.centres[nearest]).std().item() - 0.5 / math.sqrt(2)) < 0.005
    assert (torch.bincount(nearest, minlength=8).double() / len(x) - 1 / 8).abs().max() < 0.01
    assert torch.equal(make_test_set("moons"), make_test_set("moons"))


def test_unknown_dataset_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown toy dataset"):
        get_dataset("spirals")


def test_scaled_dataset_shifts_entropy_and_density():
    base, scaled = get_dataset("8gaussians"), get_dataset("8gaussiansx10")
    assert math.isclose(scaled.entropy().value, base.entropy().value + 2 * math.log(10))
    x = scaled.sample(20000, seed=4)
    assert abs(x.std().item() / base.sample(20000, seed=4).std().item() - 10) < 1e-4
    assert abs(-scaled.log_prob(x).mean().item() - scaled.entropy().value) < 0.03
