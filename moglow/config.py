"""The experiment configuration: one YAML file with a ``data:``, a ``model:`` and a ``train:`` part.

Loaded strictly (:func:`data_pipeline.typed_config.load_yaml`): an unknown or misspelt key
anywhere is an error naming the key, a value of the wrong type an error naming the key
and the expected type.

Example (``configs/tiny_cpu.yaml``)::

    >>> cfg = load_experiment("tiny_cpu", ["train.steps=200"])   # doctest: +SKIP
    >>> cfg.model.num_steps, cfg.train.batch_size             # doctest: +SKIP
    (4, 32)
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from collections.abc import Sequence

from data_pipeline.config import DataConfig, resolve_data_dir
from data_pipeline.resources import resolve_config
from data_pipeline.typed_config import ConfigError, apply_overrides, from_dict, read_yaml, to_dict
from moglow.model_config import ModelConfig


@dataclass
class TrainConfig:
    """How the model is optimised (YAML: the ``train:`` part).

    Attributes:
        steps: optimiser steps in total (a skipped step counts).
        batch_size: windows per step, summed over all processes (DDP splits it evenly).
        seq_len: target frames per window (the first ``model.tau`` frames are context only).
        stride: frames between the starts of consecutive training windows.
        data_dropout: probability that a context pose of a target frame is replaced by the
            mean pose during training (MoGlow's data dropout); never used for validation.
        style_dropout: probability that a training window's style is replaced by "none" (the
            zero style vector, what a style the model never saw gets), so the model also learns
            a style-free walk; never used for validation. 0: off.
        ema_decay: keep an exponential moving average of the weights with this decay per step
            (:mod:`moglow.weight_average`; e.g. 0.998 averages the last ~500 steps); validation,
            ``best.pt`` and every checkpoint's ``model`` use the average, and training goes on
            from the trained weights (``trained_weights``). 0: off.
        lr: peak learning rate.
        schedule: ``"constant"``: linear warm-up to ``lr`` then constant; ``"noam"``:
            linear warm-up, then ``lr * sqrt(warmup_steps / step)``, never below ``min_lr``.
        warmup_steps: linear warm-up length in steps (0: none).
        min_lr: floor of the Noam decay.
        betas, eps, weight_decay: Adam's settings.
        clip_value: clip every gradient entry to ``[-clip_value, clip_value]`` (None: off).
        clip_norm: then rescale the gradient to at most this global L2 norm (None: off).
        seed: seeds the model's initialisation, the batch order and the dropout masks.
        val_every: validate (data dropout off, held-out files) every this many steps.
        val_batches: at most this many validation batches (evenly spread over the
            validation windows); None: all of them.
        val_batch_size: windows per validation batch (None: ``batch_size``).
        val_stride: frames between validation window starts (None: ``seq_len``, no overlap).
        checkpoint_every: write ``latest.pt`` every this many steps.
        log_every: write a CSV row / TensorBoard point every this many steps.
        plot_every: redraw ``training_curves.png`` every this many steps and at the end
            (None: no PNG).
        tensorboard: write TensorBoard scalars (``run_dir/tensorboard``).
        max_consecutive_skips: after this many non-finite steps in a row, roll back to the
            last good checkpoint with the learning rate times ``rollback_lr_factor``.
        max_rollbacks: stop with an error after this many rollbacks.
        rollback_lr_factor: learning-rate factor applied at each rollback.
        device: ``"auto"`` (CUDA when present), ``"cpu"`` or ``"cuda"``.
        precision: ``"fp32"`` or ``"bf16"`` (autocast; CUDA only, ignored on CPU with a warning).
        compile: wrap the loss computation in ``torch.compile``.
        num_workers: DataLoader workers (0: load in the training process).
    """

    steps: int = 160_000
    batch_size: int = 100
    seq_len: int = 70
    stride: int = 1
    data_dropout: float = 0.95
    style_dropout: float = 0.0
    ema_decay: float = 0.0
    lr: float = 1e-4
    schedule: Literal["constant", "noam"] = "constant"
    warmup_steps: int = 1000
    min_lr: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    weight_decay: float = 0.0
    clip_value: float | None = 5.0
    clip_norm: float | None = 100.0
    seed: int = 0
    val_every: int = 1000
    val_batches: int | None = 20
    val_batch_size: int | None = None
    val_stride: int | None = None
    checkpoint_every: int = 1000
    log_every: int = 50
    plot_every: int | None = 1000
    tensorboard: bool = True
    max_consecutive_skips: int = 10
    max_rollbacks: int = 3
    rollback_lr_factor: float = 0.5
    device: Literal["auto", "cpu", "cuda"] = "auto"
    precision: Literal["fp32", "bf16"] = "fp32"
    compile: bool = False
    num_workers: int = 0

    def validate(self) -> None:
        positive = ("steps", "batch_size", "seq_len", "stride", "val_every", "checkpoint_every",
                    "log_every", "max_consecutive_skips")
        for name in positive:
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)}")
        if not 0.0 <= self.data_dropout < 1.0:
            raise ConfigError(f"data_dropout must be in [0, 1), got {self.data_dropout}")
        if not 0.0 <= self.style_dropout < 1.0:
            raise ConfigError(f"style_dropout must be in [0, 1), got {self.style_dropout}")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ConfigError(f"ema_decay must be in [0, 1) (0: off), got {self.ema_decay}")
        if self.lr <= 0 or self.min_lr < 0 or self.min_lr > self.lr:
            raise ConfigError(f"need 0 <= min_lr <= lr and lr > 0, got lr={self.lr}, min_lr={self.min_lr}")
        if self.warmup_steps < 0 or self.max_rollbacks < 0 or self.num_workers < 0:
            raise ConfigError("warmup_steps, max_rollbacks and num_workers must not be negative")
        if self.schedule == "noam" and self.warmup_steps < 1:
            raise ConfigError("the noam schedule needs warmup_steps >= 1")
        if not 0.0 < self.rollback_lr_factor < 1.0:
            raise ConfigError(f"rollback_lr_factor must be in (0, 1), got {self.rollback_lr_factor}")
        for name in ("clip_value", "clip_norm"):
            v = getattr(self, name)
            if v is not None and v <= 0:
                raise ConfigError(f"{name} must be positive or null, got {v}")
        for name in ("val_batches", "val_batch_size", "val_stride", "plot_every"):
            v = getattr(self, name)
            if v is not None and v < 1:
                raise ConfigError(f"{name} must be at least 1 or null, got {v}")


@dataclass
class ExperimentConfig:
    """A whole experiment: data, model and training settings.

    Attributes:
        name: a label for logs and run folders.
        data: files, feature extraction, splits and augmentation
            (:class:`data_pipeline.config.DataConfig`; its ``data_dir`` is what ``moglow train``
            prepares when given no ``--data``).
        model: the flow (:class:`moglow.model_config.ModelConfig`).
        train: optimisation (:class:`TrainConfig`).
    """

    name: str = "moglow"
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def validate(self) -> None:
        """The name becomes part of a folder name (``runs/<name>-<time>``): a plain name only."""
        check_plain_name(self.name, "name")


#: what a name used in a file or folder name may look like
_PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,127}\Z")

#: the sections an experiment YAML must name (``model: {}`` spells out "all defaults")
SECTIONS = ("data", "model", "train")


def check_plain_name(name: str, what: str = "name") -> str:
    """``name`` if it is safe as one path component (letters, digits, ``. _ + -``, not starting
    with a dot, at most 128 characters); else ValueError. So ``../../x`` or ``/abs`` can never put
    a run folder outside ``runs/``."""
    if not isinstance(name, str) or not _PLAIN_NAME.match(name) or ".." in name:
        raise ConfigError(f"{what} {name!r} cannot be used in a folder name: use letters, digits and . _ + - "
                         f"(no '/', no '..', not starting with a dot; at most 128 characters)")
    return name


def load_experiment(path: str | Path, overrides: Sequence[str] = ()) -> ExperimentConfig:
    """Read and validate an experiment config: a YAML path or a built-in name (``tiny_cpu``).

    The file must name each of its sections (``data:``, ``model:``, ``train:``): an empty file or
    a forgotten ``model:`` would otherwise train the 73M-parameter paper model for 160k steps
    without a word. ``model: {}`` asks for all defaults deliberately.

    ``overrides``: ``"section.key=value"`` strings (``moglow train --set``) applied on top of the
    file, checked like the file's own keys. A relative ``data.data_dir`` in the file is taken
    from the file's folder. Errors name the file and the key.
    """
    path = resolve_config(path)
    data = read_yaml(path)
    if not isinstance(data, dict):
        what = "empty" if data is None else f"a {type(data).__name__}, not a mapping"
        raise ConfigError(f"{path}: the config is {what}; it must name its sections "
                          f"{', '.join(s + ':' for s in SECTIONS)} (write 'model: {{}}' for all defaults)")
    missing = [s for s in SECTIONS if s not in data]
    if missing:
        raise ConfigError(f"{path}: no {', '.join(m + ':' for m in missing)} section; a config names every section "
                          f"({', '.join(s + ':' for s in SECTIONS)}); write e.g. '{missing[0]}: {{}}' for all "
                          f"defaults")
    resolve_data_dir(data.get("data"), path.parent)
    data = apply_overrides(data, overrides)
    try:
        return from_dict(ExperimentConfig, data)
    except ConfigError as e:
        raise ConfigError(f"{path}{' with --set ' + ' '.join(overrides) if overrides else ''}: {e}") from None


#: keys that older versions stored in checkpoints and that no longer exist, by section: dropped when
#: a stored config is read, so old checkpoints keep loading (a config file naming one is still an error)
RETIRED_KEYS: dict[str, tuple[str, ...]] = {"train": ("inject_nan_at",)}


def experiment_from_dict(d: dict) -> ExperimentConfig:
    """Rebuild a config from :func:`experiment_to_dict`'s output (e.g. from a checkpoint), dropping
    :data:`RETIRED_KEYS`."""
    d = {section: {k: v for k, v in body.items() if k not in RETIRED_KEYS[section]}
         if section in RETIRED_KEYS and isinstance(body, dict) else body for section, body in d.items()}
    return from_dict(ExperimentConfig, d)


def experiment_to_dict(cfg: ExperimentConfig) -> dict:
    """Plain-data copy (dicts, lists, numbers, strings) for YAML, JSON or a checkpoint."""
    return to_dict(cfg)
