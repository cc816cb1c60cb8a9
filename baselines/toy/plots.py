"""Density plots of the toy models (matplotlib, Agg backend).

- :func:`plot_model`: one PNG with three panels: the data's true density, the model's
  density on a grid, and model samples (orange) over data (blue).
- :func:`plot_density_grid`: a figure grid of model densities (rows: models, columns:
  datasets) from saved grids.
"""
from __future__ import annotations

from pathlib import Path
from collections.abc import Sequence

import numpy as np


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _show_density(ax, xs: np.ndarray, ys: np.ndarray, log_q: np.ndarray, title: str) -> None:
    dens = np.exp(np.clip(log_q, -50, 50))
    ax.imshow(dens, origin="lower", extent=(xs[0], xs[-1], ys[0], ys[-1]), cmap="magma",
              vmin=0, vmax=np.percentile(dens, 99.9), aspect="equal", interpolation="nearest")
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])


def plot_model(path: str | Path, xs: np.ndarray, ys: np.ndarray, log_q: np.ndarray, log_p: np.ndarray,
               samples: np.ndarray, data: np.ndarray, title: str, subtitle: str = "") -> None:
    """Write a 3-panel PNG.

    Args:
        xs, ys: grid axes ``(R,)``; ``log_q``, ``log_p``: model / true log-density ``(R, R)``
            (rows are y), nats.
        samples: model samples ``(N, 2)``; data: data points ``(M, 2)``.
    """
    plt = _plt()
    fig, axes = plt.subplots(1, 3, figsize=(10.5, 3.6))
    _show_density(axes[0], xs, ys, log_p, "true density")
    _show_density(axes[1], xs, ys, log_q, "model density")
    ax = axes[2]
    ax.scatter(data[:, 0], data[:, 1], s=1, alpha=0.3, c="tab:blue", label="data", rasterized=True)
    ax.scatter(samples[:, 0], samples[:, 1], s=1, alpha=0.3, c="tab:orange", label="model", rasterized=True)
    ax.set_xlim(xs[0], xs[-1])
    ax.set_ylim(ys[0], ys[-1])
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title("samples (orange) over data (blue)", fontsize=9)
    fig.suptitle(title + ("\n" + subtitle if subtitle else ""), fontsize=10)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_density_grid(path: str | Path, cells: Sequence[Sequence[dict | None]], row_labels: Sequence[str],
                      col_labels: Sequence[str]) -> None:
    """Figure grid: ``cells[r][c]`` is ``{"xs", "ys", "log_q", "caption"}`` or None (empty
    cell). Column labels on top, row labels on the left, each cell's caption under it."""
    plt = _plt()
    rows, cols = len(row_labels), len(col_labels)
    fig, axes = plt.subplots(rows, cols, figsize=(1.9 * cols, 2.1 * rows), squeeze=False)
    for r in range(rows):
        for c in range(cols):
            ax = axes[r][c]
            cell = cells[r][c]
            if cell is None:
                ax.axis("off")
                continue
            _show_density(ax, cell["xs"], cell["ys"], cell["log_q"], col_labels[c] if r == 0 else "")
            ax.set_xlabel(cell.get("caption", ""), fontsize=7)
            if c == 0:
                ax.set_ylabel(row_labels[r], fontsize=9)
    for ax in axes[0]:
        ax.title.set_fontsize(7)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)
