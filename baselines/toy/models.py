"""Density models of the toy baselines and one config that builds any of them.

- :class:`FlowModel`: a bijection on D features with a standard normal base;
  ``log_prob(x)`` is exact.
- :class:`AugmentedFlowModel`: an :class:`~baselines.toy.augment.Augmentation` on D + k
  features; trains on the joint NLL, reports the lower bound and an importance-sampled
  ``log p(x)``, never the raw joint NLL.
- :class:`~baselines.toy.gbnf.GBNF`: a mixture of either of these (see ``gbnf.py``).

Families (``ToyModelConfig.family``):

- ``"glow"``: K steps of (ActNorm, LULinear, affine Coupling with an MLP);
- ``"realnvp"``: an ActNorm then K affine couplings with alternating halves;
- ``"shared"``: the shared-weight INN (``shared.py``): one LULinear + bias/ActNorm +
  activation (Leaky ReLU or PAAF) step reused K times, with an input ActNorm in front
  (unless ``input_norm=False``) and an output ActNorm behind (4 parameters each in 2-D).

Any of them takes ``augment = k > 0`` extra noise dimensions and ``components = C > 0``
for GBNF.

Example::

    >>> cfg = ToyModelConfig(family="glow", num_steps=4, augment=2)
    >>> model = build_model(cfg)
    >>> nll = -model.log_prob(torch.randn(100, 2)).mean()
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import Tensor, nn

from baselines.toy.augment import Augmentation
from baselines.toy.shared import shared_inn
from moglow.flows.actnorm import ActNorm
from moglow.flows.base import Bijection, Compose
from moglow.flows.coupling import Coupling
from moglow.flows.distributions import StandardNormal
from moglow.flows.glow import glow_flow
from data_pipeline.typed_config import ConfigError

FAMILIES = ("glow", "realnvp", "shared")


@dataclass
class ToyModelConfig:
    """Everything that defines a toy model (serialised into every results JSON)."""

    family: str = "glow"            # "glow" | "realnvp" | "shared"
    num_steps: int = 4              # K
    hidden: int = 64                # coupling MLP width (glow, realnvp)
    num_layers: int = 2             # coupling MLP hidden layers
    scale: str = "exp"              # affine coupling scale: "exp" (soft-clamped) | "sigmoid"
    # shared-weight INN
    activation: str = "leaky"       # "leaky" | "paaf"
    negative_slope: float = 0.5     # Leaky ReLU
    num_breakpoints: int = 8        # PAAF
    paaf_init: str = "fixed"        # "fixed" (evenly on paaf_span) | "data" (quantiles of first batch)
    paaf_span: tuple = (-2.0, 2.0)
    step_norm: bool = False         # ActNorm inside the shared step, before the activation
    input_norm: bool = True         # ActNorm on the input of the shared INN
    logdet_gradient: str = "smoothed"  # activation log-det gradient: "smoothed" surrogate | "plain" autograd
    # augmentation
    augment: int = 0                # k extra noise dimensions
    noise_std: float = 1.0          # σ of the appended noise
    is_samples: int = 128           # importance samples for the reported log p(x)
    # GBNF
    components: int = 0             # 0: a single flow; C >= 1: GBNF with C components

    def label(self) -> str:
        """Short human-readable name."""
        if self.family == "shared":
            act = "LeakyReLU" if self.activation == "leaky" else f"PAAF({self.paaf_init})"
            name = f"shared INN K={self.num_steps} {act}" + (" +stepnorm" if self.step_norm else "")
            if not self.input_norm:
                name += " (no input norm)"
            if self.logdet_gradient != "smoothed":
                name += f" [{self.logdet_gradient} gradient]"
        else:
            name = f"{'Glow' if self.family == 'glow' else 'RealNVP'} K={self.num_steps} h={self.hidden}"
        if self.augment:
            name += f" +aug{self.augment}"
        if self.components:
            name = f"GBNF {self.components}x[{name}]"
        return name

    def to_dict(self) -> dict:
        d = asdict(self)
        d["paaf_span"] = list(self.paaf_span)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "ToyModelConfig":
        unknown = set(d) - set(cls.__dataclass_fields__)
        if unknown:
            raise ConfigError(f"unknown ToyModelConfig keys: {sorted(unknown)}")
        d = dict(d)
        if "paaf_span" in d:
            d["paaf_span"] = tuple(d["paaf_span"])
        return cls(**d)


def build_bijection(cfg: ToyModelConfig, dim: int) -> Bijection:
    """The flow of one model on ``dim`` features (data + augmented)."""
    affine = {"transform": "affine", "transform_options": {"scale": cfg.scale}}
    if cfg.family == "glow":
        return glow_flow(dim, cfg.num_steps, net="mlp", hidden=cfg.hidden, num_layers=cfg.num_layers, **affine)
    if cfg.family == "realnvp":
        parts: list[Bijection] = [ActNorm(dim)]
        for k in range(cfg.num_steps):
            parts.append(Coupling(dim, net="mlp", hidden=cfg.hidden, num_layers=cfg.num_layers,
                                  swap=bool(k % 2), **affine))
        return Compose(parts)
    if cfg.family == "shared":
        inn = shared_inn(dim, cfg.num_steps, activation=cfg.activation, normalize=cfg.step_norm,
                         negative_slope=cfg.negative_slope, num_breakpoints=cfg.num_breakpoints,
                         paaf_init=cfg.paaf_init, paaf_span=tuple(cfg.paaf_span),
                         logdet_gradient=cfg.logdet_gradient)
        return Compose([ActNorm(dim), inn, ActNorm(dim)] if cfg.input_norm else [inn, ActNorm(dim)])
    raise ValueError(f"unknown toy model family {cfg.family!r}; choose one of {FAMILIES}")


class FlowModel(nn.Module):
    """A flow ``z = f(x)`` on ``dim`` features with base N(0, I): ``log p(x) = log N(f(x)) + log|det|``."""

    def __init__(self, flow: Bijection, dim: int):
        super().__init__()
        self.flow, self.dim = flow, dim
        self.base = StandardNormal(dim)

    def log_prob(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Exact ``log p(x)`` in nats, ``x (N, D)`` -> ``(N,)`` (``generator`` unused)."""
        z, logdet = self.flow(x)
        return self.base.log_prob(z) + logdet

    def loss(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Training loss: mean NLL of the batch ``x (N, D)``, nats per point."""
        return -self.log_prob(x).mean()

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` samples ``(n, D)``."""
        z = torch.randn(n, self.dim, generator=generator)
        return self.flow.inverse(z)[0]

    @torch.no_grad()
    def evaluate(self, x: Tensor, generator: torch.Generator | None = None) -> dict:
        """``{"log_prob": (N,) per point}`` on a test set ``x (N, D)``."""
        return {"log_prob": _chunked(lambda c: self.log_prob(c), x)}

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


class AugmentedFlowModel(nn.Module):
    """A flow on ``[x, ε]``, ``ε ~ N(0, σ² I_k)`` appended to the data ``x (N, D)``.

    ``log p(x)`` is intractable; :meth:`log_prob` is the importance-sampled estimate with
    ``num_samples`` noise draws (q itself as proposal), :meth:`bound_log_prob` the lower
    bound ``log p(x, ε) − log q(ε)`` for one draw (its mean over ε is
    ``E log p(x, ε) + H(q)``).
    """

    def __init__(self, flow: Augmentation, is_samples: int = 128):
        super().__init__()
        self.flow = flow
        self.dim, self.extra = flow.data_dim, flow.extra_dims
        self.is_samples = is_samples
        self.base = StandardNormal(flow.total_dim)

    def joint_log_prob(self, x: Tensor, eps: Tensor) -> Tensor:
        """``log p(x, ε)``, ``x (..., D)``, ``eps (..., k)`` -> ``(...)``."""
        z, logdet = self.flow(torch.cat([x, eps], -1))
        return self.base.log_prob(z) + logdet

    def bound_log_prob(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """One-sample lower bound terms ``log p(x, ε) + H(q)`` per point, ``(N,)``.

        Uses the exact noise entropy rather than ``−log q(ε)`` (same mean, less variance)."""
        eps = self.flow.sample_noise(x.shape[:-1], generator, x.dtype)
        return self.joint_log_prob(x, eps) + self.flow.noise_entropy()

    def log_prob(self, x: Tensor, generator: torch.Generator | None = None,
                 num_samples: int | None = None) -> Tensor:
        """Importance-sampled ``log p(x) ≈ log mean_s p(x, ε_s)/q(ε_s)``, ``(N,)`` nats."""
        s = num_samples or self.is_samples
        eps = self.flow.sample_noise((s,) + tuple(x.shape[:-1]), generator, x.dtype)  # (S, N, k)
        xs = x.unsqueeze(0).expand(s, *x.shape)
        d, k = self.dim, self.extra
        log_joint = self.joint_log_prob(xs.reshape(-1, d), eps.reshape(-1, k)).reshape(eps.shape[:-1])
        log_w = log_joint - self.flow.noise_log_prob(eps)
        return torch.logsumexp(log_w, 0) - math.log(s)

    def loss(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Training loss: the negative lower bound, ``−mean log p(x, ε) − H(q)``."""
        return -self.bound_log_prob(x, generator).mean()

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` data samples ``(n, D)`` (the noise coordinates are dropped)."""
        z = torch.randn(n, self.flow.total_dim, generator=generator)
        return self.flow.inverse(z)[0][:, : self.dim]

    @torch.no_grad()
    def evaluate(self, x: Tensor, generator: torch.Generator | None = None) -> dict:
        """Per-point ``log_prob`` (importance-sampled) and ``bound_log_prob`` on ``x (N, D)``."""
        chunk = max(1, 65536 // self.is_samples)
        return {"log_prob": _chunked(lambda c: self.log_prob(c, generator), x, chunk),
                "bound_log_prob": _chunked(lambda c: self.bound_log_prob(c, generator), x)}

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


def _chunked(fn, x: Tensor, size: int = 8192) -> Tensor:
    return torch.cat([fn(c) for c in x.split(size)])


def build_single(cfg: ToyModelConfig, dim: int = 2) -> nn.Module:
    """One flow (plain or augmented) from ``cfg``, ignoring ``cfg.components``."""
    if cfg.augment:
        flow = Augmentation(build_bijection(cfg, dim + cfg.augment), dim, cfg.augment, cfg.noise_std)
        return AugmentedFlowModel(flow, cfg.is_samples)
    return FlowModel(build_bijection(cfg, dim), dim)


def build_model(cfg: ToyModelConfig, dim: int = 2) -> nn.Module:
    """The model ``cfg`` describes: a :class:`FlowModel`, an :class:`AugmentedFlowModel`, or
    (``cfg.components >= 1``) an untrained :class:`~baselines.toy.gbnf.GBNF` of them."""
    if cfg.components:
        from baselines.toy.gbnf import GBNF

        return GBNF(lambda: build_single(cfg, dim), cfg.components)
    return build_single(cfg, dim)
