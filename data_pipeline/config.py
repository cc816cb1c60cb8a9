"""The data configuration: which files, which skeleton profile, which features.

Loaded from the ``data:`` part of an experiment YAML (strictly: a misspelt key is an error
naming it). Every choice the feature extraction makes is a value here.

Example::

    data:
      profile: bandai_namco
      data_dir: ../shared/mocap/bandai-namco/dataset-2
      representation: positions
      fps: 20
      heading_sigma_s: 0.2
      mirror: true
      split: {val_fraction: 0.1, test_fraction: 0.1, seed: 0}
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .splits import SplitConfig
from .typed_config import ConfigError


@dataclass
class DataConfig:
    """Feature extraction, splits and augmentation (YAML: the ``data:`` part).

    Attributes:
        profile: skeleton profile name (``configs/profiles/<name>.yaml``) or a YAML path.
        data_dir: folder of BVH files; a relative path in a config file is taken from the folder of
            that file (not the working directory), one given on the command line from the working
            directory.
        pattern: glob of the files to read inside ``data_dir``, or a list of globs (a file matching
            any is read).
        max_files: read at most this many files (sorted by name; None: all), for quick runs.
        skip_bad: warn about and skip unreadable files instead of failing.
        representation: ``"positions"``: joint positions of the profile's joint subset in the
            character's floor-projected local frame (MoGlow); ``"rotations"``: local joint
            rotations (6D) of every rotating joint plus the root's height and its rotation
            relative to the heading, invertible to a BVH on the source skeleton.
        fps: target frame rate; files are resampled to it (positions interpolated linearly,
            rotations by quaternion slerp, any ratio).
        source_fps_tolerance: a file's frame rate within this relative distance of a whole
            number is taken as that number (a BVH frame time of 0.0333333 is 30 fps; 29.97
            stays 29.97); 0 turns the rounding off.
        heading_smoothing: how the heading is smoothed over time: ``"vector"`` (Gaussian on the
            forward unit vector, renormalised), ``"angle"`` (Gaussian on the unwrapped angle)
            or ``"none"``.
        heading_sigma_s: standard deviation of that Gaussian, in seconds (0: no smoothing).
        heading_equal_weights: average the *unit* left->right hip and shoulder directions
            (True) or the raw vectors (False, wider joint pairs weigh more).
        mirror: add a left/right mirrored copy of every training file (exact, on the
            kinematic data: :func:`data_pipeline.mirror.mirror_motion`).
        contacts: append one foot-contact channel per contact joint of the profile (its
            ``contacts:`` section; soft labels in (0, 1) from height and speed,
            :mod:`data_pipeline.contacts`) to the pose features, so that a model generates them
            with the pose; the foot clean-up of generated motion uses them.
        style_aliases: relabel styles parsed from file names (e.g. ``{masculine: strong}``).
        split: how files are divided into train / val / test (:class:`~data_pipeline.splits.SplitConfig`).
    """

    profile: str = "bandai_namco"
    data_dir: str = "../shared/mocap/bandai-namco/dataset-2"
    pattern: str | list[str] = "*.bvh"
    max_files: int | None = None
    skip_bad: bool = False
    representation: Literal["positions", "rotations"] = "positions"
    fps: float = 20.0
    source_fps_tolerance: float = 1e-4
    heading_smoothing: Literal["vector", "angle", "none"] = "vector"
    heading_sigma_s: float = 0.2
    heading_equal_weights: bool = True
    mirror: bool = False
    contacts: bool = False
    style_aliases: dict[str, str] = field(default_factory=dict)
    split: SplitConfig = field(default_factory=SplitConfig)

    def validate(self) -> None:
        if not self.fps > 0:
            raise ConfigError(f"fps must be positive, got {self.fps}")
        if not 0 <= self.source_fps_tolerance < 0.5:
            raise ConfigError(f"source_fps_tolerance must be in [0, 0.5), got {self.source_fps_tolerance}")
        if self.heading_sigma_s < 0:
            raise ConfigError(f"heading_sigma_s must be >= 0, got {self.heading_sigma_s}")
        if self.max_files is not None and self.max_files < 1:
            raise ConfigError(f"max_files must be at least 1 (or null), got {self.max_files}")


def resolve_data_dir(section: Any, base: str | Path) -> None:
    """Make a relative ``data_dir`` of a config file's ``data:`` mapping absolute, taken from
    ``base`` (the folder of that file), in place; anything else is left alone."""
    d = section.get("data_dir") if isinstance(section, dict) else None
    if isinstance(d, str) and d and not Path(d).expanduser().is_absolute():
        section["data_dir"] = os.path.normpath(str(Path(base).resolve() / Path(d).expanduser()))
