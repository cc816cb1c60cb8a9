"""Training loop and evaluation of the toy models.

Training draws a fresh batch from the dataset at every step (no epochs, no overfitting);
Adam with a short linear warm-up and cosine decay; gradient-norm clipping. Evaluation
reports, in nats per point, the test NLL and the gap to the data's entropy (the floor):
the gap is the paired mean of ``log p(x) − log q(x)`` over the same test points, an
unbiased estimate of KL(p‖q) that equals NLL − entropy in expectation but without the
sampling noise of the test set's own NLL.

Example::

    >>> from baselines.toy.data import get_dataset, make_test_set
    >>> from baselines.toy.models import ToyModelConfig, build_model
    >>> ds = get_dataset("moons")
    >>> model = build_model(ToyModelConfig(family="glow", num_steps=2, hidden=16))
    >>> test = make_test_set("moons")
    >>> before = evaluate(model, ds, test)["gap"]                  # nats per point above the entropy floor
    >>> history = train_model(model, ds, TrainConfig(steps=150), progress=False)
    >>> evaluate(model, ds, test)["gap"] < before - 0.5             # untrained ~1.5, after 150 steps ~0.55
    True
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from collections.abc import Callable, Iterable

import numpy as np
import torch
from torch import Tensor, nn

from baselines.toy.data import ToyDataset


@dataclass
class TrainConfig:
    """Optimisation settings (serialised into every results JSON)."""

    steps: int = 2000
    batch_size: int = 512
    lr: float = 3e-3
    warmup: int = 100           # linear warm-up steps
    final_lr_ratio: float = 0.02  # cosine decay to lr * this
    grad_clip: float = 10.0     # max gradient norm (0: off)
    weight_decay: float = 0.0
    seed: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


def lr_factor(step: int, steps: int, warmup: int, final_ratio: float) -> float:
    """Multiplier of the base learning rate at ``step`` (0-based) of ``steps``."""
    if warmup and step < warmup:
        return (step + 1) / warmup
    t = (step - warmup) / max(1, steps - warmup)
    return final_ratio + (1 - final_ratio) * 0.5 * (1 + math.cos(math.pi * min(1.0, t)))


def fit(params: Iterable[nn.Parameter], loss_fn: Callable[[Tensor], Tensor], batch_fn: Callable[[int], Tensor],
        steps: int, cfg: TrainConfig, progress: bool = True, desc: str = "train",
        on_step: Callable[[int, float], None] | None = None) -> list[float]:
    """Generic loop: ``steps`` Adam steps on ``loss_fn(batch_fn(step))``; returns the losses.

    A non-finite loss stops training with a ``FloatingPointError`` naming the step.
    """
    from data_pipeline.progress import progress_bar

    params = [p for p in params if p.requires_grad]
    opt = torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: lr_factor(s, steps, min(cfg.warmup, steps // 4), cfg.final_lr_ratio))
    losses: list[float] = []
    bar = progress_bar(range(steps), desc=desc, disable=not progress, leave=False, mininterval=1.0)
    for step in bar:
        loss = loss_fn(batch_fn(step))
        if not torch.isfinite(loss):
            raise FloatingPointError(f"{desc}: non-finite loss {loss.item()} at step {step}")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip:
            torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
        opt.step()
        sched.step()
        losses.append(loss.item())
        if step % 50 == 0:
            bar.set_postfix(loss=f"{np.mean(losses[-50:]):.4f}")
        if on_step is not None:
            on_step(step, losses[-1])
    return losses


def data_batches(dataset: ToyDataset, batch_size: int, seed: int) -> Callable[[int], Tensor]:
    """``step -> (batch_size, 2)`` fresh samples from a seeded numpy generator."""
    rng = np.random.default_rng(seed)
    return lambda step: dataset.sample(batch_size, generator=rng)


def train_model(model: nn.Module, dataset: ToyDataset, cfg: TrainConfig, progress: bool = True,
                desc: str = "train") -> dict:
    """Maximum-likelihood training of a FlowModel / AugmentedFlowModel on fresh samples.

    Returns ``{"losses": [...], "wall_s": seconds}``. (GBNF has its own ``fit_gbnf``.)
    """
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed + 1)
    model.train()
    t0 = time.perf_counter()
    losses = fit(model.parameters(), lambda x: model.loss(x, gen),
                 data_batches(dataset, cfg.batch_size, cfg.seed), cfg.steps, cfg, progress, desc)
    model.eval()
    return {"losses": losses, "wall_s": time.perf_counter() - t0}


@torch.no_grad()
def evaluate(model: nn.Module, dataset: ToyDataset, x_test: Tensor, seed: int = 0) -> dict:
    """Test metrics in nats per point.

    Returns ``nll`` (mean −log q(x)) with ``nll_stderr``; ``gap`` (paired mean of
    ``log p(x) − log q(x)``, ≈ KL(p‖q)) with ``gap_stderr``; ``floor`` (the entropy) with
    ``floor_stderr``; and for augmented models ``nll_bound``/``gap_bound`` (from the lower
    bound; ``nll``/``gap`` there use the importance-sampled estimate).
    """
    was_training = model.training
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    out = model.evaluate(x_test, gen)
    true_lp = dataset.log_prob(x_test)
    ent = dataset.entropy()
    res = {"floor": ent.value, "floor_stderr": ent.stderr, "num_test": int(x_test.shape[0])}
    for key, prefix in (("log_prob", ""), ("bound_log_prob", "_bound")):
        if key not in out:
            continue
        lp = out[key].to(torch.float64)
        n = lp.numel()
        gap = true_lp - lp
        res["nll" + prefix] = float(-lp.mean())
        res["nll" + prefix + "_stderr"] = float(lp.std() / math.sqrt(n))
        res["gap" + prefix] = float(gap.mean())
        res["gap" + prefix + "_stderr"] = float(gap.std() / math.sqrt(n))
        res["finite" + prefix] = bool(torch.isfinite(lp).all())
    model.train(was_training)
    return res


@torch.no_grad()
def density_on_grid(model: nn.Module, bounds, resolution: int = 200, seed: int = 0,
                    is_samples: int = 32) -> tuple[Tensor, Tensor, Tensor]:
    """Model log-density on a ``resolution²`` grid over ``bounds = ((x0, x1), (y0, y1))``.

    Augmented models use ``is_samples`` importance samples per point (the estimate of
    ``p(x)`` itself is unbiased, so the grid integral stays a valid check).
    Returns ``(xs (R,), ys (R,), log_q (R, R))`` with ``log_q[i, j]`` at ``(xs[j], ys[i])``
    (image layout: rows are y).
    """
    was_training = model.training
    model.eval()
    (x0, x1), (y0, y1) = bounds
    xs = torch.linspace(x0, x1, resolution)
    ys = torch.linspace(y0, y1, resolution)
    yy, xx = torch.meshgrid(ys, xs, indexing="ij")
    pts = torch.stack([xx, yy], -1).reshape(-1, 2)
    gen = torch.Generator().manual_seed(seed)
    if hasattr(model, "is_samples"):
        log_q = torch.cat([model.log_prob(c, gen, num_samples=is_samples) for c in pts.split(4096)])
    else:
        log_q = model.evaluate(pts, gen)["log_prob"]
    log_q = log_q.reshape(resolution, resolution)
    model.train(was_training)
    return xs, ys, log_q


def grid_integral(xs: Tensor, ys: Tensor, log_q: Tensor) -> float:
    """Riemann sum of ``exp(log_q)`` over the grid from :func:`density_on_grid`."""
    cell = (xs[1] - xs[0]) * (ys[1] - ys[0])
    return float(torch.exp(log_q.to(torch.float64)).sum() * cell)
