"""Pretrained models that ship inside the package: ``pretrained:NAME`` wherever a checkpoint is taken.

Each shipped model is two files in this folder (package data, no network needed):

    NAME.pt   a slim checkpoint (:func:`moglow.pretrained.pack.pack_checkpoint`: weights, config, data metadata, start
              bank and the names and sha256 of its data split's files; no optimiser state)
    NAME.md   its model card (data and licence, the command that reproduces it, its
              ``moglow evaluate --checkpoint pretrained:NAME --split test`` table, intended use,
              known failure cases)

:func:`moglow.checkpoint.load_checkpoint` and :func:`moglow.checkpoint.load_model` resolve
``pretrained:NAME`` through :func:`resolve`, so ``moglow sample``, ``evaluate``, ``render``...
take it like a path. ``moglow pretrained`` lists what ships.

Example::

    >>> [m.name for m in available()]                          # doctest: +SKIP
    ['bandai2_mcmoglow', 'bandai2_small']
    >>> model, ckpt = load_model("pretrained:bandai2_mcmoglow")  # doctest: +SKIP
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: the folder of the shipped models (package data)
PRETRAINED_DIR = Path(__file__).resolve().parent
PREFIX = "pretrained:"
#: largest shipped file, bytes
MAX_BYTES = 25 * 1024 * 1024
#: the shipped model the commands use when none is given (``moglow play``, ``moglow demo``): McMoGlow,
#: ahead of the MoGlow ``bandai2_small`` on likelihood and foot skating over 3 seeds (docs/results_mcmoglow.md)
DEFAULT_MODEL = "bandai2_mcmoglow"

__all__ = ["PRETRAINED_DIR", "PREFIX", "DEFAULT_MODEL", "PretrainedModel", "available", "is_pretrained", "resolve",
           "split_manifest", "MAX_BYTES"]


@dataclass
class PretrainedModel:
    """One shipped model: its name, checkpoint file, model card and the card's first line."""

    name: str
    checkpoint: Path
    card: Path | None
    summary: str
    size_bytes: int


def _summary(card: Path | None) -> str:
    if card is None or not card.is_file():
        return "(no model card)"
    for line in card.read_text(encoding="utf-8").splitlines():
        line = line.strip().lstrip("#").strip()
        if line:
            return line
    return ""


def available(folder: Path | str | None = None) -> list[PretrainedModel]:
    """The shipped models in ``folder`` (default: this package folder), sorted by name."""
    root = Path(folder) if folder is not None else PRETRAINED_DIR
    out = []
    for pt in sorted(root.glob("*.pt")):
        card = pt.with_suffix(".md")
        out.append(PretrainedModel(pt.stem, pt, card if card.is_file() else None,
                                   _summary(card if card.is_file() else None), pt.stat().st_size))
    return out


def is_pretrained(spec: Any) -> bool:
    """Whether a checkpoint argument names a shipped model (``pretrained:NAME``)."""
    return str(spec).startswith(PREFIX)


def resolve(spec: str | Path, folder: Path | str | None = None) -> Path:
    """``pretrained:NAME`` -> the shipped ``NAME.pt``; raises FileNotFoundError listing what ships."""
    name = str(spec)[len(PREFIX):] if is_pretrained(spec) else str(spec)
    root = Path(folder) if folder is not None else PRETRAINED_DIR
    path = root / f"{name}.pt"
    if not name or "/" in name or not path.is_file():
        names = ", ".join(m.name for m in available(root)) or "none"
        raise FileNotFoundError(f"no pretrained model {name!r}; shipped: {names} (see `moglow pretrained`)")
    return path


def split_manifest(prepared_dir: str | Path) -> dict[str, Any]:
    """``{"data_dir": ..., "files": {split: [[relative path, sha256], ...]}}`` from a prepared folder's manifest."""
    man = json.loads((Path(prepared_dir) / "manifest.json").read_text())
    files: dict[str, list[list[str]]] = {}
    for f in man["files"]:
        files.setdefault(str(f.get("split")), []).append([f["path"], f["sha256"]])
    return {"data_dir": str(man["data_dir"]), "files": files}
