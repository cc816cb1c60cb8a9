"""Other motion generators that ``moglow evaluate`` scores beside the model (baselines), found by name.

A generator makes poses in the checkpoint's own feature format along the held-out takes' control
paths, so the evaluation turns them into world positions and scores them exactly like the model
(one more row of the table: the same takes, the same frames, the same seed). Nothing here names a
baseline: a package plugs one in through the ``moglow.generators`` entry-point group
(``setup.py``: ``motion-matching = baselines.motion_matching.generator:make_generator``), the way
``moglow.commands`` and ``moglow.transforms`` plug in. :func:`load_generator_factory` finds a name
in this process's registry (:func:`register_generator`, e.g. in tests), then in the installed entry
points, and also takes a ``package.module:function`` spec (for a generator not installed yet).

Example::

    >>> register_generator("copy", lambda setup: None)
    >>> load_generator_factory("copy")(None) is None
    True
    >>> sorted(n for n in available_generators() if n == "copy")
    ['copy']
"""
from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from data_pipeline.errors import MissingKeyError
from data_pipeline.features import FeatureSequence

#: the entry-point group through which other packages add generators
ENTRY_POINT_GROUP = "moglow.generators"


class PathGenerator(Protocol):
    """What a generator offers the evaluation.

    Attributes:
        label: the title of its column in the table (e.g. ``"motion matching"``).
    """

    label: str

    def generate(self, seqs: Sequence[FeatureSequence], context: int, lookahead: int, num_samples: int,
                 seed: int) -> list[np.ndarray]:
        """Motion along each take's own control path.

        Args:
            seqs: the held-out takes (un-normalised features; their ``control`` is the path).
            context: the first ``context`` real poses of each take are given (the model's tau).
            lookahead: control frames the generator may see beyond the frame it makes.
            num_samples: motions per take. seed: seeds any randomness (as the model's latents).
        Returns:
            per take, (num_samples, F - lookahead, D) un-normalised poses in the feature layout
            of the takes: the real context, then the generated frames.
        """
        ...


@dataclass
class GeneratorSetup:
    """What a generator's factory may use to build itself.

    Attributes:
        checkpoint: the loaded checkpoint dict (its ``data`` holds the split, scalers, feature
            definition; :func:`moglow.evaluation.heldout.split_files` finds its training files).
        pipeline: the checkpoint's :class:`moglow.evaluation.heldout.Pipeline`.
        data_dir: the held-out data folder (the split's folder with ``--split``).
        options: generator-specific settings (name -> value); unknown ones are the factory's to reject.
        log: one-line messages. progress: show progress bars.
    """

    checkpoint: dict
    pipeline: Any
    data_dir: Path | None = None
    options: dict[str, Any] = field(default_factory=dict)
    log: Callable[[str], None] = print
    progress: bool = True


GeneratorFactory = Callable[[GeneratorSetup], PathGenerator]
_REGISTRY: dict[str, GeneratorFactory] = {}


def register_generator(name: str, factory: GeneratorFactory) -> None:
    """Make ``load_generator_factory(name)`` return ``factory`` in this process (replaces a name)."""
    _REGISTRY[name] = factory


def _plugins() -> dict:
    """Installed entry points of :data:`ENTRY_POINT_GROUP`, by name (not loaded)."""
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def available_generators() -> list[str]:
    """Names of the registered and installed generators."""
    return sorted(set(_REGISTRY) | set(_plugins()))


def load_generator_factory(name: str) -> GeneratorFactory:
    """The factory registered or installed as ``name``, or the function a ``module:function`` spec names.

    Raises:
        KeyError: an unknown name (the message lists the available ones).
    """
    if name in _REGISTRY:
        return _REGISTRY[name]
    plugin = _plugins().get(name)
    if plugin is not None:
        return plugin.load()
    if ":" in name:
        module, _, attr = name.partition(":")
        try:
            return getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as e:
            raise MissingKeyError(f"generator {name!r} cannot be loaded: {e}") from None
    have = ", ".join(available_generators()) or "none installed (pip install -e . registers the entry points)"
    raise MissingKeyError(f"unknown generator {name!r}; available: {have}; or give module:function")


def row_name(name: str, label: str) -> str:
    """The key of a generator's row in the result: its registered name, or for a ``module:function``
    spec its label with dashes (``"motion matching"`` -> ``"motion-matching"``)."""
    return "-".join(label.split()) if ":" in name else name


__all__ = ["ENTRY_POINT_GROUP", "PathGenerator", "GeneratorSetup", "GeneratorFactory", "register_generator",
           "available_generators", "load_generator_factory", "row_name"]
