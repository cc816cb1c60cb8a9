"""Batch order and data-dropout masks as pure functions of ``(seed, step)``.

Nothing here carries hidden state: the windows of step ``s`` and their dropout masks are
recomputed from the seed and ``s`` alone. That is what makes a resumed run repeat the
losses of an uninterrupted one exactly, and what lets every DDP process know the whole
global batch (each then takes its own rows).

Order: epoch ``e`` is a random permutation of all windows drawn from a generator seeded
with ``(seed, e)``; step ``s`` takes the ``s % steps_per_epoch``-th block of ``batch_size``
windows of epoch ``s // steps_per_epoch`` (the incomplete tail of a permutation is dropped).

Example::

    >>> order = StepBatchOrder(num_items=10, batch_size=4, seed=0)
    >>> order.steps_per_epoch
    2
    >>> order.global_indices(0) == order.global_indices(0)
    True
    >>> len(order.shard_indices(0, rank=1, world_size=2))
    2
"""
from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import Sampler

from data_pipeline.typed_config import ConfigError

_MASK = 0x7FFF_FFFF_FFFF_FFFF


def _seed(*parts: int) -> int:
    """Mix integers into one 63-bit generator seed (splitmix64 steps)."""
    h = 0x9E37_79B9_7F4A_7C15
    for p in parts:
        h = (h ^ (int(p) & 0xFFFF_FFFF_FFFF_FFFF)) * 0xBF58_476D_1CE4_E5B9 & 0xFFFF_FFFF_FFFF_FFFF
        h ^= h >> 31
    return h & _MASK


def generator(*parts: int) -> torch.Generator:
    """A CPU ``torch.Generator`` seeded by a tuple of integers."""
    return torch.Generator().manual_seed(_seed(*parts))


class StepBatchOrder:
    """Which windows form the (global) batch of each step.

    Args:
        num_items: number of windows in the training set (N).
        batch_size: windows per step summed over all processes (B). If ``N < B`` the
            batches are drawn with replacement from a generator seeded by ``(seed, step)``.
        seed: the run's seed.
    """

    def __init__(self, num_items: int, batch_size: int, seed: int) -> None:
        if num_items < 1 or batch_size < 1:
            raise ValueError(f"need num_items >= 1 and batch_size >= 1, got {num_items}, {batch_size}")
        self.num_items, self.batch_size, self.seed = int(num_items), int(batch_size), int(seed)
        self._cache: tuple[int, torch.Tensor] | None = None

    @property
    def steps_per_epoch(self) -> int:
        """Whole batches per pass over the data (at least 1)."""
        return max(1, self.num_items // self.batch_size)

    def epoch_of(self, step: int) -> int:
        return step // self.steps_per_epoch

    def _permutation(self, epoch: int) -> torch.Tensor:
        if self._cache is None or self._cache[0] != epoch:
            self._cache = (epoch, torch.randperm(self.num_items, generator=generator(self.seed, 1, epoch)))
        return self._cache[1]

    def global_indices(self, step: int) -> list[int]:
        """The ``batch_size`` window indices of step ``step`` (0-based), for all processes."""
        if self.num_items < self.batch_size:
            g = generator(self.seed, 2, step)
            return torch.randint(self.num_items, (self.batch_size,), generator=g).tolist()
        i = step % self.steps_per_epoch
        perm = self._permutation(self.epoch_of(step))
        return perm[i * self.batch_size:(i + 1) * self.batch_size].tolist()

    def shard_indices(self, step: int, rank: int = 0, world_size: int = 1) -> list[int]:
        """This process's rows of the global batch: rows ``rank, rank + world_size, ...``."""
        if self.batch_size % world_size:
            raise ConfigError(f"batch_size {self.batch_size} is not divisible by the {world_size} processes")
        return self.global_indices(step)[rank::world_size]

    def state_dict(self) -> dict:
        """The order is stateless; this records what it is a function of, for checking on resume."""
        return {"num_items": self.num_items, "batch_size": self.batch_size, "seed": self.seed}


class StepBatchSampler(Sampler[list[int]]):
    """A ``DataLoader`` batch sampler yielding this process's indices for steps ``start .. stop-1``."""

    def __init__(self, order: StepBatchOrder, start: int, stop: int, rank: int = 0, world_size: int = 1) -> None:
        self.order, self.start, self.stop, self.rank, self.world_size = order, start, stop, rank, world_size

    def __iter__(self) -> Iterator[list[int]]:
        for step in range(self.start, self.stop):
            yield self.order.shard_indices(step, self.rank, self.world_size)

    def __len__(self) -> int:
        return max(0, self.stop - self.start)


def dropout_keep_mask(seed: int, step: int, batch_size: int, seq_len: int, tau: int, p: float,
                      rank: int = 0, world_size: int = 1) -> torch.Tensor:
    """Data-dropout mask of step ``step``: (batch_size // world_size, seq_len, tau) bool.

    ``keep[b, t, j]`` is False (with probability ``p``) where context pose ``j`` of target
    frame ``t`` of window ``b`` is replaced by the mean pose. Drawn for the whole global
    batch from a generator seeded by ``(seed, step)``; a process takes its own rows, so
    DDP training sees the same masks as one process on the whole batch.
    """
    if p <= 0.0:
        return torch.ones(batch_size // world_size, seq_len, tau, dtype=torch.bool)
    u = torch.rand(batch_size, seq_len, tau, generator=generator(seed, 3, step))
    return (u >= p)[rank::world_size]


def style_dropout(style: torch.Tensor, seed: int, step: int, p: float, rank: int = 0,
                  world_size: int = 1) -> torch.Tensor:
    """``style (B,)`` int64 with each window's style replaced by -1 (none: the zero style vector)
    with probability ``p``, so the model also learns to walk without a style (how it samples a
    style it never saw). Drawn for the whole global batch of ``B * world_size`` windows from a
    generator seeded by ``(seed, step)``, like :func:`dropout_keep_mask`."""
    if p <= 0.0:
        return style
    u = torch.rand(style.shape[0] * world_size, generator=generator(seed, 4, step))[rank::world_size]
    return torch.where(u.to(style.device) < p, torch.full_like(style, -1), style)
