"""Settings of ``moglow evaluate`` (``configs/evaluation.yaml``), loaded strictly.

Every threshold a metric uses is a value here; the README section "Evaluation metrics" explains each metric.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from data_pipeline.resources import resolve_config
from data_pipeline.typed_config import ConfigError, load_yaml

DEFAULT_CONFIG = "evaluation"  # the built-in configs/evaluation.yaml (data_pipeline.resources)


@dataclass
class FeetConfig:
    """Foot contact, skating and penetration.

    Attributes:
        floor: None: every foot joint's ground level is estimated per file from the held-out
            take (``level_percentile`` of its height), and the generated motion driven by that
            file is measured against the same levels; a number: one known floor height in
            metres for all foot joints (joint centres, so ``contact_height`` must then cover
            the ankle's height above the floor).
        level_percentile: percentile (0-100) of a foot joint's height taken as its level.
        contact_height: metres above its level below which a foot joint is in contact.
        skate_speed: m/s; a contact sample moving faster than this counts as skating.
        penetration_tolerance: metres below the level ignored before a frame counts as
            penetrating the floor.
    """

    floor: float | None = None
    level_percentile: float = 5.0
    contact_height: float = 0.02
    skate_speed: float = 0.2
    penetration_tolerance: float = 0.01

    def validate(self) -> None:
        if not 0.0 <= self.level_percentile <= 100.0:
            raise ConfigError(f"level_percentile must be in [0, 100], got {self.level_percentile}")
        for name in ("contact_height", "skate_speed"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be positive, got {getattr(self, name)}")
        if self.penetration_tolerance < 0:
            raise ConfigError(f"penetration_tolerance must be >= 0, got {self.penetration_tolerance}")


@dataclass
class FrechetConfig:
    """The distribution distance on per-window kinematic features.

    Attributes:
        window_s: window length in seconds.
        stride_s: seconds between window starts.
        standardise: divide every feature by its standard deviation over the real windows
            first (d² then has no unit and every feature weighs alike).
    """

    window_s: float = 2.0
    stride_s: float = 0.5
    standardise: bool = True

    def validate(self) -> None:
        if self.window_s <= 0 or self.stride_s <= 0:
            raise ConfigError(f"window_s and stride_s must be positive, got {self.window_s}, {self.stride_s}")


@dataclass
class EvaluationConfig:
    """What ``moglow evaluate`` computes and how.

    Attributes:
        num_samples: motions generated per held-out control path (>= 2 for diversity).
        temperature: latent temperature of the samples (1: the model's distribution); None: the
            model's own (:meth:`moglow.sampling.SamplingMeta.default_temperature`: 1 unless its
            checkpoint names one, as a shipped model may).
        seed: seeds the latents (reproducible numbers).
        batch_size: sequences generated (or scored) at once.
        max_seconds: crop every held-out take to at most this long (None: whole takes).
        nll_window: target frames per NLL window (non-overlapping, as the trainer's
            validation); None: the checkpoint's ``train.seq_len``; 0: whole takes.
        bone_min_length: bones shorter than this (metres) get no length CV.
        pattern: glob of the held-out files inside the data folder, or a list of globs.
        max_files: at most this many files (sorted by name; None: all).
        feet: foot contact settings. frechet: distribution distance settings.
    """

    num_samples: int = 4
    temperature: float | None = None
    seed: int = 0
    batch_size: int = 64
    max_seconds: float | None = None
    nll_window: int | None = None
    bone_min_length: float = 0.01
    pattern: str | list[str] = "*.bvh"
    max_files: int | None = None
    feet: FeetConfig = field(default_factory=FeetConfig)
    frechet: FrechetConfig = field(default_factory=FrechetConfig)

    def validate(self) -> None:
        if self.num_samples < 1 or self.batch_size < 1:
            raise ConfigError(f"num_samples and batch_size must be at least 1, got {self.num_samples}, "
                             f"{self.batch_size}")
        if self.temperature is not None and self.temperature < 0:
            raise ConfigError(f"temperature must be >= 0, got {self.temperature}")
        if self.max_seconds is not None and self.max_seconds <= 0:
            raise ConfigError(f"max_seconds must be positive or null, got {self.max_seconds}")
        if self.nll_window is not None and self.nll_window < 0:
            raise ConfigError(f"nll_window must be >= 0 or null, got {self.nll_window}")
        if self.max_files is not None and self.max_files < 1:
            raise ConfigError(f"max_files must be at least 1 or null, got {self.max_files}")


def load_evaluation_config(path: str | Path | None = None) -> EvaluationConfig:
    """Read an evaluation YAML (default: ``configs/evaluation.yaml``); errors name the key."""
    return load_yaml(EvaluationConfig, resolve_config(path or DEFAULT_CONFIG))


__all__ = ["EvaluationConfig", "FeetConfig", "FrechetConfig", "load_evaluation_config", "DEFAULT_CONFIG"]
