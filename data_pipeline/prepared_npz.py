"""The split files of a prepared dataset (``train.npz``, ``val.npz``, ``test.npz``): written and read here.

Layout of one split (S sequences, N frames in all)::

    poses (N, D) float32, control (N, 3) float32   all sequences of the split, concatenated
    offsets (S+1,) int64                           sequence s is rows offsets[s]:offsets[s+1]
    root_start (S, 3) float64, mirrored (S,) bool
    passthrough (N, K) float64                     rotations representation only

The file is an uncompressed ``.npz`` streamed part by part (:func:`write_npz_parts`), so no
whole-split copy is ever made in memory.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .features import FeatureDefinition, FeatureSequence

__all__ = ["write_split", "read_split", "write_npz_parts"]


def write_split(path: Path, seqs: list[FeatureSequence], fdef: FeatureDefinition,
                labels: dict[str, dict[str, str | None]]) -> dict[str, Any]:
    """Write one split's sequences to ``path``; return its manifest entry (file, frames, and per
    sequence: source, mirrored, style and content labels, frames)."""
    lengths = np.array([s.num_frames for s in seqs], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    k = len(fdef.passthrough_columns)
    # Per-sequence parts, concatenated as they are written (no whole-split copy in memory).
    arrays: dict[str, list[np.ndarray]] = {
        "poses": [s.poses.astype(np.float32, copy=False) for s in seqs] or [np.zeros((0, fdef.pose_dim), np.float32)],
        "control": [s.control.astype(np.float32, copy=False) for s in seqs]
        or [np.zeros((0, fdef.control_dim), np.float32)],
        "offsets": [offsets],
        "root_start": [np.array([s.root_start for s in seqs], dtype=np.float64).reshape(-1, 3)],
        "mirrored": [np.array([s.mirrored for s in seqs], dtype=bool)],
    }
    if k:
        arrays["passthrough"] = [np.asarray(s.passthrough, dtype=np.float64) for s in seqs] or [np.zeros((0, k))]
    write_npz_parts(path, arrays)
    return {"file": path.name, "frames": int(offsets[-1]),
            "sequences": [{"source": s.source, "mirrored": bool(s.mirrored), "style": labels[s.source]["style"],
                           "content": labels[s.source]["content"], "frames": int(s.num_frames)} for s in seqs]}


def write_npz_parts(path: Path, arrays: dict[str, list[np.ndarray]], block_bytes: int = 1 << 24) -> Path:
    """Write an uncompressed ``.npz`` (what ``np.savez`` writes, read by ``np.load``) whose array
    ``name`` is ``np.concatenate(arrays[name])``, without ever building that concatenation: each
    part is streamed into the zip entry in blocks of about ``block_bytes``."""
    import zipfile

    with zipfile.ZipFile(path, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name, parts in arrays.items():
            parts = [np.ascontiguousarray(a) for a in parts]
            dtype = parts[0].dtype
            shape = (sum(len(a) for a in parts), *parts[0].shape[1:])
            if any(a.dtype != dtype or a.shape[1:] != shape[1:] for a in parts):
                raise ValueError(f"{path}: parts of {name!r} differ in dtype or shape")
            header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": shape}
            with zf.open(f"{name}.npy", "w", force_zip64=True) as f:
                np.lib.format.write_array_header_1_0(f, header)
                for a in parts:
                    if not a.size:
                        continue
                    flat = a.reshape(len(a), -1)
                    rows = max(1, block_bytes // max(1, flat.shape[1] * flat.itemsize))
                    for i in range(0, len(flat), rows):
                        f.write(flat[i:i + rows].tobytes())
    return path


def read_split(path: Path, sequences: list[dict[str, Any]], fps: float) -> list[FeatureSequence]:
    """The sequences of a split file written by :func:`write_split`; ``sequences``: its entries in
    the manifest (source, style per sequence). Arrays are views into one block per split."""
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    off = arrays["offsets"]
    pt = arrays.get("passthrough")
    seqs = []
    for i, meta in enumerate(sequences):
        a, b = int(off[i]), int(off[i + 1])
        seqs.append(FeatureSequence(
            poses=arrays["poses"][a:b], control=arrays["control"][a:b], fps=fps, source=meta["source"],
            style=meta["style"], mirrored=bool(arrays["mirrored"][i]), root_start=arrays["root_start"][i],
            passthrough=None if pt is None else pt[a:b]))
    return seqs
