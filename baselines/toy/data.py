"""Two-dimensional toy densities with known entropy.

Each dataset draws fresh samples on demand (``sample``), evaluates its own exact (or
numerically integrated) log-density (``log_prob``) and knows its differential entropy, the
lowest test NLL any model can reach (``entropy``). Results are reported as NLL and as the
gap to that floor, in nats per point.

- :class:`TwoMoons`: scikit-learn's ``make_moons`` at its raw scale (noise std 0.1 by
  default). Its density is the uniform density on two half circles (angle uniform on
  [0, π], half of the points on each) convolved with an isotropic Gaussian, so
  ``p(x) = ½ Σ_arcs (1/π) ∫₀^π N(x; c(θ), σ² I) dθ``. The integral over θ is computed by
  Gauss–Legendre quadrature (accurate to ~1e-10 for the default 256 nodes at σ = 0.1); the
  entropy ``−E log p(x)`` has no closed form and is a Monte Carlo mean over samples, with
  its standard error.
- :class:`EightGaussians`: the FFJORD convention: eight Gaussians with std 0.5 centred at
  radius 4 on the compass directions, then everything scaled by 1/√2. The density is a
  closed-form mixture; the mixture's entropy is again a Monte Carlo mean (it is close to,
  and slightly below, ``log 8 + log(2πe·0.125)`` because neighbouring components overlap
  a little).
- :class:`Rings`: the harder target: two concentric rings (radii 1 and 2, half of the
  points on each, angle uniform) blurred by isotropic Gaussian noise (std 0.1). The density
  of a blurred ring is closed form, ``N``-radial times a Bessel function:
  ``(1/(2πσ²)) exp(−(r − R)²/(2σ²)) i0e(rR/σ²)``; the entropy is a Monte Carlo mean with
  the same control variate as moons (the noise across the ring).

Example::

    >>> ds = get_dataset("moons")
    >>> x = ds.sample(512, seed=0)
    >>> tuple(x.shape), x.dtype
    ((512, 2), torch.float32)
    >>> round(ds.entropy().value, 2)        # nats per point: the floor of any model's NLL
    1.01
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
from torch import Tensor

from data_pipeline.errors import InputError

DATASETS = ("moons", "8gaussians", "rings")


@dataclass(frozen=True)
class EntropyEstimate:
    """Differential entropy in nats per point; ``stderr`` is 0 for a closed form."""

    value: float
    stderr: float
    method: str


class ToyDataset:
    """A 2-D density that can sample, evaluate itself and state its entropy."""

    name: str = "toy"
    dim: int = 2

    def sample(self, n: int, seed: int | None = None, generator: np.random.Generator | None = None) -> Tensor:
        """``n`` fresh points, ``(n, 2)`` float32. Give a ``seed`` or a numpy ``generator``."""
        raise NotImplementedError

    def log_prob(self, x: Tensor) -> Tensor:
        """True log-density in nats of points ``x (N, 2)``, returns ``(N,)`` float64."""
        raise NotImplementedError

    def entropy(self, num_samples: int = 200_000, seed: int = 1234) -> EntropyEstimate:
        """Monte Carlo entropy ``−mean log p(x)`` over ``num_samples`` fresh points (cached)."""
        return _mc_entropy(self, num_samples, seed)

    def bounds(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """Plot window ``((xmin, xmax), (ymin, ymax))`` covering essentially all mass."""
        raise NotImplementedError

    def cache_key(self) -> tuple:
        return (self.name,)


def _rng(seed: int | None, generator: np.random.Generator | None) -> np.random.Generator:
    if generator is not None:
        return generator
    return np.random.default_rng(seed)


class TwoMoons(ToyDataset):
    """scikit-learn's ``make_moons`` at raw scale, Gaussian noise std ``noise`` (default 0.1).

    Args:
        noise: std of the isotropic Gaussian noise, in data units.
        quadrature_nodes: Gauss–Legendre nodes per arc for the density integral.
    """

    name = "moons"

    def __init__(self, noise: float = 0.1, quadrature_nodes: int = 256):
        if noise <= 0:
            raise InputError(f"TwoMoons needs noise > 0 for a density to exist, got {noise}")
        self.noise = float(noise)
        nodes, weights = np.polynomial.legendre.leggauss(quadrature_nodes)
        theta = (nodes + 1.0) * (math.pi / 2.0)  # map [-1, 1] -> [0, π]
        # (1/π) ∫_0^π f dθ = ½ Σ w_i f(θ_i): quadrature weights of the uniform angle density
        log_w = np.log(weights / 2.0)
        outer = np.stack([np.cos(theta), np.sin(theta)], axis=1)
        inner = np.stack([1.0 - np.cos(theta), 0.5 - np.sin(theta)], axis=1)
        self._centres = torch.from_numpy(np.concatenate([outer, inner]))  # (2Q, 2) float64
        self._log_w = torch.from_numpy(np.concatenate([log_w, log_w]) + math.log(0.5))  # (2Q,)

    def sample(self, n, seed=None, generator=None):
        try:
            from sklearn.datasets import make_moons
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise ImportError("the moons data need scikit-learn, in the baselines extra: "
                              "pip install 'moglow[baselines]'") from e

        rng = _rng(seed, generator)
        x, _ = make_moons(n_samples=n, noise=self.noise, random_state=int(rng.integers(2**31 - 1)))
        return torch.from_numpy(x.astype(np.float32))

    def log_prob(self, x):
        x = x.detach().to(torch.float64).reshape(-1, 2)
        var = self.noise**2
        out = []
        for chunk in x.split(8192):
            d2 = torch.cdist(chunk, self._centres).pow(2)  # (n, 2Q)
            log_n = -d2 / (2 * var) - math.log(2 * math.pi * var)
            out.append(torch.logsumexp(log_n + self._log_w, dim=1))
        return torch.cat(out)

    def bounds(self):
        return (-1.6, 2.6), (-1.1, 1.6)

    def entropy(self, num_samples: int = 200_000, seed: int = 1234) -> EntropyEstimate:
        """Monte Carlo entropy with a control variate (cached).

        Points are drawn as ``x = c(θ) + ε`` (arc uniform, θ ~ U[0, π], ε ~ N(0, σ²I), the
        continuous law that ``make_moons``' evenly spaced angles approximate). The estimate is
        the mean of ``−log p(x) − β (ε_r²/(2σ²) − ½)``, where ``ε_r`` is the noise across the
        arc (whose expectation is known exactly) and β is fitted by least squares; this removes
        most of the variance of ``−log p(x)`` without bias (up to O(1/N) from fitting β).
        """
        key = self.cache_key() + ("entropy", num_samples, seed)
        method = (f"Monte Carlo over {num_samples} points (seed {seed}) with control variate "
                  "eps_r^2/(2 sigma^2); density by 256-node Gauss-Legendre quadrature over the arc angle")
        if key not in _ENTROPY_CACHE and _precomputed(key, method):
            _ENTROPY_CACHE[key] = _precomputed(key, method)
        if key not in _ENTROPY_CACHE:
            rng = np.random.default_rng(seed)
            theta = rng.uniform(0.0, math.pi, num_samples)
            inner = rng.random(num_samples) < 0.5
            normal = np.stack([np.cos(theta), np.sin(theta)], 1)
            normal[inner] *= -1.0  # inner arc: centre (1, 0.5), points at centre - (cos, sin)
            centre = np.where(inner[:, None], np.array([1.0, 0.5]), 0.0) + normal
            eps = rng.standard_normal((num_samples, 2)) * self.noise
            f = -self.log_prob(torch.from_numpy(centre + eps)).numpy()
            g = (eps * normal).sum(1) ** 2 / (2 * self.noise**2) - 0.5
            _ENTROPY_CACHE[key] = _control_variate_estimate(f, g, method)
        return _ENTROPY_CACHE[key]

    def cache_key(self):
        return (self.name, self.noise, len(self._log_w))


class EightGaussians(ToyDataset):
    """FFJORD's eight Gaussians: centres at radius 4 on the 8 compass directions, std 0.5,
    then everything scaled by 1/√2 (so centres at radius 2√2, std 0.5/√2)."""

    name = "8gaussians"

    def __init__(self, radius: float = 4.0, std: float = 0.5, scale: float = 1 / math.sqrt(2)):
        angles = np.arange(8) * (math.pi / 4)
        self.centres = torch.from_numpy(np.stack([np.cos(angles), np.sin(angles)], 1) * radius * scale)
        self.std = std * scale
        self.radius, self.raw_std, self.scale = radius, std, scale

    def sample(self, n, seed=None, generator=None):
        rng = _rng(seed, generator)
        idx = rng.integers(0, 8, size=n)
        x = self.centres.numpy()[idx] + rng.standard_normal((n, 2)) * self.std
        return torch.from_numpy(x.astype(np.float32))

    def log_prob(self, x):
        x = x.detach().to(torch.float64).reshape(-1, 2)
        var = self.std**2
        d2 = torch.cdist(x, self.centres).pow(2)
        log_n = -d2 / (2 * var) - math.log(2 * math.pi * var)
        return torch.logsumexp(log_n, dim=1) - math.log(8)

    def bounds(self):
        r = self.radius * self.scale + 4 * self.std
        return (-r, r), (-r, r)

    def entropy(self, num_samples: int = 200_000, seed: int = 1234) -> EntropyEstimate:
        """Entropy = log 8 + log(2πeσ²) − E[log Σ_j N_j(x)/N_k(x)] (cached).

        The first two terms are exact (the entropy of the generating component k plus the
        choice of k); the overlap correction, which is small and nearly constant, is a Monte
        Carlo mean over ``num_samples`` points with their generating component.
        """
        key = self.cache_key() + ("entropy", num_samples, seed)
        exact = math.log(8) + math.log(2 * math.pi * math.e * self.std**2)
        method = (f"log 8 + log(2 pi e sigma^2) = {exact:.5f} minus the overlap correction "
                  f"E[log sum_j N_j(x)/N_k(x)] by Monte Carlo over {num_samples} points (seed {seed})")
        if key not in _ENTROPY_CACHE and _precomputed(key, method):
            _ENTROPY_CACHE[key] = _precomputed(key, method)
        if key not in _ENTROPY_CACHE:
            rng = np.random.default_rng(seed)
            k = rng.integers(0, 8, size=num_samples)
            x = torch.from_numpy(self.centres.numpy()[k] + rng.standard_normal((num_samples, 2)) * self.std)
            log_n = -torch.cdist(x, self.centres).pow(2) / (2 * self.std**2)  # shared constants cancel
            corr = (torch.logsumexp(log_n, 1) - log_n[torch.arange(num_samples), torch.from_numpy(k)]).numpy()
            _ENTROPY_CACHE[key] = EntropyEstimate(value=exact - float(corr.mean()),
                                                  stderr=float(corr.std() / math.sqrt(num_samples)), method=method)
        return _ENTROPY_CACHE[key]

    def cache_key(self):
        return (self.name, self.radius, self.raw_std, self.scale)


class Rings(ToyDataset):
    """Concentric rings: radius ``R_k`` (``radii``, equal shares of the points), angle uniform
    on [0, 2π), plus isotropic Gaussian noise of std ``noise``. A flow must open a hole in the
    middle and a gap between the rings, which small flows find hard."""

    name = "rings"

    def __init__(self, radii: tuple[float, ...] = (1.0, 2.0), noise: float = 0.1):
        if noise <= 0 or not radii or min(radii) <= 0:
            raise InputError(f"Rings needs noise > 0 and positive radii, got {noise}, {radii}")
        self.radii, self.noise = tuple(float(r) for r in radii), float(noise)

    def sample(self, n, seed=None, generator=None):
        rng = _rng(seed, generator)
        k = rng.integers(0, len(self.radii), size=n)
        theta = rng.uniform(0.0, 2 * math.pi, n)
        x = np.asarray(self.radii)[k, None] * np.stack([np.cos(theta), np.sin(theta)], 1)
        return torch.from_numpy((x + rng.standard_normal((n, 2)) * self.noise).astype(np.float32))

    def log_prob(self, x):
        x = x.detach().to(torch.float64).reshape(-1, 2)
        var = self.noise**2
        r = x.norm(dim=1, keepdim=True)                                   # (N, 1)
        radii = torch.tensor(self.radii, dtype=torch.float64)             # (K,)
        # ring R blurred by N(0, σ²I): exp(-(r² + R²)/(2σ²)) I0(rR/σ²)/(2πσ²), with i0e(z) = e^-z I0(z)
        log_ring = (-(r - radii).pow(2) / (2 * var) + torch.log(torch.special.i0e(r * radii / var))
                    - math.log(2 * math.pi * var))
        return torch.logsumexp(log_ring, dim=1) - math.log(len(self.radii))

    def bounds(self):
        r = max(self.radii) + 5 * self.noise
        return (-r, r), (-r, r)

    def entropy(self, num_samples: int = 200_000, seed: int = 1234) -> EntropyEstimate:
        """Monte Carlo entropy with the control variate ``ε_r²/(2σ²) − ½`` (cached), as for moons:
        ``ε_r`` is the noise along the ring's normal, whose expectation is known exactly."""
        key = self.cache_key() + ("entropy", num_samples, seed)
        method = (f"Monte Carlo over {num_samples} points (seed {seed}) with control variate "
                  "eps_r^2/(2 sigma^2); closed-form density (Bessel i0e)")
        if key not in _ENTROPY_CACHE and _precomputed(key, method):
            _ENTROPY_CACHE[key] = _precomputed(key, method)
        if key not in _ENTROPY_CACHE:
            rng = np.random.default_rng(seed)
            k = rng.integers(0, len(self.radii), size=num_samples)
            theta = rng.uniform(0.0, 2 * math.pi, num_samples)
            normal = np.stack([np.cos(theta), np.sin(theta)], 1)
            eps = rng.standard_normal((num_samples, 2)) * self.noise
            f = -self.log_prob(torch.from_numpy(np.asarray(self.radii)[k, None] * normal + eps)).numpy()
            g = (eps * normal).sum(1) ** 2 / (2 * self.noise**2) - 0.5
            _ENTROPY_CACHE[key] = _control_variate_estimate(f, g, method)
        return _ENTROPY_CACHE[key]

    def cache_key(self):
        return (self.name, self.radii, self.noise)


_ENTROPY_CACHE: dict = {}

#: Estimates of the default settings computed by the methods below with their default
#: arguments (200 000 points, seed 1234), stored so that evaluation does not pay for them
#: each process; ``tests/test_toy_data.py`` recomputes them independently.
_PRECOMPUTED = {
    ("moons", 0.1, 512, "entropy", 200_000, 1234): (1.008514845021986, 0.0006425821537678799),
    ("8gaussians", 4.0, 0.5, 1 / math.sqrt(2), "entropy", 200_000, 1234): (2.831830082990303, 0.0002567271627977549),
    ("rings", (1.0, 2.0), 0.1, "entropy", 200_000, 1234): (1.9928674537474822, 0.0008064720435759605),
}


def _precomputed(key: tuple, method: str) -> EntropyEstimate | None:
    if key in _PRECOMPUTED:
        value, stderr = _PRECOMPUTED[key]
        return EntropyEstimate(value, stderr, method + " [stored result of this computation]")
    return None


def _mc_entropy(ds: ToyDataset, num_samples: int, seed: int) -> EntropyEstimate:
    key = ds.cache_key() + (num_samples, seed)
    if key not in _ENTROPY_CACHE:
        x = ds.sample(num_samples, seed=seed)
        nll = -ds.log_prob(x)
        _ENTROPY_CACHE[key] = EntropyEstimate(
            value=nll.mean().item(),
            stderr=(nll.std() / math.sqrt(num_samples)).item(),
            method=f"Monte Carlo mean of -log p(x) over {num_samples} samples (seed {seed}); "
            + ("density by 256-node Gauss-Legendre quadrature over the arc angle"
               if isinstance(ds, TwoMoons) else "closed-form mixture density"),
        )
    return _ENTROPY_CACHE[key]


class ScaledDataset(ToyDataset):
    """``x = factor · y`` with ``y`` from ``base``: the same shape at another scale (for
    testing that a model does not assume its input's scale). Entropy shifts by
    ``2 log factor``; the gap of a model is scale-free."""

    def __init__(self, base: ToyDataset, factor: float):
        if not factor > 0:
            raise ValueError(f"scale factor must be positive, got {factor}")
        self.base, self.factor = base, float(factor)
        self.name = f"{base.name}x{factor:g}"

    def sample(self, n, seed=None, generator=None):
        return self.base.sample(n, seed, generator) * self.factor

    def log_prob(self, x):
        return self.base.log_prob(x.to(torch.float64) / self.factor) - 2 * math.log(self.factor)

    def entropy(self, num_samples: int = 200_000, seed: int = 1234) -> EntropyEstimate:
        e = self.base.entropy(num_samples, seed)
        return EntropyEstimate(e.value + 2 * math.log(self.factor), e.stderr,
                               e.method + f", plus 2 log {self.factor:g} for the scaling")

    def bounds(self):
        (x0, x1), (y0, y1) = self.base.bounds()
        f = self.factor
        return (x0 * f, x1 * f), (y0 * f, y1 * f)

    def cache_key(self):
        return self.base.cache_key() + ("scaled", self.factor)


def _control_variate_estimate(f: np.ndarray, g: np.ndarray, method: str) -> EntropyEstimate:
    """Mean of ``f`` using ``g`` (known mean 0) as a control variate with fitted coefficient."""
    beta = float(np.cov(f, g)[0, 1] / np.var(g, ddof=1))
    h = f - beta * g
    return EntropyEstimate(value=float(h.mean()), stderr=float(h.std(ddof=1) / math.sqrt(len(h))),
                           method=method + f" (beta = {beta:.4f}; plain MC stderr {f.std() / math.sqrt(len(f)):.2g})")


def get_dataset(name: str, noise: float = 0.1) -> ToyDataset:
    """Dataset by name: ``"moons"`` (with ``noise``), ``"8gaussians"`` or ``"rings"``; a suffix
    ``"x<f>"`` (``"moonsx10"``) scales it by ``f`` (:class:`ScaledDataset`)."""
    for base in DATASETS:
        if name.startswith(base + "x"):
            return ScaledDataset(get_dataset(base, noise), float(name[len(base) + 1:]))
    if name == "moons":
        return TwoMoons(noise=noise)
    if name in ("8gaussians", "eight_gaussians"):
        return EightGaussians()
    if name == "rings":
        return Rings()
    raise ValueError(f"unknown toy dataset {name!r}; choose one of {DATASETS}")


@lru_cache(maxsize=8)
def make_test_set(name: str, n: int = 10_000, seed: int = 2026, noise: float = 0.1) -> Tensor:
    """The fixed held-out test set ``(n, 2)`` of a dataset (never used for training)."""
    return get_dataset(name, noise).sample(n, seed=seed)


@lru_cache(maxsize=8)
def make_validation_set(name: str, n: int = 5_000, seed: int = 7, noise: float = 0.1) -> Tensor:
    """A fixed validation set ``(n, 2)`` (model selection, GBNF's line search), disjoint seed."""
    return get_dataset(name, noise).sample(n, seed=seed)
