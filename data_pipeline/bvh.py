"""Reading BVH (Biovision Hierarchy) motion-capture files: whole files, headers, windows of frames, folders.

The reader accepts any valid BVH: one to six channels per joint in any order, position
channels on any joint (they replace the joint's OFFSET), End Sites, tabs, CRLF line ends,
exponents and zero-length bones. Bad input of any kind raises one :class:`BVHError` that
names the file, the 1-based line and the problem.

The work is split by section: :mod:`data_pipeline.bvh_hierarchy` (the skeleton),
:mod:`data_pipeline.bvh_motion` (the frame lines, parsed in bulk by a vectorised decimal
parser, with a line-by-line pass only to name a bad line), :mod:`data_pipeline.bvh_syntax`
(:class:`BVHError`, numbers); writing is :mod:`data_pipeline.bvh_writer`.

Example:
    >>> motion = read_bvh("walk.bvh")             # doctest: +SKIP
    >>> motion.values.shape                        # (frames, channels)  # doctest: +SKIP
"""
from __future__ import annotations

import mmap
import re
import warnings
from pathlib import Path

import numpy as np

from .bvh_hierarchy import parse_hierarchy
from .bvh_motion import first_motion_problem, line_ends, motion_header, parse_block, parse_motion_body
from .bvh_syntax import BVHError
from .skeleton import Motion, Skeleton

__all__ = ["BVHError", "parse_bvh", "parse_bvh_bytes", "read_bvh", "read_bvh_header", "read_bvh_frames",
           "BVHFrameReader", "read_bvh_folder"]

_MOTION_LINE = re.compile(rb"^[ \t]*MOTION\b", re.MULTILINE)


def _parse_head(data: bytes | mmap.mmap, source: str) -> tuple[Skeleton, int, float, int, int, int]:
    """Hierarchy and MOTION header of a file's bytes (any buffer: bytes or an mmap).

    Returns:
        (skeleton, frames, frame_time, line of 'Frames:', byte offset and line of the first frame line).
    """
    bom = 3 if data[:3] == b"\xef\xbb\xbf" else 0  # a UTF-8 byte-order mark; offsets stay in the file's bytes
    m = _MOTION_LINE.search(data, bom)
    head = bytes(data[bom:m.start()] if m else data[bom:])
    nul = head.find(b"\x00")
    if nul >= 0:
        raise BVHError(source, head.count(b"\n", 0, nul) + 1, "binary data (NUL byte): not a text BVH file")
    try:
        head_text = head.decode("utf-8")
    except UnicodeDecodeError:
        head_text = head.decode("latin-1")
    skeleton, end_line = parse_hierarchy(head_text, source)
    if m is None:
        raise BVHError(source, end_line, "no MOTION section after the hierarchy")
    motion_line = head.count(b"\n") + 1
    frames, frame_time, frames_line, body_start, body_line = motion_header(data, m.start(), source, motion_line)
    return skeleton, frames, frame_time, frames_line, body_start, body_line


def parse_bvh_bytes(data: bytes, source: str = "<bytes>") -> Motion:
    """Parse the bytes of a BVH file; see :func:`parse_bvh`."""
    if data.startswith(b"\xef\xbb\xbf"):  # UTF-8 byte-order mark
        data = data[3:]
    if not data or data.isspace():
        raise BVHError(source, 1, "empty file")
    nul = data.find(b"\x00")
    if nul >= 0:
        raise BVHError(source, data.count(b"\n", 0, nul) + 1, "binary data (NUL byte): not a text BVH file")
    skeleton, frames, frame_time, frames_line, body_start, body_line = _parse_head(data, source)
    values = parse_motion_body(data, body_start, source, body_line, frames, skeleton.num_channels, frames_line)
    return Motion(skeleton, values, frame_time, source=None if source.startswith("<") else source)


def read_bvh_header(path: str | Path) -> tuple[Skeleton, int, float]:
    """``(skeleton, frames, frame_time)`` of a BVH file, without parsing its frame lines.

    The file is memory-mapped: only the hierarchy and the MOTION header are read.
    """
    path = Path(path)
    with open(path, "rb") as f:
        if f.seek(0, 2) == 0:
            raise BVHError(str(path), 1, "empty file")
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
            skeleton, frames, frame_time, *_ = _parse_head(data, str(path))
    return skeleton, frames, frame_time



class BVHFrameReader:
    """Random access to the frame lines of a BVH file, parsing only what is asked for.

    The file is memory-mapped; the hierarchy and MOTION header are parsed on opening, and the
    frame lines are located by their line ends (found in chunks, 8 bytes per line kept). Use as
    a context manager. ``regular`` is False when the lines do not line up one frame per line
    (blank lines between frames, or a count that disagrees with ``Frames:``): callers then read
    the whole file with :func:`read_bvh`, which handles (or names) those cases.

    Attributes:
        path, skeleton, frames (declared count), frame_time, regular.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.source = str(self.path)
        self._file = open(self.path, "rb")
        try:
            if self._file.seek(0, 2) == 0:
                raise BVHError(self.source, 1, "empty file")
            self._data = mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ)
        except BaseException:
            self._file.close()
            raise
        try:
            (self.skeleton, self.frames, self.frame_time, self._frames_line, self._body_start,
             self._body_line) = _parse_head(self._data, self.source)
            ends = line_ends(self._data, self._body_start)
            starts = np.concatenate([[0], ends + 1])[: len(ends) + 1]
            lengths = np.concatenate([ends, [len(self._data) - self._body_start]]) - starts
            content = np.flatnonzero(lengths > 1)  # lines longer than a bare "\r"
            self.regular = len(content) == self.frames
            self._starts, self._lengths, self._content = starts[content], lengths[content], content
        except BaseException:
            self.close()
            raise

    def read(self, start: int, stop: int) -> np.ndarray:
        """(stop - start, channels) float64 values of frames ``start`` to ``stop - 1`` (needs ``regular``).

        Raises:
            BVHError: a bad line in the window (named), or a window outside the frames.
        """
        if not self.regular:
            raise BVHError(self.source, self._frames_line, "frame lines are irregular: read the whole file")
        if not 0 <= start < stop <= self.frames:
            raise BVHError(self.source, self._frames_line, f"frames {start} to {stop - 1} asked for, but the file "
                                                           f"has frames 0 to {self.frames - 1}")
        a = self._body_start + int(self._starts[start])
        b = self._body_start + int(self._starts[stop - 1] + self._lengths[stop - 1])
        block = self._data[a:b]
        parsed = parse_block(block, self.skeleton.num_channels)
        if parsed is None or parsed[1] != stop - start:  # a bad line in the window: name it
            raise first_motion_problem(block, self.source, self._body_line + int(self._content[start]),
                                        stop - start, self.skeleton.num_channels, self._frames_line)
        return parsed[0].reshape(stop - start, self.skeleton.num_channels)

    def motion(self, start: int, stop: int) -> Motion:
        """Frames ``start`` to ``stop - 1`` as a :class:`Motion` (source: the file)."""
        return Motion(self.skeleton, self.read(start, stop), self.frame_time, source=self.source)

    def close(self) -> None:
        data: mmap.mmap | None = getattr(self, "_data", None)
        if data is not None:
            data.close()
            del self._data
        self._file.close()

    def __enter__(self) -> BVHFrameReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def read_bvh_frames(path: str | Path, start: int, stop: int) -> Motion:
    """Frames ``start`` to ``stop - 1`` of a BVH file, parsing only those frame lines.

    For drawing a window of a long take (``moglow render --start --frames``): the cost is that
    of the window (plus one scan for line ends), not of the whole take (:class:`BVHFrameReader`).
    The rest of the file is not checked; if its lines do not line up one frame per line (blank
    lines between frames), the whole file is read instead (:func:`read_bvh`), so the result is
    always the same as ``read_bvh(path)`` cut to the window.

    Raises:
        BVHError: naming the file and line; also for a window outside the file's frames.
    """
    with BVHFrameReader(path) as reader:
        if not 0 <= start < stop or start >= reader.frames:
            raise BVHError(reader.source, reader._frames_line, f"frames {start} to {stop - 1} asked for, but the "
                                                               f"file has frames 0 to {reader.frames - 1}")
        stop = min(stop, reader.frames)
        if reader.regular:
            return reader.motion(start, stop)
    motion = read_bvh(path)
    motion.values = motion.values[start:stop]
    return motion


def parse_bvh(text: str, source: str = "<string>") -> Motion:
    """Parse BVH text.

    Args:
        text: the whole file.
        source: a name for error messages (and ``Motion.source``).
    Returns:
        The Motion: skeleton (joints and End Sites, file order) and (F, C) channel values in file units/degrees.
    Raises:
        BVHError: naming ``source``, the line and the problem.
    """
    return parse_bvh_bytes(text.encode("utf-8", errors="surrogateescape"), source)


def read_bvh(path: str | Path) -> Motion:
    """Read a BVH file; see :func:`parse_bvh`. ``Motion.source`` is the path."""
    path = Path(path)
    return parse_bvh_bytes(path.read_bytes(), str(path))


def read_bvh_folder(folder: str | Path, pattern: str = "*.bvh", skip_bad: bool = False,
                    progress: bool = True) -> list[Motion]:
    """Read every file matching ``pattern`` in ``folder``, in sorted name order.

    Args:
        folder: directory to read.
        pattern: glob pattern.
        skip_bad: if True a bad file is skipped with a ``warnings.warn`` naming it and the problem;
            if False (default) its BVHError is raised.
        progress: show a tqdm progress bar.
    Raises:
        FileNotFoundError: no such folder, or no file matches.
        BVHError: a bad file, unless ``skip_bad``.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"BVH folder not found: {folder}")
    paths = sorted(folder.glob(pattern))
    if not paths:
        raise FileNotFoundError(f"no files matching {pattern!r} in {folder}")
    if progress:
        from .progress import progress_bar
        paths_iter = progress_bar(paths, desc=f"reading {folder.name}", unit="file")
    else:
        paths_iter = paths
    motions = []
    skipped = 0
    for path in paths_iter:
        try:
            motions.append(read_bvh(path))
        except BVHError as err:
            if not skip_bad:
                raise
            skipped += 1
            warnings.warn(f"skipping bad BVH file: {err}", stacklevel=2)
    if skipped and not motions:
        raise BVHError(str(folder), 1, f"all {skipped} files matching {pattern!r} are bad")
    return motions
