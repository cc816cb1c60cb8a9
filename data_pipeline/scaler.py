"""Per-feature standardisation, fitted on training data only.

Example::

    >>> import numpy as np
    >>> s = Scaler.fit([np.array([[0.0, 5.0], [2.0, 5.0]])])
    >>> s.mean.tolist(), s.std.tolist()   # the constant feature keeps std 1
    ([1.0, 5.0], [1.0, 1.0])
    >>> s.transform(np.array([[2.0, 5.0]])).tolist()
    [[1.0, 0.0]]
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar
from collections.abc import Iterable

import numpy as np

from .errors import InputError

ArrayT = TypeVar("ArrayT")

#: features whose standard deviation is below this are treated as constant (std set to 1)
MIN_STD = 1e-6


#: Scaler.fit takes arrays longer than this in blocks of rows (bounded float64 temporaries for a
#: long take); shorter ones, every sequence of the shipped data, in one piece as before
FIT_BLOCK_ROWS = 1 << 16


def _row_blocks(arrays: Iterable[np.ndarray]):
    for a in arrays:
        a = np.asarray(a)
        a = a.reshape(-1, a.shape[-1])
        for i in range(0, max(len(a), 1), FIT_BLOCK_ROWS):
            yield a[i:i + FIT_BLOCK_ROWS]


@dataclass
class Scaler:
    """``transform(x) = (x - mean) / std`` per feature (last axis).

    Attributes:
        mean: (D,) float64, the training mean of each feature.
        std: (D,) float64, the training standard deviation; features that are constant in
            the training data (std below :data:`MIN_STD`) get 1, so that they map to 0 and
            back to exactly their training value.
    """

    mean: np.ndarray
    std: np.ndarray

    def __post_init__(self) -> None:
        self.mean = np.asarray(self.mean, dtype=np.float64).reshape(-1)
        self.std = np.asarray(self.std, dtype=np.float64).reshape(-1)
        if self.mean.shape != self.std.shape:
            raise ValueError(f"mean {self.mean.shape} and std {self.std.shape} differ in shape")
        if np.any(~np.isfinite(self.std)) or np.any(self.std <= 0):
            raise ValueError("std must be finite and positive")

    @property
    def dim(self) -> int:
        return int(self.mean.shape[0])

    @classmethod
    def fit(cls, arrays: Iterable[np.ndarray], min_std: float = MIN_STD) -> "Scaler":
        """Fit on a stream of (..., D) arrays (e.g. one per training sequence).

        Accumulates in float64 with per-chunk centring (Chan et al.'s parallel update),
        so the result does not depend on how the data is chunked and stays accurate for
        features with a large offset (world positions in centimetres).
        """
        n = 0
        mean: np.ndarray | None = None
        m2: np.ndarray | None = None
        for a in _row_blocks(arrays):
            a = np.asarray(a, dtype=np.float64)
            if a.shape[0] == 0:
                continue
            if not np.all(np.isfinite(a)):
                raise InputError("Scaler.fit: data contains NaN or infinite values")
            k = a.shape[0]
            a_mean = a.mean(axis=0)
            a_m2 = ((a - a_mean) ** 2).sum(axis=0)
            if mean is None:
                n, mean, m2 = k, a_mean, a_m2
                continue
            if a.shape[1] != mean.shape[0]:
                raise ValueError(f"Scaler.fit: feature dimension changed from {mean.shape[0]} to {a.shape[1]}")
            delta = a_mean - mean
            total = n + k
            mean = mean + delta * (k / total)
            m2 = m2 + a_m2 + delta ** 2 * (n * k / total)
            n = total
        if mean is None:
            raise InputError("Scaler.fit: no data (empty training split?)")
        std = np.sqrt(m2 / n)
        std = np.where(std < min_std, 1.0, std)
        return cls(mean, std)

    def _params(self, x: Any):
        if isinstance(x, np.ndarray):
            dtype = x.dtype if np.issubdtype(x.dtype, np.floating) else np.float64
            return self.mean.astype(dtype), self.std.astype(dtype)
        import torch

        if isinstance(x, torch.Tensor):
            dtype = x.dtype if x.is_floating_point() else torch.float32
            return (torch.as_tensor(self.mean, dtype=dtype, device=x.device),
                    torch.as_tensor(self.std, dtype=dtype, device=x.device))
        return self._params(np.asarray(x, dtype=np.float64))

    def _check(self, x: Any) -> None:
        if x.shape[-1] != self.dim:
            raise ValueError(f"Scaler expects {self.dim} features on the last axis, got shape {tuple(x.shape)}")

    def transform(self, x: ArrayT) -> ArrayT:
        """(..., D) numpy array or torch tensor -> standardised, same type/dtype/device."""
        self._check(x)
        mean, std = self._params(x)
        return (x - mean) / std

    def inverse_transform(self, x: ArrayT) -> ArrayT:
        """Undo :meth:`transform`: (..., D) -> x * std + mean."""
        self._check(x)
        mean, std = self._params(x)
        return x * std + mean

    def to_dict(self) -> dict[str, list[float]]:
        """Plain lists (float64, exact through JSON)."""
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_dict(cls, d: dict) -> "Scaler":
        return cls(np.asarray(d["mean"], dtype=np.float64), np.asarray(d["std"], dtype=np.float64))
