"""Train / validation / test splits made on whole files, never on windows.

Windows cut from one take overlap almost entirely, so a split by window would leak the
validation data into training. Here every file goes to exactly one split; augmented copies
(mirroring) are made afterwards from the training files only, so a held-out take never
reaches training in any form.

Order of decisions (first match wins):

1. ``test_files`` / ``test_styles``: explicit test files (glob patterns) or whole styles;
2. ``val_files`` / ``val_styles``: the same for validation;
3. of the files left, ``test_fraction`` and ``val_fraction`` (fractions of the files left)
   are drawn at random with ``seed``, stratified by content label (or style) so that every
   kind of motion is represented in every split; the rest is training data.

Example::

    >>> split_files([f"f{i}.bvh" for i in range(10)], SplitConfig(val_fraction=0.2))["val"]
    ['f4.bvh', 'f6.bvh']
"""
from __future__ import annotations

import fnmatch
import warnings
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Literal
from collections.abc import Mapping, Sequence

import numpy as np

from .typed_config import ConfigError
from .errors import InputError

SPLITS = ("train", "val", "test")


@dataclass
class SplitConfig:
    """How files are divided into train / val / test (YAML: the ``split:`` part of ``data:``).

    Attributes:
        val_fraction: fraction of the not explicitly assigned files held out for validation.
        test_fraction: the same for the test split.
        val_files: glob patterns (``fnmatch``) matched against a file's relative path and
            against its bare name; a match goes to validation.
        test_files: the same for test.
        val_styles: style labels held out entirely for validation (style generalisation).
        test_styles: the same for test.
        stratify: draw the fractions within each group of files with the same ``content``
            (walk, run, ...) or ``style`` label, or ``none`` for one draw over all files.
        seed: seed of the random draw; the split depends only on the file names, the
            labels and this seed (not on file order or content).
    """

    val_fraction: float = 0.1
    test_fraction: float = 0.0
    val_files: list[str] = field(default_factory=list)
    test_files: list[str] = field(default_factory=list)
    val_styles: list[str] = field(default_factory=list)
    test_styles: list[str] = field(default_factory=list)
    stratify: Literal["content", "style", "none"] = "content"
    seed: int = 0

    def validate(self) -> None:
        for name in ("val_fraction", "test_fraction"):
            v = getattr(self, name)
            if not 0.0 <= v < 1.0:
                raise ConfigError(f"{name} must be in [0, 1), got {v}")
        if self.val_fraction + self.test_fraction >= 1.0:
            raise ConfigError(f"val_fraction + test_fraction must be below 1, got "
                             f"{self.val_fraction} + {self.test_fraction}")
        both = set(self.val_styles) & set(self.test_styles)
        if both:
            raise ConfigError(f"style(s) {sorted(both)} are held out for both val and test")


def _matches(name: str, patterns: Sequence[str]) -> bool:
    base = PurePosixPath(name).name
    return any(fnmatch.fnmatchcase(name, p) or fnmatch.fnmatchcase(base, p) for p in patterns)


def _allocate(counts: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Integers n_g <= counts_g, proportional to ``fraction * counts``, summing to
    ``round(fraction * counts.sum())`` (largest-remainder rounding, ties broken at random)."""
    quotas = fraction * counts.astype(np.float64)
    n = np.floor(quotas).astype(np.int64)
    left = int(round(fraction * counts.sum())) - int(n.sum())
    if left > 0:
        remainder = quotas - n + rng.random(len(counts)) * 1e-9  # random tie breaking
        remainder[n >= counts] = -1.0
        n[np.argsort(-remainder, kind="stable")[:left]] += 1
    return np.minimum(n, counts)


def split_files(files: Sequence[str], cfg: SplitConfig,
                labels: Mapping[str, Mapping[str, str] | None] | None = None) -> dict[str, list[str]]:
    """Assign every file to ``"train"``, ``"val"`` or ``"test"``.

    Args:
        files: file names or relative paths (``/`` separated); duplicates are an error.
        cfg: the split settings.
        labels: optional ``{file: {"style": ..., "content": ...}}`` (see
            :func:`data_pipeline.styles.parse_labels`), used by ``*_styles`` and ``stratify``.

    Returns:
        ``{"train": [...], "val": [...], "test": [...]}``, each sorted; together exactly ``files``.
    """
    cfg.validate()
    names = sorted(files)
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise InputError(f"file list has duplicates: {dup[:5]}")
    labels = labels or {}

    def label(name: str, key: str) -> str | None:
        lab = labels.get(name)
        return None if lab is None else lab.get(key)

    for key, patterns in (("val_files", cfg.val_files), ("test_files", cfg.test_files)):
        for p in patterns:
            if not any(_matches(n, [p]) for n in names):
                warnings.warn(f"split setting {key}: pattern {p!r} matches none of the {len(names)} files")
    for key, styles in (("val_styles", cfg.val_styles), ("test_styles", cfg.test_styles)):
        known = {label(n, "style") for n in names}
        for s in styles:
            if s not in known:
                warnings.warn(f"split setting {key}: no file has style {s!r} "
                              f"(styles: {', '.join(sorted(x for x in known if x))})")

    assigned: dict[str, str] = {}
    rest: list[str] = []
    for n in names:
        if _matches(n, cfg.test_files) and _matches(n, cfg.val_files):
            raise ConfigError(f"file {n!r} matches both val_files and test_files")
        in_test = _matches(n, cfg.test_files) or label(n, "style") in cfg.test_styles
        in_val = _matches(n, cfg.val_files) or label(n, "style") in cfg.val_styles
        if in_test:
            assigned[n] = "test"
        elif in_val:
            assigned[n] = "val"
        else:
            rest.append(n)

    rng = np.random.default_rng(cfg.seed)
    group_of = (lambda n: "") if cfg.stratify == "none" else (lambda n: label(n, cfg.stratify) or "")
    groups: dict[str, list[str]] = {}
    for n in rest:
        groups.setdefault(group_of(n), []).append(n)
    keys = sorted(groups)
    counts = np.array([len(groups[k]) for k in keys], dtype=np.int64)
    n_test = _allocate(counts, cfg.test_fraction, rng)
    n_val = np.minimum(_allocate(counts, cfg.val_fraction, rng), counts - n_test)
    for k, nt, nv in zip(keys, n_test, n_val):
        members = groups[k]
        order = rng.permutation(len(members))
        for rank, i in enumerate(order):
            assigned[members[i]] = "test" if rank < nt else "val" if rank < nt + nv else "train"

    out = {s: sorted(n for n in names if assigned[n] == s) for s in SPLITS}
    if cfg.val_fraction > 0 and not out["val"] and len(out["train"]) >= 2:
        # a fraction of a few files rounds to zero: no validation curve and no best.pt. Keep one.
        moved = out["train"][int(rng.integers(len(out["train"])))]
        out["train"].remove(moved)
        out["val"] = [moved]
        warnings.warn(f"val_fraction {cfg.val_fraction:g} of {len(rest)} file(s) rounds to no validation file; "
                      f"holding out {moved!r} for validation (set split.val_files to choose it)", stacklevel=2)
    if names and not out["train"]:
        raise ConfigError(f"the split settings leave no training files (of {len(names)}); "
                         "lower val/test fractions or hold out fewer files/styles")
    return out
