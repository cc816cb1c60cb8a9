"""One way to turn the project's objects into plain data: :func:`to_plain`.

Plain data is what JSON, YAML and ``torch.load(weights_only=True)`` read back: dicts, lists,
strings, numbers, booleans and None. The reports (``report.json``, ``evaluation.json``), the
feature definition stored in checkpoints and the checkpoint's data metadata all go through it:

    >>> import numpy as np
    >>> from pathlib import Path
    >>> to_plain({"mean": np.float32(0.5), "dims": np.arange(3), "run": Path("runs/a")})
    {'mean': 0.5, 'dims': [0, 1, 2], 'run': 'runs/a'}
    >>> to_plain({"nll": float("nan"), "best": [1.0, float("inf")]}, finite=True)  # JSON has no NaN
    {'nll': None, 'best': [1.0, None]}
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from pathlib import PurePath
from typing import Any

import numpy as np

__all__ = ["to_plain"]


def to_plain(obj: Any, *, finite: bool = False, keep: tuple[type, ...] = (), keep_tuples: bool = False,
             fallback: Callable[[Any], Any] | None = None) -> Any:
    """A plain-data copy of ``obj``, recursively.

    Dataclasses become dicts of their fields; objects with a ``to_dict()`` method become its
    result; numpy arrays become (nested) lists and numpy scalars Python numbers; paths become
    strings; tuples become lists (JSON has no tuples).

    Args:
        finite: NaN and infinities become None (``json.dumps`` would write ``NaN``, which is not JSON).
        keep: types passed through unchanged (a checkpoint keeps its ``torch.Tensor``\\ s).
        keep_tuples: tuples stay tuples (what ``torch.load`` and ``np.random.set_state`` expect).
        fallback: applied to any other object (e.g. ``str``); None: such an object is a TypeError.
    """
    def plain(x: Any) -> Any:
        if isinstance(x, np.generic):  # before float: np.float64 is a float
            return plain(x.item())
        if x is None or isinstance(x, (bool, int, str)) or (keep and isinstance(x, keep)):
            return x
        if isinstance(x, float):
            return None if finite and not math.isfinite(x) else x
        if isinstance(x, np.ndarray):
            return plain(x.tolist()) if finite else x.tolist()
        if isinstance(x, PurePath):
            return str(x)
        if isinstance(x, dict):
            return {plain(k): plain(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            items = [plain(v) for v in x]
            return tuple(items) if keep_tuples and isinstance(x, tuple) else items
        if hasattr(x, "to_dict") and callable(x.to_dict):
            return plain(x.to_dict())
        if dataclasses.is_dataclass(x) and not isinstance(x, type):
            return {f.name: plain(getattr(x, f.name)) for f in dataclasses.fields(x)}
        if fallback is not None:
            return fallback(x)
        raise TypeError(f"cannot turn a {type(x).__name__} into plain data")

    return plain(obj)
