"""Small synthetic data and configs for the training tests (not a test module itself)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from moglow.config import ExperimentConfig, TrainConfig
from moglow.model_config import ModelConfig


@dataclass
class SyntheticSequence:
    """Duck-typed FeatureSequence: poses (F, D), control (F, C), already normalised."""

    poses: np.ndarray
    control: np.ndarray
    source: str
    style: str | None = None


class SyntheticData:
    """Duck-typed PreparedData: smooth noisy sinusoids driven by the control signal.

    ``normalised = True`` tells the trainer the sequences need no scaler.
    """

    normalised = True

    def __init__(self, n_train: int = 6, n_val: int = 2, frames: int = 80, pose_dim: int = 6,
                 control_dim: int = 3, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)

        def sequence(name: str) -> SyntheticSequence:
            control = rng.normal(scale=0.5, size=(frames, control_dim)).astype(np.float32)
            phase = np.cumsum(1.0 + 0.3 * control[:, :1], axis=0) * 0.3
            poses = np.sin(phase + np.arange(pose_dim)) + 0.1 * rng.normal(size=(frames, pose_dim))
            return SyntheticSequence(poses.astype(np.float32), control, name)

        self.splits = {"train": [sequence(f"train_{i}.bvh") for i in range(n_train)],
                       "val": [sequence(f"val_{i}.bvh") for i in range(n_val)], "test": []}
        self.pose_dim, self.control_dim = pose_dim, control_dim
        self.style_names: list[str] = []
        self.data_hash = f"synthetic-{seed}"


def tiny_config(**train) -> ExperimentConfig:
    """A very small MoGlow (2 flow steps, 16 hidden units) and short windows, on the CPU;
    no PNG or TensorBoard (slow to import and draw) unless asked for."""
    defaults = dict(steps=12, batch_size=8, seq_len=8, data_dropout=0.5, lr=1e-3, warmup_steps=2,
                    val_every=6, val_batches=2, checkpoint_every=6, log_every=2, plot_every=None,
                    tensorboard=False, device="cpu")
    defaults.update(train)
    return ExperimentConfig(name="test", model=ModelConfig(num_steps=2, hidden=16, num_layers=1, tau=3),
                            train=TrainConfig(**defaults))


def inject_nan(trainer, steps):
    """Make the training loss NaN at each of ``steps`` (0-based optimiser steps), once each, by
    wrapping the module the trainer trains (the trainer itself carries no test hook). Returns it."""
    wrap, done = trainer._wrap, set()

    def wrapped():
        inner = wrap()

        def loss(batch):
            logp = inner(batch)
            if trainer.step in steps and trainer.step not in done:
                done.add(trainer.step)
                return logp * float("nan")
            return logp
        return loss

    trainer._wrap = wrapped
    return trainer
