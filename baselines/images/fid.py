"""FID-LeNet: a Fréchet distance on the features of a small classifier trained locally.

Inception weights cannot be downloaded here, so the "FID" of this baseline is computed
with a LeNet-style CNN trained on the local MNIST subset (or the 8×8 digits): images go
through the classifier, the penultimate layer's activations are fitted with a Gaussian
per set, and the squared Fréchet distance between the two Gaussians is
:func:`moglow.evaluation.frechet.frechet_distance`. Its numbers are **not comparable with
Inception FID** and are always called FID-LeNet. Like FID, it is biased upwards for small
sets: compare values computed with the same number of images; the distance between the
real train and real test images is the floor a perfect model would reach.

Example::

    >>> fid = FIDLeNet.train_on(data.train, data.train_labels, data.levels, epochs=5)   # doctest: +SKIP
    >>> fid.distance(data.train, data.test)                                            # doctest: +SKIP
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from moglow.evaluation.frechet import frechet_distance, gaussian_fit

from .safe_load import load_plain


class LeNet(nn.Module):
    """LeNet-style classifier: conv5(32)-pool-conv5(64)-pool-fc(features)-fc(classes),
    ReLU; 'same' padding and adaptive pooling so 8×8 and 28×28 inputs both work.

    ``features(x) -> (B, feature_dim)`` is the penultimate layer (after its ReLU)."""

    def __init__(self, channels: int = 1, classes: int = 10, feature_dim: int = 64):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, 32, 5, padding=2)
        self.conv2 = nn.Conv2d(32, 64, 5, padding=2)
        self.pool = nn.AdaptiveAvgPool2d(4)
        self.fc1 = nn.Linear(64 * 16, feature_dim)
        self.fc2 = nn.Linear(feature_dim, classes)

    def features(self, x: Tensor) -> Tensor:
        """``x (B, C, H, W)`` in ``[0, 1]`` -> ``(B, feature_dim)``."""
        h = F.relu(self.conv1(x))
        if h.shape[-1] >= 16:
            h = F.max_pool2d(h, 2)
        h = self.pool(F.relu(self.conv2(h)))
        return F.relu(self.fc1(h.flatten(1)))

    def forward(self, x: Tensor) -> Tensor:  # noqa: D102
        return self.fc2(self.features(x))


def to_unit(x: Tensor, levels: int) -> Tensor:
    """Integer levels ``(B, C, H, W)`` -> bin centres ``(x + 0.5) / L`` in ``(0, 1)``, float32."""
    return (x.float() + 0.5) / levels


def frechet_from_features(a: np.ndarray, b: np.ndarray) -> float:
    """Squared Fréchet distance between Gaussian fits to feature sets ``a (N, F)`` and ``b (M, F)``."""
    return frechet_distance(*gaussian_fit(a), *gaussian_fit(b))


class FIDLeNet:
    """Fréchet distance between image sets in the feature space of a trained :class:`LeNet`.

    Args:
        classifier: a trained LeNet (put in eval mode). levels: grey levels of the images.
    """

    def __init__(self, classifier: LeNet, levels: int):
        self.classifier = classifier.eval()
        self.levels = levels

    @classmethod
    def train_on(cls, images: Tensor, labels: Tensor, levels: int, epochs: int = 5, batch_size: int = 64,
                 lr: float = 1e-3, seed: int = 0, feature_dim: int = 64, progress: bool = False) -> "FIDLeNet":
        """Train a LeNet classifier on integer ``images (N, C, H, W)`` with ``labels (N,)``."""
        from data_pipeline.progress import progress_bar

        torch.manual_seed(seed)
        g = torch.Generator().manual_seed(seed)
        net = LeNet(images.shape[1], int(labels.max()) + 1, feature_dim)
        opt = torch.optim.Adam(net.parameters(), lr)
        u = to_unit(images, levels)
        for _ in progress_bar(range(epochs), disable=not progress, desc="FID-LeNet classifier"):
            perm = torch.randperm(len(u), generator=g)
            for i in range(0, len(u), batch_size):
                idx = perm[i: i + batch_size]
                loss = F.cross_entropy(net(u[idx]), labels[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
        return cls(net, levels)

    @torch.no_grad()
    def accuracy(self, images: Tensor, labels: Tensor) -> float:
        """Classification accuracy on integer images."""
        return float((self.classifier(to_unit(images, self.levels)).argmax(1) == labels).float().mean())

    @torch.no_grad()
    def features(self, images: Tensor, batch_size: int = 500) -> np.ndarray:
        """Integer images ``(N, C, H, W)`` -> penultimate features ``(N, feature_dim)`` float64."""
        u = to_unit(images, self.levels)
        return torch.cat([self.classifier.features(u[i: i + batch_size]) for i in range(0, len(u), batch_size)]
                         ).double().numpy()

    def distance(self, a: Tensor, b: Tensor) -> float:
        """FID-LeNet between integer image sets ``a`` and ``b`` (each ``(N, C, H, W)``, N ≥ 2)."""
        return frechet_from_features(self.features(a), self.features(b))

    def save(self, path: Path) -> None:  # noqa: D102
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        torch.save({"state": self.classifier.state_dict(), "levels": self.levels,
                    "channels": self.classifier.conv1.in_channels, "classes": self.classifier.fc2.out_features,
                    "feature_dim": self.classifier.fc1.out_features}, path)

    @classmethod
    def load(cls, path: Path) -> "FIDLeNet":  # noqa: D102
        s = load_plain(path, ("state", "levels", "channels", "classes", "feature_dim"), "FID-LeNet classifier")
        net = LeNet(s["channels"], s["classes"], s["feature_dim"])
        net.load_state_dict(s["state"])
        return cls(net, s["levels"])

    @classmethod
    def cached(cls, path: Path | None, images: Tensor, labels: Tensor, levels: int, **train_kw) -> "FIDLeNet":
        """Load from ``path`` if it exists, else train and save there."""
        if path is not None and Path(path).exists():
            return cls.load(path)
        fid = cls.train_on(images, labels, levels, **train_kw)
        if path is not None:
            fid.save(path)
        return fid


__all__ = ["LeNet", "FIDLeNet", "frechet_from_features", "to_unit"]
