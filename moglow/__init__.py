"""moglow: probabilistic, controllable motion synthesis with normalising flows (MoGlow, McMoGlow).

The top-level names are loaded on first use, so ``import moglow`` (and ``import moglow.flows``)
stays cheap and imports nothing of the application:

- ``moglow.load(checkpoint)`` -> :class:`moglow.api.Model`; ``Model.sample(path, seconds=, num=,
  temperature=, seed=, style=)`` -> :class:`moglow.api.Clip` (``.positions``, ``.to_bvh()``,
  ``.render()``);
- ``moglow.paths``: ``circle(...)``, ``line(...)``, ``figure8(...)``, ``stop_and_go(...)``,
  ``random_path(...)``, ``waypoints(xz, times=)``, ``velocities(v)``;
- ``moglow.MoGlow`` (the model), ``moglow.load_experiment`` (a config by name or path, with
  overrides), and the flow parts: ``Coupling``, ``AffineTransform``, ``AdditiveTransform``,
  ``ActNorm``, ``LULinear``, ``Compose``, ``register_transform``, ...
"""
from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "load": "moglow.api", "Model": "moglow.api", "Clip": "moglow.api",
    "MoGlow": "moglow.model",
    "load_experiment": "moglow.config", "ExperimentConfig": "moglow.config",
    "Bijection": "moglow.flows", "StatefulBijection": "moglow.flows", "Compose": "moglow.flows",
    "Inverse": "moglow.flows", "ActNorm": "moglow.flows", "LULinear": "moglow.flows", "Coupling": "moglow.flows",
    "TransformFamily": "moglow.flows", "AffineTransform": "moglow.flows", "AdditiveTransform": "moglow.flows",
    "register_transform": "moglow.flows", "get_transform": "moglow.flows", "make_net": "moglow.flows",
    "StandardNormal": "moglow.flows", "glow_step": "moglow.flows", "glow_flow": "moglow.flows",
}
_SUBMODULES = ("paths", "flows", "api", "sampling", "checkpoint", "export", "config", "model")

__all__ = ["__version__", *_LAZY, *_SUBMODULES]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f"moglow.{name}")
    else:
        raise AttributeError(f"module 'moglow' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
