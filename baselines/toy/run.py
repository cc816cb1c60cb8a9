"""One toy experiment end to end: build, train, evaluate, plot, save.

Used by ``moglow toy`` and by ``benchmarks/toy_results.py``.

Outputs in ``out_dir``: ``result.json`` (configs, metrics, wall time, parameter count),
``density.png`` (true density | model density | samples over data), ``density.npz`` (the
model's log-density grid, for figure grids) and ``model.pt`` (state dict + configs).

Example::

    >>> import tempfile
    >>> from baselines.toy.models import ToyModelConfig
    >>> from baselines.toy.train import TrainConfig
    >>> result = run_experiment("moons", ToyModelConfig(family="glow", num_steps=2, hidden=8),
    ...                         TrainConfig(steps=20), tempfile.mkdtemp(), progress=False, plot=False)
    >>> sorted(k for k in result["metrics"] if k in ("nll", "gap"))              # nats per point
    ['gap', 'nll']
"""
from __future__ import annotations

import datetime
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch

from baselines.toy.data import get_dataset, make_test_set, make_validation_set
from baselines.toy.models import ToyModelConfig, build_model
from baselines.toy.train import TrainConfig, density_on_grid, evaluate, grid_integral, train_model


def run_experiment(dataset: str, model_cfg: ToyModelConfig, train_cfg: TrainConfig, out_dir: str | Path | None,
                   progress: bool = True, noise: float = 0.1, grid_resolution: int = 150,
                   plot: bool = True, extra: dict | None = None, num_test: int = 10_000,
                   gbnf_options: dict | None = None) -> dict:
    """Train ``model_cfg`` on ``dataset`` and return (and save, if ``out_dir``) the result dict.

    ``gbnf_options``: keyword arguments of :func:`~baselines.toy.gbnf.fit_gbnf` for a GBNF
    (e.g. ``{"steps_per_component": 1000, "truncate": False, "refit": False}``).

    Metrics (nats per point, see :func:`~baselines.toy.train.evaluate`): test NLL and gap
    to the entropy floor at initialisation and after training, plus the density's integral
    over the plot window (a log-det sign check; ≈ 1 when the window holds all the mass).
    """
    ds = get_dataset(dataset, noise)
    x_test = make_test_set(dataset, n=num_test, noise=noise)
    torch.manual_seed(train_cfg.seed)
    model = build_model(model_cfg)
    if model_cfg.components:
        from baselines.toy.gbnf import fit_gbnf

        t0 = time.perf_counter()
        history = fit_gbnf(model, ds, make_validation_set(dataset, noise=noise), train_cfg, progress=progress,
                           **(gbnf_options or {}))
        init_metrics = None  # a GBNF has no density before its first component is fitted
    else:
        init_metrics = _init_metrics(model, ds, x_test, train_cfg.seed)
        t0 = time.perf_counter()
        history = train_model(model, ds, train_cfg, progress=progress, desc=f"{dataset} {model_cfg.label()}")
    wall = time.perf_counter() - t0
    metrics = evaluate(model, ds, x_test, seed=train_cfg.seed)
    xs, ys, log_q = density_on_grid(model, ds.bounds(), grid_resolution, seed=train_cfg.seed, is_samples=64)
    metrics["grid_integral"] = grid_integral(xs, ys, log_q)
    result = {
        "dataset": dataset, "noise": noise, "label": model_cfg.label(),
        "model": model_cfg.to_dict(), "train": train_cfg.to_dict(),
        "num_parameters": int(model.num_parameters()), "train_wall_s": wall,
        "init_metrics": init_metrics, "metrics": metrics,
        "final_train_loss": _final_loss(history),
        "date": datetime.date.today().isoformat(), "machine": _machine(),
        **(extra or {}),
    }
    if model_cfg.components:
        result["gbnf_stages"] = history["stages"]
        result["gbnf_options"] = dict(gbnf_options or {})
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(out / "density.npz", xs=xs.numpy(), ys=ys.numpy(), log_q=log_q.numpy())
        torch.save({"state_dict": model.state_dict(), "model": model_cfg.to_dict(), "train": train_cfg.to_dict(),
                    "dataset": dataset, "noise": noise}, out / "model.pt")
        if plot:
            _plot(out / "density.png", model, ds, dataset, xs, ys, log_q, result, train_cfg.seed)
        _write_json(out / "result.json", result)
    return result


def _init_metrics(model, ds, x_test, seed: int) -> dict:
    """Test metrics of the untrained model (after the data-dependent initialisation)."""
    model.train()
    with torch.no_grad():
        model.loss(ds.sample(512, seed=seed + 99), torch.Generator().manual_seed(seed))
    return {k: v for k, v in evaluate(model, ds, x_test[:5000], seed=seed).items() if k.startswith(("nll", "gap"))}


def _final_loss(history: dict) -> float | None:
    losses = history.get("losses")
    return float(np.mean(losses[-100:])) if losses else None


def _plot(path, model, ds, dataset, xs, ys, log_q, result, seed) -> None:
    from baselines.toy.plots import plot_model

    yy, xx = torch.meshgrid(ys, xs, indexing="ij")
    log_p = ds.log_prob(torch.stack([xx, yy], -1).reshape(-1, 2)).reshape(log_q.shape)
    samples = model.sample(3000, torch.Generator().manual_seed(seed)).numpy()
    data = ds.sample(3000, seed=seed + 5).numpy()
    m = result["metrics"]
    sub = f"test NLL {m['nll']:.3f} nats, gap to floor {m['gap']:.3f} (floor {m['floor']:.3f}); " \
          f"{result['num_parameters']} params"
    plot_model(path, xs.numpy(), ys.numpy(), log_q.numpy(), log_p.numpy(), samples, data,
               f"{dataset}: {result['label']}", sub)


def _machine() -> str:
    return f"{platform.machine()} {os.cpu_count()}-core CPU, torch {torch.__version__}, {torch.get_num_threads()} thread(s)"


def _write_json(path: Path, obj: dict) -> None:
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(obj, indent=1))
    tmp.replace(path)
