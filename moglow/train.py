"""Training MoGlow by maximum likelihood.

One loop serves a CPU laptop, one GPU and many GPUs (``torchrun``; DistributedDataParallel):

- the batch of step ``s`` and its data-dropout masks are functions of ``(seed, s)``
  (:mod:`moglow.batches`), so a resumed run repeats an uninterrupted one exactly;
- ActNorm's data-dependent initialisation runs once, before DDP wrapping, on the whole
  global batch of step 0 (every process knows it), and rank 0's values are broadcast;
- a step whose loss or gradient is not finite is skipped and counted; after
  ``max_consecutive_skips`` of them in a row the run rolls back to ``latest.pt`` with the
  learning rate lowered, and stops with :class:`TrainingDiverged` after ``max_rollbacks``;
- validation (data dropout OFF, held-out files) every ``val_every`` steps keeps
  ``best.pt``; ``latest.pt`` is written every ``checkpoint_every`` steps and at the end;
- with ``train.ema_decay`` a moving average of the weights (:mod:`moglow.weight_average`) is
  what validation scores and what a checkpoint's ``model`` holds; its ``trained_weights`` are
  the optimiser's, from which a resumed run goes on.

Run folder: ``latest.pt``, ``best.pt``, ``config.yaml``, ``losses.csv``, ``tensorboard/``,
``training_curves.png``. The learning-rate schedule is :mod:`moglow.lr_schedule`; the datasets and
start bank read from prepared data are :mod:`moglow.training_data`.

Long because: :class:`Trainer` is one training loop (step, skip, rollback, validate, checkpoint,
log) whose methods share one state; splitting it would scatter that state across files.

Example::

    >>> from moglow.config import load_experiment                    # doctest: +SKIP
    >>> from data_pipeline.prepare import PreparedData               # doctest: +SKIP
    >>> cfg = load_experiment("configs/tiny_cpu.yaml")               # doctest: +SKIP
    >>> result = Trainer(cfg, PreparedData.load("prepared/"), "runs/tiny").fit()   # doctest: +SKIP
"""
from __future__ import annotations

import contextlib
import math
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from torch import nn
from torch.utils.data import DataLoader, default_collate

from data_pipeline.errors import MoglowError
from data_pipeline.output_files import write_text_atomic
from data_pipeline.plain_data import to_plain
from data_pipeline.typed_config import ConfigError
from moglow import distributed as D
from moglow.batches import StepBatchOrder, StepBatchSampler, dropout_keep_mask, style_dropout
from moglow.checkpoint import (CheckpointError, data_metadata, load_checkpoint, remove_stale_temporaries, rng_state,
                               save_checkpoint, set_rng_state)
from moglow.config import ExperimentConfig, experiment_to_dict
from moglow.flows.transforms import TransformFamily
from moglow.logging_utils import CSVLog, TensorBoardLog, plot_curves
from moglow.lr_schedule import LRSchedule
from moglow.model import build_model
from moglow.training_data import make_datasets, start_bank_for
from moglow.weight_average import WeightAverage


class TrainingDiverged(MoglowError, RuntimeError):
    """Training kept producing non-finite losses or gradients after every allowed rollback."""


@dataclass
class TrainResult:
    """Summary of a finished :meth:`Trainer.fit` (NLL in nats per frame)."""

    run_dir: Path
    step: int
    best_val_nats: float | None
    last_val_nats: float | None
    last_train_nats_dropout: float | None
    skipped_steps: int
    rollbacks: int
    wall_time_s: float


def resolve_device(name: str | torch.device | None) -> torch.device:
    """``"auto"``/None: CUDA when present, else CPU; a CUDA device this machine lacks is a
    :class:`moglow.cli_checks.UsageError` saying so."""
    if isinstance(name, torch.device):
        return name
    from moglow.cli_checks import check_device

    return check_device(name, flag="device")


class _LogProb(nn.Module):
    """The module DDP and torch.compile wrap: ``batch -> model.log_prob(batch)`` (B, T) nats."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.model.log_prob(batch)


class _Meter:
    """Sums since the last log row (kept in checkpoints so resumed logs match exactly)."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.loss_sum, self.loss_n, self.gnorm_sum, self.gnorm_n, self.steps, self.time = 0.0, 0, 0.0, 0, 0, 0.0

    def state_dict(self) -> dict:
        return dict(vars(self))

    def load_state_dict(self, d: dict) -> None:
        for k, v in d.items():
            setattr(self, k, v)


class Trainer:
    """Owns the model, optimiser, data order, logs and checkpoints of one run.

    Args:
        cfg: the experiment config (``cfg.train.steps`` is the target step count).
        data: prepared data (:class:`data_pipeline.prepare.PreparedData` or anything with
            ``splits``, ``pose_dim``, ``control_dim`` and optionally ``scaler``,
            ``control_scaler``, ``style_names``, ``data_hash``, ``skeleton``, ``feature_def``).
        run_dir: folder for checkpoints and logs (created).
        device: ``"auto"``, ``"cpu"``, ``"cuda"`` or a torch.device; None: ``cfg.train.device``.
        dist: this process's place in a DDP job (default: a single process).
        progress: show a progress bar (one line when stderr is not a terminal) (main process only).
        verbose: without a bar, print one line per log row (main process only).
    """

    def __init__(self, cfg: ExperimentConfig, data: Any, run_dir: str | Path, *, device=None,
                 dist: D.DistInfo | None = None, progress: bool = True, verbose: bool = False) -> None:
        self.cfg, self.data, self.run_dir = cfg, data, Path(run_dir)
        tc = cfg.train
        self.dist = dist or D.SINGLE
        self.device = resolve_device(device if device is not None else tc.device)
        if self.dist.enabled and self.device.type == "cuda":
            self.device = torch.device("cuda", self.dist.local_rank)
        if tc.batch_size % self.dist.world_size:
            raise ConfigError(f"train.batch_size {tc.batch_size} must be divisible by the {self.dist.world_size} "
                              "processes")
        self.progress = progress and self.dist.is_main
        self.verbose = verbose and not progress and self.dist.is_main
        self.autocast_bf16 = tc.precision == "bf16" and self.device.type == "cuda"
        if tc.precision == "bf16" and not self.autocast_bf16:
            warnings.warn("precision bf16 is only used on CUDA; training in fp32 on CPU")

        self.train_ds, self.val_ds = make_datasets(cfg, data)
        self.order = StepBatchOrder(len(self.train_ds), tc.batch_size, tc.seed)
        torch.manual_seed(tc.seed)  # identical initial weights in every process
        self.model = build_model(cfg.model, int(data.pose_dim), int(data.control_dim),
                                 getattr(data, "style_names", None)).to(self.device)
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.Adam(self.params, lr=tc.lr, betas=tuple(tc.betas), eps=tc.eps,
                                          weight_decay=tc.weight_decay)
        self.schedule = LRSchedule(tc)
        self.data_meta = data_metadata(data)
        self.data_meta["start_bank"] = start_bank_for(data, cfg.model.tau, tc.seed)

        self.step = 0
        self.skipped_steps = 0
        self.consecutive_skips = 0
        self.rollbacks = 0
        self.best_val: float | None = None
        self.last_val: float | None = None
        self.last_train: float | None = None
        self.wall_time = 0.0
        self.meter = _Meter()
        self.initialized = False
        self.csv: CSVLog | None = None
        self.tb: TensorBoardLog | None = None
        self.loss_module: nn.Module | None = None
        self.average: WeightAverage | None = None  # made once the weights are initialised

    # ----------------------------------------------------------------- state
    def state_dict(self) -> dict:
        """Everything a checkpoint holds (see :mod:`moglow.checkpoint`): ``model`` is the weights to
        sample from (the moving average when ``train.ema_decay`` is on; then ``trained_weights`` and
        ``weight_average`` are the optimiser's weights and the average's counters)."""
        extra: dict[str, Any] = {}
        model = self.model.state_dict()
        if self.average is not None:
            avg = self.average.state_dict()
            extra = {"trained_weights": model, "weight_average": {"decay": avg["decay"], "updates": avg["updates"]}}
            model = avg["state"]
        return {
            "config": experiment_to_dict(self.cfg),
            "model": model,
            **extra,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.schedule.state_dict(),
            "step": self.step,
            "rng": rng_state(),
            "sampler": self.order.state_dict(),
            "data": self.data_meta,
            "trainer": {
                "skipped_steps": self.skipped_steps, "consecutive_skips": self.consecutive_skips,
                "rollbacks": self.rollbacks, "best_val": to_plain(self.best_val, finite=True),
                "last_val": to_plain(self.last_val, finite=True),
                "last_train": self.last_train, "wall_time": self.wall_time, "meter": self.meter.state_dict(),
                "world_size": self.dist.world_size,
            },
        }

    def load_state_dict(self, ckpt: dict, counters: bool = True) -> None:
        """Restore from a checkpoint dict (``counters=False`` keeps this run's skip/rollback counts)."""
        theirs, ours = ckpt["data"].get("data_hash"), self.data_meta.get("data_hash")
        if theirs and ours and theirs != ours:
            raise CheckpointError(f"the checkpoint was trained on different data (hash {theirs[:12]}…, "
                                  f"this data {ours[:12]}…); prepare the same data or start a new run")
        if ckpt["sampler"] != self.order.state_dict():
            raise CheckpointError(f"batch order differs from the checkpoint's ({ckpt['sampler']} vs "
                                  f"{self.order.state_dict()}): different data, batch size or seed")
        self.model.load_state_dict(ckpt.get("trained_weights", ckpt["model"]))
        self.average = None
        self._start_average()
        if self.average is not None and "weight_average" in ckpt:
            self.average.load_state_dict({**ckpt["weight_average"], "decay": self.average.decay,
                                          "state": ckpt["model"]})
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.schedule.load_state_dict(ckpt["scheduler"])
        self.step = int(ckpt["step"])
        set_rng_state(ckpt["rng"])
        t = ckpt["trainer"]
        if counters:
            self.skipped_steps, self.rollbacks = int(t["skipped_steps"]), int(t["rollbacks"])
            self.consecutive_skips = int(t["consecutive_skips"])
            self.wall_time = float(t["wall_time"])
            self.meter.load_state_dict(t["meter"])
            self.last_train = t.get("last_train")
        # a non-finite best (written by older versions after a NaN validation) is no best at all
        self.best_val, self.last_val = to_plain(t["best_val"], finite=True), to_plain(t["last_val"], finite=True)
        self.initialized = True

    def _start_average(self) -> None:
        """Start the weights' moving average from the current weights (``train.ema_decay`` > 0)."""
        if self.cfg.train.ema_decay > 0 and self.average is None:
            self.average = WeightAverage(self.model, self.cfg.train.ema_decay)

    def save(self, name: str) -> Path | None:
        """Write ``run_dir/name`` atomically (main process only; all processes wait).

        A model or optimiser holding NaN/inf is not written (a warning says so; the
        non-finite steps that follow lead to a rollback); returns None then.
        """
        path = None
        if self.dist.is_main:
            try:
                path = save_checkpoint(self.state_dict(), self.run_dir / name)
            except CheckpointError as e:
                print(f"step {self.step}: not saved: {e}", file=sys.stderr)
        D.barrier(self.dist)
        return path

    # ----------------------------------------------------------------- batches
    def _collate(self, items: list[dict]) -> dict[str, torch.Tensor]:
        return default_collate(items)

    def _to_device(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        nb = self.device.type == "cuda"
        return {k: v.to(self.device, non_blocking=nb) for k, v in batch.items()}

    def _with_dropout(self, batch: dict[str, torch.Tensor], step: int, rank: int, world_size: int) -> dict:
        tc = self.cfg.train
        keep = dropout_keep_mask(tc.seed, step, tc.batch_size, tc.seq_len, self.cfg.model.tau,
                                 tc.data_dropout, rank, world_size)
        if "style" in batch:
            batch = {**batch, "style": style_dropout(batch["style"], tc.seed, step, tc.style_dropout, rank, world_size)}
        return {**batch, "keep": keep}

    def _loader(self, start: int, stop: int):
        sampler = StepBatchSampler(self.order, start, stop, self.dist.rank, self.dist.world_size)
        nw = self.cfg.train.num_workers
        return DataLoader(self.train_ds, batch_sampler=sampler, num_workers=nw,
                          collate_fn=default_collate, pin_memory=self.device.type == "cuda",
                          generator=torch.Generator().manual_seed(self.cfg.train.seed),
                          persistent_workers=False)  # own generator: the global RNG is left untouched

    # ----------------------------------------------------------------- steps
    def _autocast(self):
        if self.autocast_bf16:
            return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def data_dependent_init(self) -> None:
        """Run one no-grad training-mode forward on step 0's whole global batch (ActNorm init).

        Every process computes the same global batch, so all initialise identically; rank
        0's values are then broadcast anyway.
        """
        batch = self._collate([self.train_ds[i] for i in self.order.global_indices(0)])
        batch = self._to_device(self._with_dropout(batch, 0, 0, 1))
        self.model.train()
        with torch.no_grad(), self._autocast():
            self.model.log_prob(batch)
        D.broadcast_module(self.model, self.dist)
        self.initialized = True
        self._start_average()

    def _wrap(self) -> nn.Module:
        module: nn.Module = _LogProb(self.model)
        if self.dist.enabled:
            from torch.nn.parallel import DistributedDataParallel as DDP

            ids = [self.device.index] if self.device.type == "cuda" else None
            module = DDP(module, device_ids=ids)
        if self.cfg.train.compile:
            module = torch.compile(module)
        return module

    def train_step(self, batch: dict[str, torch.Tensor]) -> tuple[float, float, bool]:
        """One optimiser step on this process's batch: ``(loss nats/frame, grad norm, skipped)``.

        The gradient norm is the global L2 norm before clipping. A non-finite loss or
        gradient (in any process) skips the update.
        """
        tc = self.cfg.train
        lr = self.schedule(self.step)
        for g in self.optimizer.param_groups:
            g["lr"] = lr
        self.model.train()
        batch = self._to_device(batch)
        with self._autocast():
            logp = self.loss_module(batch)
        loss = -logp.float().mean()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grads = [p.grad for p in self.params if p.grad is not None]
        gnorm = torch.nn.utils.get_total_norm(grads) if grads else torch.zeros((), device=self.device)
        loss_v, gnorm_v = torch.stack([loss.detach(), gnorm.to(loss.dtype)]).tolist()  # one device sync
        bad = D.any_true(not (math.isfinite(loss_v) and math.isfinite(gnorm_v)), self.device, self.dist)
        if bad:
            self.optimizer.zero_grad(set_to_none=True)
            return loss_v, gnorm_v, True
        if tc.clip_value is not None:
            torch.nn.utils.clip_grad_value_(self.params, tc.clip_value)
        if tc.clip_norm is not None:
            torch.nn.utils.clip_grad_norm_(self.params, tc.clip_norm)
        self.optimizer.step()
        if self.average is not None:
            self.average.update(self.model)
        return loss_v, gnorm_v, False

    # ----------------------------------------------------------------- validation
    def val_indices(self) -> list[int]:
        """Validation windows used (evenly spread when ``val_batches`` limits them)."""
        if self.val_ds is None:
            return []
        tc = self.cfg.train
        n = len(self.val_ds)
        vbs = tc.val_batch_size or tc.batch_size
        if tc.val_batches is not None and tc.val_batches * vbs < n:
            return np.unique(np.linspace(0, n - 1, tc.val_batches * vbs).round().astype(np.int64)).tolist()
        return list(range(n))

    @torch.no_grad()
    def validate(self) -> float | None:
        """Mean NLL (nats/frame) on the validation windows, data dropout off, of the weights'
        moving average when there is one; None without validation windows."""
        idx = self.val_indices()
        if not idx:
            return None
        if self.average is not None:
            with self.average.swapped_in(self.model):
                return self._validate(idx)
        return self._validate(idx)

    def _validate(self, idx: list[int]) -> float:
        tc = self.cfg.train
        vbs = tc.val_batch_size or tc.batch_size
        mine = idx[self.dist.rank::self.dist.world_size]
        self.model.eval()
        total = torch.zeros(2, dtype=torch.float64, device=self.device)
        for a in range(0, len(mine), vbs):
            batch = self._to_device(self._collate([self.val_ds[i] for i in mine[a:a + vbs]]))
            logp = self.model.log_prob(batch).double()
            total[0] -= logp.sum()
            total[1] += logp.numel()
        self.model.train()
        D.all_reduce_sum(total, self.dist)
        return float(total[0] / total[1])

    # ----------------------------------------------------------------- the loop
    def resume(self, path: str | Path) -> None:
        """Continue from a checkpoint file or a run folder's ``latest.pt``."""
        self.load_state_dict(load_checkpoint(path, map_location=self.device))

    def _rollback(self) -> None:
        tc = self.cfg.train
        if self.rollbacks >= tc.max_rollbacks:
            raise TrainingDiverged(
                f"{self.consecutive_skips} non-finite steps in a row at step {self.step} after "
                f"{self.rollbacks} rollback(s) (train.max_rollbacks={tc.max_rollbacks}); giving up. "
                f"Try a lower train.lr, stronger clipping (train.clip_norm / clip_value) or check the data.")
        path = self.run_dir / "latest.pt"
        ckpt = load_checkpoint(path, map_location=self.device)
        skipped, rollbacks, at, best = self.skipped_steps, self.rollbacks + 1, self.step, self.best_val
        self.load_state_dict(ckpt, counters=False)
        self.skipped_steps, self.rollbacks, self.consecutive_skips = skipped, rollbacks, 0
        self.best_val = best  # best.pt may be newer than latest.pt
        self.schedule.scale *= tc.rollback_lr_factor
        self.meter.reset()
        msg = (f"{tc.max_consecutive_skips} non-finite steps in a row at step {at}: rolled back to step "
               f"{self.step} ({path.name}), learning rate x{self.schedule.scale:g} (rollback {self.rollbacks}/"
               f"{tc.max_rollbacks})")
        if self.dist.is_main:
            print(msg, file=sys.stderr)
        # the log restarts at the checkpoint; later rows of the failed attempt are dropped
        self.csv = (CSVLog(self.run_dir / "losses.csv", resume_step=self.step, extra_columns=self.diagnostic_names)
                    if self.dist.is_main else None)

    @property
    def transform_families(self) -> list[type[TransformFamily]]:
        """The transform families the model's couplings use (each may report diagnostics)."""
        return list(dict.fromkeys(type(m) for m in self.model.modules() if isinstance(m, TransformFamily)))

    @property
    def diagnostic_names(self) -> list[str]:
        """Columns the model's transform families add to the training log."""
        return [n for family in self.transform_families for n in family.diagnostic_names]

    def family_diagnostics(self) -> dict[str, float]:
        """Each transform family's :meth:`~moglow.flows.transforms.TransformFamily.diagnostics`
        on the first validation batch (main process; {} when no family reports any)."""
        idx = self.val_indices()
        families = [f for f in self.transform_families if f.diagnostic_names]
        if not families or not idx or not self.dist.is_main:
            return {}
        vbs = self.cfg.train.val_batch_size or self.cfg.train.batch_size
        batch = self._to_device(self._collate([self.val_ds[i] for i in idx[:vbs]]))
        out: dict[str, float] = {}
        with torch.no_grad():
            for family in families:
                out.update(family.diagnostics(self.model, batch))
        return out

    def _log_row(self, val: float | None, rate: float | None, diagnostics: dict | None = None) -> dict | None:
        t = torch.tensor([self.meter.loss_sum, self.meter.loss_n, self.meter.gnorm_sum, self.meter.gnorm_n],
                         dtype=torch.float64, device=self.device)
        D.all_reduce_sum(t, self.dist)
        train = float(t[0] / t[1]) if t[1] > 0 else None
        gnorm = float(t[2] / t[3]) if t[3] > 0 else None
        if train is not None:
            self.last_train = train
        self.meter.reset()
        if not self.dist.is_main:
            return None
        row = self.csv.write(step=self.step, train_nats=train, val_nats=val, lr=self.schedule(max(self.step - 1, 0)),
                             grad_norm=gnorm, skipped_steps=self.skipped_steps, rollbacks=self.rollbacks,
                             wall_time_s=self.wall_time, steps_per_s=rate, diagnostics=diagnostics)
        if self.tb is not None:
            self.tb.write(row)
        if self.verbose:
            print(f"step {self.step}: train {_fmt(train)} nats/frame (dropout on), val {_fmt(val)}, "
                  f"lr {row['lr']:.3g}, grad norm {_fmt(gnorm)}, skipped {self.skipped_steps}, "
                  f"{_fmt(rate)} steps/s", file=sys.stderr, flush=True)
        return row

    def fit(self, resume_from: str | Path | None = None) -> TrainResult:
        """Train to ``cfg.train.steps`` (continuing from ``resume_from`` if given)."""
        tc = self.cfg.train
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if resume_from is not None:
            if self.dist.is_main:  # a kill during a checkpoint write leaves hidden temporaries
                for tmp in remove_stale_temporaries(self.run_dir):
                    print(f"removed {tmp.name}, left by an interrupted checkpoint write", file=sys.stderr)
            self.resume(resume_from)
        resume_step = self.step if resume_from is not None else None
        if self.dist.is_main:
            self.csv = CSVLog(self.run_dir / "losses.csv", resume_step=resume_step, extra_columns=self.diagnostic_names)
            self.tb = TensorBoardLog(self.run_dir / "tensorboard", purge_step=resume_step) if tc.tensorboard else None
            write_text_atomic(self.run_dir / "config.yaml",
                              yaml.safe_dump(experiment_to_dict(self.cfg), sort_keys=False))
        if not self.initialized:
            self.data_dependent_init()
            self.save("latest.pt")  # the first rollback target
        self.loss_module = self._wrap()

        from data_pipeline.progress import progress_bar

        bar = progress_bar(total=tc.steps, initial=self.step, unit="step", dynamic_ncols=True,
                           disable=not self.progress, desc=self.cfg.name, file=sys.stderr)
        save_pending = False
        try:
            while self.step < tc.steps:
                rolled_back = False
                t_last = time.perf_counter()
                for batch in self._loader(self.step, tc.steps):
                    batch = self._with_dropout(batch, self.step, self.dist.rank, self.dist.world_size)
                    loss, gnorm, skipped = self.train_step(batch)
                    self.step += 1
                    if skipped:
                        self.skipped_steps += 1
                        self.consecutive_skips += 1
                    else:
                        self.consecutive_skips = 0
                        self.meter.loss_sum += loss
                        self.meter.loss_n += 1
                        self.meter.gnorm_sum += gnorm
                        self.meter.gnorm_n += 1
                    now = time.perf_counter()
                    self.wall_time += now - t_last
                    self.meter.steps += 1
                    self.meter.time += now - t_last
                    t_last = now
                    bar.update(1)
                    if self.consecutive_skips >= tc.max_consecutive_skips:
                        self._rollback()
                        bar.reset(total=tc.steps)
                        bar.update(self.step)
                        rolled_back = True
                        break
                    last = self.step >= tc.steps
                    do_val = self.step % tc.val_every == 0 or last
                    if self.step % tc.log_every == 0 or do_val:
                        val = self.validate() if do_val else None
                        if val is not None:
                            self.last_val = val
                        rate = self.meter.steps / self.meter.time if self.meter.time > 0 else None
                        self._log_row(val, rate, self.family_diagnostics() if val is not None else None)
                        if is_better(val, self.best_val):  # only a finite validation can be best
                            self.best_val = val
                            self.save("best.pt")
                        bar.set_postfix(loss=f"{loss:.3f}", nats_f=_fmt(self.last_train), val=_fmt(self.last_val),
                                        skipped=self.skipped_steps, refresh=False)
                    if self.step % tc.checkpoint_every == 0 or last:
                        save_pending = True
                    # During a streak of non-finite steps latest.pt is left alone: it stays the
                    # checkpoint written before the first bad step, the rollback's target.
                    if save_pending and (self.consecutive_skips == 0 or last):
                        self.save("latest.pt")
                        save_pending = False
                    if self.dist.is_main and tc.plot_every and (self.step % tc.plot_every == 0 or last):
                        plot_curves(self.run_dir / "losses.csv", self.run_dir / "training_curves.png",
                                    title=self.cfg.name)
                if not rolled_back:
                    break
        finally:
            bar.close()
            if self.dist.is_main and self.tb is not None:
                self.tb.close()
        return TrainResult(self.run_dir, self.step, self.best_val, self.last_val, self.last_train,
                           self.skipped_steps, self.rollbacks, self.wall_time)


def is_better(val: float | None, best: float | None) -> bool:
    """True if validation NLL ``val`` should become the best: finite, and below ``best``
    (None or non-finite ``best`` counts as no best yet)."""
    if val is None or not math.isfinite(val):
        return False
    return best is None or not math.isfinite(best) or val < best


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"
