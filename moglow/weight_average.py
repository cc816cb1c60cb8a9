"""An exponential moving average of a model's weights (Polyak averaging) for training.

After each optimiser step the average moves towards the current weights::

    d_t = min(decay, (1 + t) / (10 + t))          # t: updates so far; short memory early on
    avg = d_t * avg + (1 - d_t) * weights

so it forgets the initialisation quickly and, late in training, averages the last
~``1 / (1 - decay)`` steps: the iterate's step-to-step noise (the learning rate never reaches 0)
averages out. Floating-point parameters and buffers are averaged; integer buffers (counters,
"initialised" flags) are copied. :meth:`WeightAverage.swapped_in` lends the average to the model
for validation or saving and puts the trained weights back after.

Example::

    >>> import torch
    >>> net = torch.nn.Linear(2, 1)
    >>> avg = WeightAverage(net, decay=0.9)
    >>> with torch.no_grad():
    ...     _ = net.weight.add_(1.0)
    >>> avg.update(net)
    >>> with avg.swapped_in(net):
    ...     inside = net.weight.clone()
    >>> bool((inside < net.weight).all())   # the average lags the trained weights
    True
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn


class WeightAverage:
    """The moving average of ``model``'s state (same keys as ``model.state_dict()``).

    Args:
        model: the model whose weights are averaged; the average starts as a copy of them.
        decay: the average's decay per update in (0, 1), e.g. 0.998 (memory ~500 updates).
    """

    def __init__(self, model: nn.Module, decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"decay must be in (0, 1), got {decay}")
        self.decay = float(decay)
        self.updates = 0
        self.state = {k: v.detach().clone() for k, v in model.state_dict().items()}

    def current_decay(self) -> float:
        """The decay of the next update: ``min(decay, (1 + t) / (10 + t))``."""
        return min(self.decay, (1.0 + self.updates) / (10.0 + self.updates))

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Move the average towards ``model``'s current weights (one optimiser step)."""
        d = self.current_decay()
        for k, v in model.state_dict().items():
            mine = self.state[k]
            if mine.is_floating_point():
                mine.lerp_(v.detach().to(mine.dtype), 1.0 - d)
            else:
                mine.copy_(v)
        self.updates += 1

    @contextlib.contextmanager
    def swapped_in(self, model: nn.Module) -> Iterator[nn.Module]:
        """``model`` holding the averaged weights inside the block, its own weights again after."""
        own = {k: v.detach().clone() for k, v in model.state_dict().items()}
        model.load_state_dict(self.state)
        try:
            yield model
        finally:
            model.load_state_dict(own)

    def state_dict(self) -> dict:
        """``{"decay", "updates", "state"}`` for a checkpoint."""
        return {"decay": self.decay, "updates": self.updates, "state": self.state}

    def load_state_dict(self, d: dict) -> None:
        """Restore from :meth:`state_dict` (the tensors are copied onto this average's devices)."""
        if set(d["state"]) != set(self.state):
            raise KeyError("the saved weight average holds other tensors than this model")
        self.decay, self.updates = float(d["decay"]), int(d["updates"])
        for k, v in d["state"].items():
            self.state[k].copy_(v)


__all__ = ["WeightAverage"]
