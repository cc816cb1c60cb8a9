"""Transform families: the elementwise (or matrix) maps that fill a coupling's slot.

A coupling splits its input into ``x1`` (left unchanged, read by the network) and ``x2``
(transformed); the network turns ``[x1, cond]`` into ``params`` and a
:class:`TransformFamily` maps ``x2`` with them. Families register under a name so that a
config value picks one (``get_transform("affine", scale="exp")``). A family from another
package plugs in through the ``moglow.transforms`` entry-point group (``name =
package.module:factory``, declared in that package's ``setup.py``; McMoGlow's ``"matrix"``
arrives that way): the core finds it by name and never imports it by name.

Example::

    >>> t = get_transform("affine", scale="sigmoid")
    >>> x2, params = torch.randn(5, 3), torch.randn(5, t.num_params(3))
    >>> y2, ld = t(x2, params)
    >>> torch.allclose(t.inverse(y2, params)[0], x2, atol=1e-6)
    True
"""
from __future__ import annotations

import inspect
from importlib.metadata import entry_points
from collections.abc import Callable

import torch
from torch import Tensor, nn


class TransformFamily(nn.Module):
    """Interface of a coupling's transform (subclass and register it).

    ``forward(x2 (..., d), params (..., P)) -> (y2 (..., d), logdet (...))`` with
    ``logdet = log|det dy2/dx2|``; ``inverse(y2, params) -> (x2, logdet)`` with
    ``logdet = log|det dx2/dy2|`` (the negative of the forward one), as for bijections.
    ``P = num_params(d)``. A zero ``params`` vector should give a well-conditioned map
    (couplings zero-initialise their network's output layer).

    A family may report training diagnostics: ``diagnostic_names`` lists the numbers and
    :meth:`diagnostics` computes them for a whole model on a validation batch; the trainer
    logs them at each validation of a model that uses the family, without knowing the family.
    """

    #: names of the numbers :meth:`diagnostics` returns (columns of the training log)
    diagnostic_names: tuple[str, ...] = ()

    @classmethod
    def diagnostics(cls, model: nn.Module, batch: dict[str, Tensor]) -> dict[str, float]:
        """Numbers named in ``diagnostic_names`` for ``model`` (which uses this family) on ``batch``."""
        return {}

    def num_params(self, dim: int) -> int:  # noqa: D102
        raise NotImplementedError

    def forward(self, x2: Tensor, params: Tensor) -> tuple[Tensor, Tensor]:  # noqa: D102
        raise NotImplementedError

    def inverse(self, y2: Tensor, params: Tensor) -> tuple[Tensor, Tensor]:  # noqa: D102
        raise NotImplementedError

    def inverse_sample(self, y2: Tensor, params: Tensor) -> Tensor:
        """``x2`` of :meth:`inverse` without its log-determinant (what sampling needs); a family
        may override it with fewer operations (the frame decoder calls it every frame)."""
        return self.inverse(y2, params)[0]


class AffineTransform(TransformFamily):
    """Shift then scale, as in MoGlow: ``y2 = (x2 + b) * s``.

    ``params = [b (d), h (d)]``. ``scale="sigmoid"`` (default, Glow/MoGlow):
    ``s = sigmoid(h + 2) + eps``, so ``s`` lies in ``(eps, 1 + eps)``; ``scale="exp"``:
    ``s = exp(c * tanh(h / c))`` with soft clamp ``c = clamp`` (``clamp=None`` or ``0``:
    plain ``exp(h)``).
    """

    def __init__(self, scale: str = "sigmoid", eps: float = 1e-6, clamp: float | None = 2.0):
        super().__init__()
        if scale not in ("sigmoid", "exp"):
            raise ValueError(f"AffineTransform: scale must be 'sigmoid' or 'exp', got {scale!r}")
        self.scale, self.eps, self.clamp = scale, float(eps), clamp

    def extra_repr(self) -> str:
        return f"scale={self.scale!r}, eps={self.eps}, clamp={self.clamp}"

    def num_params(self, dim: int) -> int:
        return 2 * dim

    def shift_logscale(self, params: Tensor, d: int) -> tuple[Tensor, Tensor, Tensor]:
        """``params (..., 2d)`` -> shift ``b``, scale ``s`` and ``log s``, each ``(..., d)``
        (public: McMoGlow's matrix family uses it for its diagonal)."""
        if params.shape[-1] != 2 * d:
            raise ValueError(f"AffineTransform: expected {2 * d} params for {d} features, got {params.shape[-1]}")
        b, h = params[..., :d], params[..., d:]
        if self.scale == "sigmoid":
            s = torch.sigmoid(h + 2.0) + self.eps
            return b, s, torch.log(s)
        if self.clamp:
            h = self.clamp * torch.tanh(h / self.clamp)
        return b, torch.exp(h), h

    def forward(self, x2: Tensor, params: Tensor) -> tuple[Tensor, Tensor]:
        b, s, log_s = self.shift_logscale(params, x2.shape[-1])
        return (x2 + b) * s, log_s.sum(-1)

    def inverse(self, y2: Tensor, params: Tensor) -> tuple[Tensor, Tensor]:
        b, s, log_s = self.shift_logscale(params, y2.shape[-1])
        return y2 / s - b, -log_s.sum(-1)


class AdditiveTransform(TransformFamily):
    """Shift only (NICE): ``y2 = x2 + b``, ``params = b (d)``, log-det 0."""

    def __init__(self) -> None:
        super().__init__()

    def num_params(self, dim: int) -> int:
        return dim

    def forward(self, x2: Tensor, params: Tensor) -> tuple[Tensor, Tensor]:
        return x2 + params, x2.new_zeros(x2.shape[:-1])

    def inverse(self, y2: Tensor, params: Tensor) -> tuple[Tensor, Tensor]:
        return y2 - params, y2.new_zeros(y2.shape[:-1])


_REGISTRY: dict[str, Callable[..., TransformFamily]] = {}
#: the entry-point group through which other packages add transform families
ENTRY_POINT_GROUP = "moglow.transforms"


def register_transform(name: str, factory: Callable[..., TransformFamily]) -> None:
    """Make ``get_transform(name, **options)`` call ``factory(**accepted options)``.

    Re-registering a name replaces it (so re-importing a module is harmless)."""
    _REGISTRY[name] = factory


def _plugins() -> dict:
    """Installed entry points of :data:`ENTRY_POINT_GROUP`, by name (not loaded)."""
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def available_transforms() -> list[str]:
    """Names of the built-in, registered and installed (entry-point) families."""
    return sorted(set(_REGISTRY) | set(_plugins()))


def get_transform(name: str, **options) -> TransformFamily:
    """A new transform family registered as ``name``.

    Each option is passed only if the factory accepts it (by name, or through ``**kwargs``),
    so a model can hand every family the same options (``scale=...``, ``variant=...``).
    A name not registered in this process is looked up in the ``moglow.transforms`` entry
    points and registered on first use, so ``"matrix"`` works from a config alone.
    """
    if name not in _REGISTRY:
        plugin = _plugins().get(name)
        if plugin is None:
            raise KeyError(f"unknown transform {name!r}; available: {', '.join(available_transforms())}")
        register_transform(name, plugin.load())
    factory = _REGISTRY[name]
    if isinstance(factory, type) and factory.__init__ is nn.Module.__init__:
        return factory()  # a family without options of its own (Module's *args, **kwargs take none)
    try:
        sig = inspect.signature(factory)
    except (TypeError, ValueError):
        return factory(**options)
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in sig.parameters.values()):
        return factory(**options)
    return factory(**{k: v for k, v in options.items() if k in sig.parameters})


register_transform("affine", AffineTransform)
register_transform("additive", AdditiveTransform)

__all__ = ["TransformFamily", "AffineTransform", "AdditiveTransform", "register_transform",
           "get_transform", "available_transforms", "ENTRY_POINT_GROUP"]
