"""Run-level helpers shared by ``moglow images`` and ``experiments/images_results.py``:
train-or-resume a run in a folder, evaluate a model (test bits/dim, FID-LeNet, sample grid).

A run folder holds ``checkpoint.pt`` (resumable, see :func:`train_image_flow`),
``history.json`` (the evaluation history) and, after :func:`evaluate_model`,
``metrics.json`` and ``samples.png``.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from collections.abc import Callable

import torch
from torch import Tensor

from data_pipeline.plain_data import to_plain

from .data import ImageData
from .fid import FIDLeNet, frechet_from_features
from .grids import save_grid
from .model import ImageFlow, ImageFlowConfig, evaluate_bits
from .train import TrainConfig, train_image_flow


def write_json(path: Path, obj) -> None:
    """Write ``obj`` as indented JSON (atomically)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(to_plain(obj, fallback=float), indent=2))
    tmp.replace(path)


def fid_for(data: ImageData, path: Path | None, epochs: int = 8, seed: int = 0) -> FIDLeNet:
    """The FID-LeNet classifier of a data set, trained on its train split (cached at ``path``)."""
    return FIDLeNet.cached(path, data.train, data.train_labels, data.levels, epochs=epochs, seed=seed, progress=True)


def fid_probe(fid: FIDLeNet, reference: Tensor, n_samples: int = 500, seed: int = 0
              ) -> Callable[[ImageFlow], dict]:
    """An ``extra_eval`` hook for :func:`train_image_flow`: ``{"fid_lenet": d}``, the FID-LeNet of
    ``n_samples`` samples (temperature 1, the same seeded latents at every call, so the
    curve is not noisier than the model) against the integer images ``reference (N, C, H, W)``.
    Its features of ``reference`` are computed once."""
    ref = fid.features(reference)

    @torch.no_grad()
    def probe(model: ImageFlow) -> dict:
        was = model.training
        model.eval()
        samples = draw_images(model, n_samples, 1.0, seed)
        model.train(was)
        return {"fid_lenet": frechet_from_features(fid.features(samples), ref)}

    return probe


def run_training(folder: Path, model: ImageFlow, train: Tensor, test: Tensor | None, cfg: TrainConfig,
                 continuous: bool = False, max_seconds: float = math.inf,
                 on_eval: Callable[[dict], None] | None = None, progress: bool = True,
                 max_cpu_seconds: float = math.inf,
                 extra_eval: Callable[[ImageFlow], dict] | None = None) -> list[dict]:
    """Train (or resume) ``model`` with its checkpoint in ``folder``; writes ``history.json``
    (budgets and ``extra_eval`` as in :func:`train_image_flow`)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    history = train_image_flow(model, train, test, cfg, checkpoint=folder / "checkpoint.pt", continuous=continuous,
                               progress=progress, on_eval=on_eval, max_seconds=max_seconds,
                               max_cpu_seconds=max_cpu_seconds, extra_eval=extra_eval)
    write_json(folder / "history.json", history)
    return history


@torch.no_grad()
def draw_images(model: ImageFlow, n: int, temperature: float = 1.0, seed: int = 0, batch_size: int = 250) -> Tensor:
    """``n`` samples of ``model`` quantised to its integer levels, ``(n, C, H, W)`` int64, drawn in
    batches with a generator seeded by ``seed`` (the same seed gives the same images)."""
    g = torch.Generator().manual_seed(seed)
    return torch.cat([model.sample_images(min(batch_size, n - i), temperature, g) for i in range(0, n, batch_size)])


@torch.no_grad()
def evaluate_model(model: ImageFlow, data: ImageData, fid: FIDLeNet | None, folder: Path | None = None,
                   n_samples: int | None = None, temperature: float = 1.0, seed: int = 0,
                   repeats: int = 1) -> dict:
    """Test bits/dim, FID-LeNet of ``n_samples`` samples against the test set (default: as many
    samples as test images) and, with ``folder``, ``samples.png`` + ``metrics.json``."""
    model.eval()
    n = n_samples or len(data.test)
    samples = draw_images(model, n, temperature, seed)
    out = {"test_bpd": evaluate_bits(model, data.test, repeats=repeats, seed=seed),
           "samples": n, "temperature": temperature, "parameters": model.num_parameters()}
    if fid is not None:
        out["fid_lenet"] = fid.distance(samples, data.test)
    if folder is not None:
        save_grid(samples[:64], data.levels, Path(folder) / "samples.png", scale=4 if data.shape[-1] <= 8 else 2)
        write_json(Path(folder) / "metrics.json", out)
    return out


def new_model(cfg: ImageFlowConfig, seed: int = 0) -> ImageFlow:
    """A fresh model with seeded initial weights."""
    torch.manual_seed(seed)
    return ImageFlow(cfg)


__all__ = ["write_json", "fid_for", "fid_probe", "run_training", "draw_images", "evaluate_model", "new_model"]
