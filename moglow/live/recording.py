"""Saving the last seconds of a live character as BVH and npz, with the project's export.

:func:`save_recording` writes ``OUT/recording_YYYYmmdd-HHMMSS_cI[_k]/`` with ``char{I}_000.bvh``,
``samples.npz`` and ``report.json`` through :func:`moglow.export.export_samples` (so whatever that
export does, foot-contact cleanup included, recordings get it too). The folder is written under a
hidden temporary name and renamed when complete, so the server never serves half a recording.
"""
from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from data_pipeline.features import FeatureDefinition
from moglow.sampling import Samples

__all__ = ["Recording", "save_recording"]


@dataclass
class Recording:
    """What :func:`save_recording` wrote: ``folder``; ``bvh``, ``npz`` relative to the output root
    (URL paths, ``/``-separated); ``frames``; ``seconds`` the export took."""

    folder: Path
    bvh: str
    npz: str
    frames: int
    seconds: float

    def to_message(self, character: int) -> dict[str, Any]:
        return {"type": "recorded", "character": character, "bvh": self.bvh, "npz": self.npz, "frames": self.frames,
                "export_seconds": round(self.seconds, 3)}


def save_recording(samples: Samples, feature_def: FeatureDefinition, out_root: str | Path, character: int,
                   info: dict | None = None) -> Recording:
    """Export one character's clip (one sample) into a new folder under ``out_root``."""
    t0 = time.perf_counter()
    root = Path(out_root)
    root.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    name = f"recording_{stamp}_c{character}"
    k = 1
    while (root / name).exists():
        k += 1
        name = f"recording_{stamp}_c{character}_{k}"
    tmp = root / f".{name}.part"
    shutil.rmtree(tmp, ignore_errors=True)
    prefix = f"char{character}"
    try:
        export_info = {"source": "moglow play", "character": character, "temperature": samples.temperature,
                       "style": samples.style, "fps": samples.fps, **(info or {})}
        from moglow.export import export_samples

        export_samples(samples, feature_def, tmp, prefix=prefix, info=export_info)
        os.replace(tmp, root / name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return Recording(root / name, f"{name}/{prefix}_000.bvh", f"{name}/samples.npz", samples.num_frames,
                     time.perf_counter() - t0)
