"""Sample grids as PNG files (matplotlib's ``imsave``; no plotting state involved)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from torch import Tensor


def image_grid(images: Tensor, levels: int, nrow: int = 8, pad: int = 1) -> np.ndarray:
    """Integer images ``(N, 1, H, W)`` in ``[0, levels)`` -> one ``(rows·(H+pad)+pad, nrow·(W+pad)+pad)``
    float array in ``[0, 1]`` (white background lines between images)."""
    x = images.detach().cpu().numpy().astype(np.float64) / (levels - 1)
    n, c, h, w = x.shape
    if c != 1:
        raise ValueError(f"image_grid expects single-channel images (N, 1, H, W), got {x.shape}")
    rows = (n + nrow - 1) // nrow
    grid = np.ones((rows * (h + pad) + pad, nrow * (w + pad) + pad))
    for i in range(n):
        r, col = divmod(i, nrow)
        grid[pad + r * (h + pad): pad + r * (h + pad) + h, pad + col * (w + pad): pad + col * (w + pad) + w] = x[i, 0]
    return grid


def save_grid(images: Tensor, levels: int, path: str | Path, nrow: int = 8, scale: int = 1) -> Path:
    """Write ``images (N, 1, H, W)`` as a PNG grid (grey, black = 0) to ``path``; ``scale``
    repeats each pixel (useful for 8×8 images). Returns the path."""
    import matplotlib.image

    grid = image_grid(images, levels, nrow)
    if scale > 1:
        grid = np.kron(grid, np.ones((scale, scale)))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    matplotlib.image.imsave(path, grid, cmap="gray", vmin=0.0, vmax=1.0)
    return path


__all__ = ["image_grid", "save_grid"]
