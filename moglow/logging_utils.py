"""Training logs: a CSV of losses, TensorBoard scalars and a training-curve PNG.

CSV columns (one row every ``log_every`` steps, flushed at once; empty cell = not measured):

    step                         optimiser steps done
    train_nats_per_frame_dropout mean training NLL since the previous row, data dropout ON
                                 (a training statistic, not comparable with validation)
    train_bits_per_frame_dropout the same in bits
    val_nats_per_frame           validation NLL, data dropout OFF, held-out files
    val_bits_per_frame           the same in bits
    lr                           learning rate of the last step
    grad_norm                    mean global gradient L2 norm (before clipping) since the previous row
    skipped_steps                non-finite steps skipped so far (in total)
    rollbacks                    rollbacks to the last good checkpoint so far
    wall_time_s                  seconds of training so far (summed over resumed runs)
    steps_per_s                  training speed since the previous row

Floats are written with ``repr`` (shortest exact form), so two runs can be compared exactly.
"""
from __future__ import annotations

import csv
import math
from pathlib import Path
from collections.abc import Iterable

from moglow.units import nats_to_bits

COLUMNS = ["step", "train_nats_per_frame_dropout", "train_bits_per_frame_dropout", "val_nats_per_frame",
           "val_bits_per_frame", "lr", "grad_norm", "skipped_steps", "rollbacks", "wall_time_s", "steps_per_s"]
# A model's transform families may add diagnostic columns after these
# (:attr:`moglow.flows.transforms.TransformFamily.diagnostic_names`), filled at validation steps.


def _cell(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    return repr(float(v)) if isinstance(v, float) else str(v)


class CSVLog:
    """Append-only CSV of losses; on resume, rows after the checkpoint's step are dropped.

    Args:
        path: the CSV file.
        resume_step: None for a new run (the file is started afresh), else the step of the
            checkpoint the run resumes from (rows with a larger step are removed).
        extra_columns: diagnostic columns after :data:`COLUMNS` (the model's transform families'
            ``diagnostic_names``), filled by ``write(diagnostics=...)``.
    """

    def __init__(self, path: str | Path, resume_step: int | None = None, extra_columns: Iterable[str] = ()) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.columns = COLUMNS + [c for c in dict.fromkeys(extra_columns) if c not in COLUMNS]
        rows = read_csv(self.path) if resume_step is not None and self.path.exists() else []
        rows = [r for r in rows if int(r["step"]) <= (resume_step or 0)]
        with open(self.path, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=self.columns)
            w.writeheader()
            for r in rows:
                w.writerow({k: r.get(k, "") for k in self.columns})

    def write(self, *, step: int, train_nats: float | None, val_nats: float | None, lr: float,
              grad_norm: float | None, skipped_steps: int, rollbacks: int, wall_time_s: float,
              steps_per_s: float | None, diagnostics: dict[str, float] | None = None) -> dict:
        """Append one row (bits are derived from nats) and flush it to disk; ``diagnostics``: the
        transform families' numbers at a validation step (keys among ``extra_columns``)."""
        row = {
            "step": step,
            "train_nats_per_frame_dropout": train_nats,
            "train_bits_per_frame_dropout": None if train_nats is None else float(nats_to_bits(train_nats)),
            "val_nats_per_frame": val_nats,
            "val_bits_per_frame": None if val_nats is None else float(nats_to_bits(val_nats)),
            "lr": lr, "grad_norm": grad_norm, "skipped_steps": skipped_steps, "rollbacks": rollbacks,
            "wall_time_s": wall_time_s, "steps_per_s": steps_per_s,
            **{k: (diagnostics or {}).get(k) for k in self.columns[len(COLUMNS):]},
        }
        with open(self.path, "a", newline="") as f:
            csv.DictWriter(f, fieldnames=self.columns).writerow({k: _cell(v) for k, v in row.items()})
            f.flush()
        return row


def read_csv(path: str | Path) -> list[dict[str, str]]:
    """Rows of a training CSV as dicts of strings."""
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def column(rows: Iterable[dict[str, str]], name: str) -> tuple[list[int], list[float]]:
    """(steps, values) of the non-empty cells of column ``name``."""
    steps, values = [], []
    for r in rows:
        if r.get(name, "") != "":
            steps.append(int(r["step"]))
            values.append(float(r[name]))
    return steps, values


class TensorBoardLog:
    """TensorBoard scalars under ``run_dir/tensorboard`` (a no-op if tensorboard is missing).

    On resume, events after ``purge_step`` from the interrupted run are hidden.
    """

    def __init__(self, log_dir: str | Path, purge_step: int | None = None) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:  # pragma: no cover - tensorboard is a dependency
            self.writer = None
            return
        self.writer = SummaryWriter(str(log_dir), purge_step=purge_step)

    def write(self, row: dict) -> None:
        if self.writer is None:
            return
        step = int(row["step"])
        names = {
            "train/nats_per_frame_dropout": "train_nats_per_frame_dropout",
            "train/bits_per_frame_dropout": "train_bits_per_frame_dropout",
            "val/nats_per_frame": "val_nats_per_frame",
            "val/bits_per_frame": "val_bits_per_frame",
            "opt/lr": "lr", "opt/grad_norm": "grad_norm", "opt/skipped_steps": "skipped_steps",
            "opt/rollbacks": "rollbacks", "speed/steps_per_s": "steps_per_s",
            **{f"coupling/{k}": k for k in row if k not in COLUMNS},
        }
        for tag, key in names.items():
            v = row.get(key)
            if v is not None and not (isinstance(v, float) and math.isnan(v)):
                self.writer.add_scalar(tag, float(v), step)
        self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def plot_curves(csv_path: str | Path, png_path: str | Path, title: str = "") -> Path:
    """Draw training (dropout on) and validation (dropout off) NLL, and the learning rate,
    against step into a PNG (with :func:`visualize.plots.plot_training_curves` when that
    module is importable, else a small matplotlib figure of its own)."""
    try:
        from visualize.plots import plot_training_curves
    except ImportError:
        return _plot_curves(csv_path, png_path, title)
    rows = read_csv(csv_path)
    series = {}
    for name, label in (("train_nats_per_frame_dropout", "train (data dropout on)"),
                        ("val_nats_per_frame", "validation (dropout off)"), ("lr", "learning rate")):
        s, v = column(rows, name)
        if s:
            series[label] = (s, v)
    nll = [k for k in series if k != "learning rate"]
    if not nll:
        return Path(png_path)
    groups = {"NLL (nats/frame)": nll}
    if "learning rate" in series:
        groups["learning rate"] = ["learning rate"]
    return Path(plot_training_curves(series, png_path, title=title or None, ylabel="nats/frame", groups=groups))


def _plot_curves(csv_path: str | Path, png_path: str | Path, title: str = "") -> Path:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    rows = read_csv(csv_path)
    fig, (ax, ax_lr) = plt.subplots(2, 1, figsize=(7, 5.5), sharex=True,
                                    gridspec_kw={"height_ratios": [3, 1]})
    for name, label, style in (("train_nats_per_frame_dropout", "train (data dropout on)", "-"),
                               ("val_nats_per_frame", "validation (dropout off)", "o-")):
        s, v = column(rows, name)
        if s:
            ax.plot(s, v, style, label=label, markersize=3)
    ax.set_ylabel("NLL (nats/frame)")
    ax.grid(alpha=0.3)
    ax.legend()
    if title:
        ax.set_title(title)
    s, v = column(rows, "lr")
    if s:
        ax_lr.plot(s, v, color="gray")
    ax_lr.set_ylabel("learning rate")
    ax_lr.set_xlabel("step")
    ax_lr.grid(alpha=0.3)
    fig.tight_layout()
    png_path = Path(png_path)
    fig.savefig(png_path, dpi=100)
    plt.close(fig)
    return png_path
