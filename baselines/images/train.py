"""Training loops for the image Real NVP: maximum likelihood, non-saturating GAN and the hybrid.

One loop, :func:`train_image_flow`, with ``paradigm``:

- ``"nll"``: minimise bits/dim of dequantised training images;
- ``"gan"``: the flow is the generator of a non-saturating GAN (:mod:`.gan`);
- ``"hybrid"``: generator loss ``L_G + nll_weight · bits/dim``.

Runs are resumable: with ``checkpoint`` set, the model, discriminator, optimisers, RNG
state, step and history are saved every ``checkpoint_every`` steps and at the end, and a
later call with the same path continues from there (so a killed background run loses
at most ``checkpoint_every`` steps). ``history`` holds one dict per evaluation
(``step``, ``train_bpd``, ``test_bpd``, ``d_loss``, ``g_loss``, ``seconds`` — wall time of the
optimiser steps — and ``cpu_seconds`` — their process CPU time), plus what an ``extra_eval``
hook returns (e.g. FID-LeNet, :func:`baselines.images.experiment.fid_probe`).

Budgets: ``max_seconds`` (wall) and ``max_cpu_seconds`` (process CPU time, the fair clock on a
shared machine) both count only the optimiser steps, evaluations excluded.

GAN stabilisers (all off by default): ``disc_steps`` discriminator steps per generator step,
an R1 gradient penalty on the real images (``r1_weight``, Mescheder et al. 2018), Gaussian
instance noise on both discriminator inputs (``instance_noise``), Adam β₁ of either net.

Example::

    >>> cfg = TrainConfig(paradigm="nll", steps=10, batch_size=32)
    >>> history = train_image_flow(model, data.train, data.test, cfg)   # doctest: +SKIP
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from collections.abc import Callable

import torch
from torch import Tensor

from .gan import Discriminator, discriminator_loss, generator_loss
from .model import ImageFlow, evaluate_bits, evaluate_bits_u
from .preprocess import dequantize
from .safe_load import ImageCheckpointError, load_plain

PARADIGMS = ("nll", "gan", "hybrid")


@dataclass
class TrainConfig:
    """Settings of one training run.

    Attributes:
        paradigm: ``"nll"``, ``"gan"`` or ``"hybrid"``.
        steps: optimiser steps (of the generator/flow).
        batch_size: images per step.
        lr: Adam learning rate of the flow; disc_lr: of the discriminator.
        nll_weight: λ of the hybrid loss (ignored otherwise).
        disc_width: channels of the discriminator's first conv.
        disc_spectral_norm: spectral normalisation of the discriminator's layers.
        grad_clip: max gradient norm of the flow (0: none).
        eval_every: steps between evaluations (train/test bits/dim on ``eval_size`` images).
        eval_size: images of each split used for the periodic evaluations.
        checkpoint_every: steps between checkpoints (when a checkpoint path is given).
        seed: seed of the batches, dequantisation noise and samples.
        disc_warmup: discriminator-only steps before the first generator step (GAN/hybrid),
            e.g. to let it reach its optimum against a generator that already matches the data.
        disc_steps: discriminator steps per generator step (GAN/hybrid).
        r1_weight: γ of the R1 penalty ``γ/2 · E‖∇_u D(u_real)‖²`` in the discriminator loss.
        instance_noise: std of Gaussian noise added to real and fake ``u`` before the
            discriminator (scaled images, about ``[0, 1]``), in its and the generator's step.
        beta1: Adam β₁ of the flow (None: 0.5 for GAN/hybrid, 0.9 for NLL); disc_beta1: of
            the discriminator.
    """

    paradigm: str = "nll"
    steps: int = 1000
    batch_size: int = 64
    lr: float = 1e-3
    disc_lr: float = 2e-4
    nll_weight: float = 0.1
    disc_width: int = 32
    disc_spectral_norm: bool = False
    grad_clip: float = 50.0
    eval_every: int = 100
    eval_size: int = 500
    checkpoint_every: int = 100
    seed: int = 0
    disc_warmup: int = 0
    disc_steps: int = 1
    r1_weight: float = 0.0
    instance_noise: float = 0.0
    beta1: float | None = None
    disc_beta1: float = 0.5

    def __post_init__(self):
        if self.paradigm not in PARADIGMS:
            raise ValueError(f"paradigm must be one of {PARADIGMS}, got {self.paradigm!r}")
        if self.disc_steps < 1:
            raise ValueError(f"disc_steps must be >= 1, got {self.disc_steps}")


def adversarial_d_loss(disc: Discriminator, real: Tensor, fake: Tensor, cfg: TrainConfig,
                       g: torch.Generator) -> Tensor:
    """Discriminator loss on ``real``/``fake`` scaled images ``(B, C, H, W)`` with the
    config's instance noise and R1 penalty (on the noisy real inputs)."""
    real, fake = _noisy(real, cfg, g), _noisy(fake, cfg, g)
    if cfg.r1_weight:
        real = real.detach().requires_grad_(True)
    d_real = disc(real)
    loss = discriminator_loss(d_real, disc(fake))
    if cfg.r1_weight:
        (grad,) = torch.autograd.grad(d_real.sum(), real, create_graph=True)
        loss = loss + 0.5 * cfg.r1_weight * grad.pow(2).flatten(1).sum(1).mean()
    return loss


def _noisy(u: Tensor, cfg: TrainConfig, g: torch.Generator) -> Tensor:
    if not cfg.instance_noise:
        return u
    return u + cfg.instance_noise * torch.randn(u.shape, generator=g, dtype=u.dtype)


def _batch(data: Tensor, n: int, g: torch.Generator) -> Tensor:
    return data[torch.randint(0, len(data), (n,), generator=g)]


def load_state(path: str | Path) -> dict:
    """A checkpoint written by :func:`train_image_flow`, read without running code from it
    (:func:`baselines.images.safe_load.load_plain`; :class:`ImageCheckpointError` naming the file)."""
    return load_plain(path, ("model", "model_cfg"))


def _save(path: Path, state: dict) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(path)  # atomic: a kill never leaves half a checkpoint


def train_image_flow(model: ImageFlow, train: Tensor, test: Tensor | None, cfg: TrainConfig,
                     checkpoint: Path | None = None, continuous: bool = False,
                     progress: bool = True, on_eval: Callable[[dict], None] | None = None,
                     max_seconds: float = math.inf, max_cpu_seconds: float = math.inf,
                     extra_eval: Callable[[ImageFlow], dict] | None = None) -> list[dict]:
    """Train ``model`` in place; return the evaluation history.

    Args:
        model: the flow (its ActNorms are initialised on the first batch unless already done).
        train, test: ``(N, C, H, W)`` integer images, or — with ``continuous=True`` — already
            continuous scaled images ``u`` (a teacher's samples; no dequantisation then).
        cfg: :class:`TrainConfig`.
        checkpoint: file to save to and resume from (None: no checkpoints).
        progress: show a progress bar (one line when stderr is not a terminal).
        on_eval: called with each history entry.
        max_seconds: training-time budget (seconds of optimiser steps, summed over resumed
            calls, evaluations excluded): stop (after saving) once it is spent.
        max_cpu_seconds: the same budget in process CPU seconds (``time.process_time``);
            the stopping step is always evaluated.
        extra_eval: called with the model at every evaluation; its dict is merged into the
            history entry (its time is excluded from both clocks).
    """
    from data_pipeline.progress import progress_bar

    g = torch.Generator().manual_seed(cfg.seed)
    disc = (Discriminator(model.cfg.shape, cfg.disc_width, cfg.disc_spectral_norm) if cfg.paradigm != "nll"
            else None)
    beta1 = cfg.beta1 if cfg.beta1 is not None else (0.5 if disc else 0.9)
    opt = torch.optim.Adam(model.parameters(), cfg.lr, betas=(beta1, 0.999))
    d_opt = torch.optim.Adam(disc.parameters(), cfg.disc_lr, betas=(cfg.disc_beta1, 0.999)) if disc else None
    step, history, elapsed, cpu = 0, [], 0.0, 0.0
    if checkpoint is not None and Path(checkpoint).exists():
        state = load_state(checkpoint)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        if disc is not None:
            disc.load_state_dict(state["disc"])
            d_opt.load_state_dict(state["d_opt"])
        g.set_state(state["rng"])
        step, history, elapsed = state["step"], state["history"], state.get("seconds", 0.0)
        cpu = state.get("cpu_seconds", 0.0)

    def to_u(x: Tensor) -> Tensor:
        return x if continuous else dequantize(x, model.cfg.levels, g)

    def bpd(x: Tensor) -> Tensor:
        return model.bits_per_dim_u(x) if continuous else model.bits_per_dim(x, g)

    def save() -> None:
        if checkpoint is None:
            return
        Path(checkpoint).parent.mkdir(parents=True, exist_ok=True)
        _save(Path(checkpoint), {"model": model.state_dict(), "opt": opt.state_dict(),
                                 "disc": disc.state_dict() if disc else None,
                                 "d_opt": d_opt.state_dict() if d_opt else None, "rng": g.get_state(),
                                 "step": step, "history": history, "seconds": elapsed, "cpu_seconds": cpu,
                                 "model_cfg": model.cfg.to_dict(), "train_cfg": asdict(cfg)})

    def evaluate(d_loss: float, g_loss: float) -> None:
        ev = evaluate_bits_u if continuous else evaluate_bits
        entry = {"step": step, "train_bpd": ev(model, train[: cfg.eval_size]),
                 "test_bpd": ev(model, test[: cfg.eval_size]) if test is not None else None,
                 "d_loss": d_loss, "g_loss": g_loss, "seconds": elapsed, "cpu_seconds": cpu}
        if extra_eval is not None:
            entry.update(extra_eval(model))
            model.train()
        history.append(entry)
        if on_eval:
            on_eval(entry)

    if step == 0:
        with torch.no_grad():
            model.train()
            bpd(_batch(train, max(cfg.batch_size, 256), g))  # ActNorm data-dependent init
        if disc is not None:
            for _ in range(cfg.disc_warmup):
                with torch.no_grad():
                    fake = model.sample_u(cfg.batch_size, generator=g)
                d_loss = adversarial_d_loss(disc, to_u(_batch(train, cfg.batch_size, g)), fake, cfg, g)
                d_opt.zero_grad()
                d_loss.backward()
                d_opt.step()
        evaluate(float("nan") if disc is None or not cfg.disc_warmup else d_loss.item(), float("nan"))
    model.train()
    bar = progress_bar(total=cfg.steps, initial=step, disable=not progress, desc=f"images {cfg.paradigm}")
    d_loss_v = g_loss_v = float("nan")
    while step < cfg.steps and elapsed < max_seconds and cpu < max_cpu_seconds:
        t0, c0 = time.time(), time.process_time()
        x = _batch(train, cfg.batch_size, g)
        if disc is None:
            loss = bpd(x).mean()
            g_loss_v = loss.item()
        else:
            # discriminator step(s): the first on this step's batch, further ones on fresh batches
            for k in range(cfg.disc_steps):
                with torch.no_grad():
                    fake = model.sample_u(cfg.batch_size, generator=g)
                real = to_u(x if k == 0 else _batch(train, cfg.batch_size, g))
                d_loss = adversarial_d_loss(disc, real, fake, cfg, g)
                d_opt.zero_grad()
                d_loss.backward()
                d_opt.step()
            d_loss_v = d_loss.item()
            # generator step
            fake = model.sample_u(cfg.batch_size, generator=g)
            loss = generator_loss(disc(_noisy(fake, cfg, g)))
            g_loss_v = loss.item()
            if cfg.paradigm == "hybrid":
                loss = loss + cfg.nll_weight * bpd(x).mean()
        opt.zero_grad()
        if torch.isfinite(loss):
            loss.backward()
            if cfg.grad_clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            opt.step()
        step += 1
        elapsed += time.time() - t0
        cpu += time.process_time() - c0
        bar.update(1)
        bar.set_postfix(loss=f"{loss.item():.3f}")
        if step % cfg.eval_every == 0 or step == cfg.steps:
            evaluate(d_loss_v, g_loss_v)
        if step % cfg.checkpoint_every == 0 or step == cfg.steps:
            save()
        if elapsed >= max_seconds or cpu >= max_cpu_seconds:
            if not history or history[-1]["step"] != step:
                evaluate(d_loss_v, g_loss_v)
            save()
            break
    bar.close()
    save()
    return history


def load_checkpoint_model(path: Path) -> ImageFlow:
    """The :class:`ImageFlow` saved by :func:`train_image_flow` at ``path`` (eval mode)."""
    from .model import ImageFlowConfig

    state = load_state(path)
    model = ImageFlow(ImageFlowConfig.from_dict(state["model_cfg"]))
    model.load_state_dict(state["model"])
    return model.eval()


__all__ = ["PARADIGMS", "TrainConfig", "adversarial_d_loss", "train_image_flow", "load_checkpoint_model", "load_state",
           "ImageCheckpointError"]
