"""The learning-rate schedule of training: :class:`LRSchedule` (warm-up, then constant or Noam
decay, lowered at each rollback); its state is stored in checkpoints (``scheduler``)."""
from __future__ import annotations

import math

from moglow.config import TrainConfig

__all__ = ["LRSchedule"]


class LRSchedule:
    """Learning rate of step ``s`` (0-based): warm-up, then constant or Noam decay, times ``scale``.

    ``constant``: ``lr * min(1, (s+1)/warmup)``; ``noam``: ``lr * min((s+1)/warmup,
    sqrt(warmup/(s+1)))`` clamped below at ``min_lr`` after the warm-up. ``scale`` starts
    at 1 and is multiplied by ``rollback_lr_factor`` at each rollback.
    """

    def __init__(self, cfg: TrainConfig) -> None:
        self.kind, self.lr, self.warmup, self.min_lr = cfg.schedule, cfg.lr, cfg.warmup_steps, cfg.min_lr
        self.scale = 1.0

    def base(self, step: int) -> float:
        n = step + 1
        warm = min(1.0, n / self.warmup) if self.warmup > 0 else 1.0
        if self.kind == "constant" or n <= self.warmup:
            return self.lr * warm
        return max(self.min_lr, self.lr * math.sqrt(self.warmup / n))

    def __call__(self, step: int) -> float:
        return self.base(step) * self.scale

    def state_dict(self) -> dict:
        return {"kind": self.kind, "lr": self.lr, "warmup": self.warmup, "min_lr": self.min_lr, "scale": self.scale}

    def load_state_dict(self, state: dict) -> None:
        self.scale = float(state["scale"])
