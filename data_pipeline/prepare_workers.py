"""``moglow prepare``'s per-file work: read one BVH file and extract its features (plus the
mirrored copy), one task per file, in a process pool.

Errors come back from the workers as plain tuples (``("bvh", source, line, problem)`` or
``("profile", message)``), because :class:`~data_pipeline.bvh.BVHError` does not survive pickling.
"""
from __future__ import annotations

import multiprocessing
import os
from dataclasses import dataclass, field
from typing import Any

from .bvh import BVHError, BVHFrameReader, read_bvh
from .config import DataConfig
from .features import FeatureSequence, extract_features, skeleton_to_dict
from .long_takes import extract_features_from_file
from .profiles import ProfileError, SkeletonProfile

__all__ = ["LONG_TAKE_BYTES", "FileResult", "FileTask", "process_file", "raise_file_error", "file_error_text",
           "run_tasks"]

#: files larger than this (about 25,000 Bandai Namco frames) are read and turned into features
#: in windows (:mod:`data_pipeline.long_takes`): the same numbers, memory bounded by the features
LONG_TAKE_BYTES = 32 << 20

#: one file's task: (path, path relative to the data folder, also extract the mirrored copy, config, profile)
FileTask = tuple[str, str, bool, DataConfig, SkeletonProfile]


@dataclass
class FileResult:
    """What one file gave: its sequences (plain, then mirrored), frame count, skeleton as plain data, or an error."""

    rel: str
    sequences: list[FeatureSequence] = field(default_factory=list)
    source_frames: int = 0
    skeleton: dict[str, Any] | None = None
    error: tuple | None = None  # ("bvh", source, line, problem) or ("profile", message)


def process_file(task: FileTask) -> FileResult:
    """Read one file and extract its features (plus the mirrored copy when asked).

    Runs in a worker process; errors come back as plain tuples, because BVHError does not
    survive pickling.
    """
    path, rel, mirror, cfg, profile = task
    res = FileResult(rel)
    try:
        if os.path.getsize(path) > LONG_TAKE_BYTES:  # in windows: memory bounded by the features, not the take
            with BVHFrameReader(path) as reader:
                res.source_frames, res.skeleton = reader.frames, skeleton_to_dict(reader.skeleton)
            for m in ((False, True) if mirror else (False,)):
                seq = extract_features_from_file(path, profile, cfg, mirror=m)
                seq.source = rel
                res.sequences.append(seq)
            return res
        motion = read_bvh(path)
        res.source_frames = motion.num_frames
        res.skeleton = skeleton_to_dict(motion.skeleton)
        for m in ((False, True) if mirror else (False,)):
            seq = extract_features(motion, profile, cfg, mirror=m)
            seq.source = rel
            res.sequences.append(seq)
    except BVHError as e:
        res.error = ("bvh", e.source, e.line, e.problem)
    except ProfileError as e:
        res.error = ("profile", f"{rel}: {e}")
    return res


def raise_file_error(err: tuple) -> None:
    """Raise the error a worker sent back as a tuple."""
    if err[0] == "bvh":
        raise BVHError(err[1], err[2], err[3])
    raise ProfileError(err[1])


def file_error_text(err: tuple) -> str:
    """A worker's error tuple as a one-line message (file, line, problem)."""
    return f"{err[1]}, line {err[2]}: {err[3]}" if err[0] == "bvh" else err[1]


def run_tasks(tasks: list[FileTask], workers: int, progress: bool) -> list[FileResult]:
    """:func:`process_file` on every task, in order; in ``workers`` forked processes (in this
    process for one worker or under four tasks); ``progress``: a bar over files."""
    bar = None
    if progress:
        from .progress import progress_bar
        bar = progress_bar(total=len(tasks), desc="preparing", unit="file")
    results: list[FileResult] = []
    try:
        if workers <= 1 or len(tasks) < 4:
            for t in tasks:
                results.append(process_file(t))
                if bar is not None:
                    bar.update()
        else:
            ctx = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else None)
            with ctx.Pool(workers) as pool:
                for r in pool.imap(process_file, tasks, chunksize=max(1, min(8, len(tasks) // (4 * workers)))):
                    results.append(r)
                    if bar is not None:
                        bar.update()
    finally:
        if bar is not None:
            bar.close()
    return results
