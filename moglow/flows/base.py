"""The one bijection interface of the project.

Every invertible piece (MoGlow's steps, McMoGlow's matrix coupling, the toy and image
baselines) subclasses :class:`Bijection`:

- ``forward(x, cond=None) -> (z, logdet)`` maps data to latent; ``logdet`` is
  log|det dz/dx| per example, with shape ``x.shape[:-event_dims]``.
- ``inverse(z, cond=None) -> (x, logdet)`` maps back; its ``logdet`` is log|det dx/dz|,
  so forward and inverse log-dets sum to zero.

Recurrent pieces (couplings whose network is an LSTM or GRU) also carry state. The state is
never stored on the module: ``forward_stateful(x, cond, state) -> (z, logdet, state)`` and
``inverse_stateful`` take it in and hand it back, which is what makes frame-by-frame
sampling, independent samples in one batch and multi-GPU training correct. Stateless
bijections inherit default stateful methods that pass ``state`` through untouched, so a
:class:`Compose` of mixed parts threads one state per part.

Vector bijections act on the last axis: ``x`` is ``(..., D)``; MoGlow uses
``(batch, time, D)`` and gets a log-det per frame, ``(batch, time)``. Recurrent ones
need ``(batch, time, D)`` exactly. Image bijections act on ``(batch, C, H, W)``
(``event_dims = 3``).
"""
from __future__ import annotations

from typing import Any
from collections.abc import Iterable, Sequence

from torch import Tensor, nn

State = Any  # None, a tensor tuple, or a tuple of per-part states (see Compose)


class Bijection(nn.Module):
    """Base class. Subclasses implement ``forward`` and ``inverse``; recurrent ones override
    ``forward_stateful`` / ``inverse_stateful`` and define the plain methods through them."""

    #: number of trailing axes that make up one example (1 for vectors, 3 for images)
    event_dims: int = 1

    def forward(self, x: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:  # noqa: D102
        raise NotImplementedError

    def inverse(self, z: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:  # noqa: D102
        raise NotImplementedError

    def forward_stateful(self, x: Tensor, cond: Tensor | None, state: State) -> tuple[Tensor, Tensor, State]:
        """Like ``forward`` but takes and returns recurrent state (stateless parts pass it through)."""
        z, logdet = self.forward(x, cond)
        return z, logdet, state

    def inverse_stateful(self, z: Tensor, cond: Tensor | None, state: State) -> tuple[Tensor, Tensor, State]:
        """Like ``inverse`` but takes and returns recurrent state (stateless parts pass it through)."""
        x, logdet = self.inverse(z, cond)
        return x, logdet, state

    def decode_stateful(self, z: Tensor, cond: Tensor | None, state: State) -> tuple[Tensor, State]:
        """``inverse_stateful`` without the log-det: ``(x, state)`` (sampling needs no log-det;
        :class:`Compose` then skips summing its parts')."""
        x, _, state = self.inverse_stateful(z, cond, state)
        return x, state

    @property
    def is_recurrent(self) -> bool:
        return False


class StatefulBijection(Bijection):
    """A bijection written once, in its stateful form: subclasses implement
    ``forward_stateful`` / ``inverse_stateful``; the plain methods run them from fresh state."""

    def forward(self, x: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        z, logdet, _ = self.forward_stateful(x, cond, None)
        return z, logdet

    def inverse(self, z: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        x, logdet, _ = self.inverse_stateful(z, cond, None)
        return x, logdet


class PerPart(tuple):
    """Conditions for a :class:`Compose`, one per part (part ``i`` gets ``conds[i]``), instead
    of one condition handed to every part: e.g. MoGlow gives each flow step its coupling's
    share of the condition, computed for all steps in one product
    (:class:`moglow.flows.coupling.ProjectedCondition`).

    Example::

        >>> import torch
        >>> from moglow.flows.actnorm import ActNorm
        >>> flow = Compose([ActNorm(2), ActNorm(2)])
        >>> z, logdet = flow(torch.randn(3, 2), PerPart([None, None]))   # one (ignored) condition each
        >>> z.shape, logdet.shape
        (torch.Size([3, 2]), torch.Size([3]))
    """


class Compose(StatefulBijection):
    """Bijections applied in order: ``forward`` runs parts first to last, ``inverse`` last to
    first. The recurrent state of a Compose is a tuple with one entry per part (``None`` as a
    whole means "fresh state for every part"). ``cond`` goes to every part, or, given as a
    :class:`PerPart`, its ``i``-th entry to part ``i``."""

    def __init__(self, parts: Iterable[Bijection]):
        super().__init__()
        self.parts = nn.ModuleList(parts)
        if len(self.parts):
            self.event_dims = self.parts[0].event_dims

    @property
    def is_recurrent(self) -> bool:
        return any(p.is_recurrent for p in self.parts)

    def _states(self, state: State) -> list:
        return [None] * len(self.parts) if state is None else list(state)

    def _conds(self, cond: Any) -> Sequence:
        """One condition per part."""
        if not isinstance(cond, PerPart):
            return [cond] * len(self.parts)
        if len(cond) != len(self.parts):
            raise ValueError(f"Compose of {len(self.parts)} parts got {len(cond)} per-part conditions")
        return cond

    def forward_stateful(self, x, cond, state):
        states, conds = self._states(state), self._conds(cond)
        total = None
        for i, part in enumerate(self.parts):
            x, ld, states[i] = part.forward_stateful(x, conds[i], states[i])
            total = ld if total is None else total + ld
        return x, _as_logdet(total, x, self.event_dims), tuple(states)

    def inverse_stateful(self, z, cond, state):
        states, conds = self._states(state), self._conds(cond)
        total = None
        for i in reversed(range(len(self.parts))):
            z, ld, states[i] = self.parts[i].inverse_stateful(z, conds[i], states[i])
            total = ld if total is None else total + ld
        return z, _as_logdet(total, z, self.event_dims), tuple(states)

    def decode_stateful(self, z, cond, state):
        states, conds = self._states(state), self._conds(cond)
        for i in reversed(range(len(self.parts))):
            z, states[i] = self.parts[i].decode_stateful(z, conds[i], states[i])
        return z, tuple(states)


class Inverse(Bijection):
    """Swaps the directions of a bijection (``Inverse(f).forward == f.inverse``)."""

    def __init__(self, inner: Bijection):
        super().__init__()
        self.inner = inner
        self.event_dims = inner.event_dims

    @property
    def is_recurrent(self) -> bool:
        return self.inner.is_recurrent

    def forward(self, x, cond=None):
        return self.inner.inverse(x, cond)

    def inverse(self, z, cond=None):
        return self.inner.forward(z, cond)

    def forward_stateful(self, x, cond, state):
        return self.inner.inverse_stateful(x, cond, state)

    def inverse_stateful(self, z, cond, state):
        return self.inner.forward_stateful(z, cond, state)


def _as_logdet(total: Tensor | float | None, x: Tensor, event_dims: int) -> Tensor:
    """A zero log-det tensor of the right shape when no part contributed one."""
    if isinstance(total, Tensor):
        return total
    return x.new_zeros(x.shape[: x.dim() - event_dims])
