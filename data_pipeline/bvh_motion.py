"""The MOTION section of a BVH file: the ``Frames:``/``Frame Time:`` header and the frame lines.

The frame lines are the hot path. They are parsed in blocks (:data:`BLOCK_BYTES`) by a
vectorised decimal parser (:func:`_parse_decimal_tokens`: SWAR digit checks and Lemire's
multiply-shift reduction, correctly rounded, exact agreement with ``float``); only when a block
has something wrong does the slow line-by-line pass (:func:`first_motion_problem`) run, to name
the first bad line in a :class:`~data_pipeline.bvh_syntax.BVHError`.
"""
from __future__ import annotations

import mmap
import re

import numpy as np

from .bvh_syntax import BVHError, describe_bad_number, number, number_bytes

__all__ = ["BLOCK_BYTES", "motion_header", "parse_block", "parse_motion_body", "first_motion_problem", "line_ends"]

_ASCII_ZEROS = np.uint64(0x3030303030303030)
# _KEEP_HIGH[n]: mask of the n most significant (last in memory) bytes of a little-endian uint64.
_KEEP_HIGH = np.array([((1 << 64) - 1) ^ ((1 << (8 * (8 - n))) - 1) for n in range(9)], dtype=np.uint64)
# _KEEP_LOW[n]: mask of the n least significant (first in memory) bytes.
_KEEP_LOW = np.array([(1 << (8 * n)) - 1 for n in range(9)], dtype=np.uint64)
# Bytes the fast path understands; anything else (exponents, letters, control bytes) needs a closer look.
_PLAIN_BYTES = b"0123456789.-+ \t\n\r"
_BYTES_SPLIT_SKIPS = frozenset(b"\x0b\x0c")  # whitespace to bytes.split() besides " \t\n\r"


def _eight_digits(x: np.ndarray) -> np.ndarray:
    """Values of eight decimal digits, one per byte (0-9, not ASCII), little-endian uint64 with
    the most significant digit in the lowest byte.

    The multiply-shift reduction of Lemire ("Faster integer parsing", 2018), vectorised.
    """
    x = (x * np.uint64(10 * 256 + 1)) >> np.uint64(8)
    x = ((x & np.uint64(0x00FF00FF00FF00FF)) * np.uint64(100 * 65536 + 1)) >> np.uint64(16)
    return ((x & np.uint64(0x0000FFFF0000FFFF)) * np.uint64(10000 * (1 << 32) + 1)) >> np.uint64(32)


def _not_digits(x: np.ndarray) -> np.ndarray:
    """Nonzero where some byte of the uint64 is above 9."""
    high = np.uint64(0xF0F0F0F0F0F0F0F0)
    return (x | (x + np.uint64(0x0606060606060606))) & high


def _tokenize(buf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start (inclusive) and end (exclusive) byte positions of the tokens separated by bytes <= 32."""
    ws = np.empty(len(buf) + 2, dtype=bool)
    ws[0] = ws[-1] = True
    np.less_equal(buf, 32, out=ws[1:-1])
    edges = np.flatnonzero(ws[1:] != ws[:-1])
    dtype = np.int32 if len(buf) < 2**31 - 64 else np.int64
    return edges[0::2].astype(dtype), edges[1::2].astype(dtype)


def _padded_words(buf: np.ndarray) -> np.ndarray:
    """``buf`` with 8 bytes of ASCII '0' before and at least 16 after, as aligned little-endian uint64."""
    words = np.full((len(buf) + 31) // 8, 0x3030303030303030, dtype=np.dtype("<u8"))
    words.view(np.uint8)[8:8 + len(buf)] = buf
    return words


def _read8(words: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """The eight bytes starting at each byte position of the text (-8 to len), as uint64.

    Two aligned reads and a funnel shift: much cheaper than a gather from an unaligned view,
    which numpy serves by copying the whole source first.
    """
    p = positions + 8
    shift = ((p & 7) << 3).astype(np.uint64)
    p >>= 3
    low = np.take(words, p)
    p += 1
    high = np.take(words, p)
    low >>= shift
    high <<= np.uint64(1)  # two steps, so that a shift of 0 gives 64 (all out) without undefined shifts
    high <<= np.uint64(63) - shift
    low |= high
    return low


def _parse_decimal_tokens(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Parse tokens of the form ``[+-]digits[.digits]`` in bulk (at most 8 digits each side, 15 in all).

    Args:
        buf: (B,) uint8, the text.
        starts, ends: (N,) token byte ranges.
    Returns:
        values (N,) float64, correctly rounded (identical to ``float(token)``), and
        ``other`` (N,) bool, True for tokens this path cannot read (exponents, long digit
        strings, or not numbers at all); their value is undefined and must be parsed by the caller.
    """
    n = len(starts)
    if n == 0:
        return np.zeros(0), np.zeros(0, dtype=bool)
    first = np.take(buf, starts)
    negative = first == 45
    signed = (negative | (first == 43)).view(np.uint8)
    digits_start = starts + signed  # first byte after the sign
    length = ends - digits_start  # bytes after the sign
    words = _padded_words(buf)
    # The decimal point: the first '.' among the 8 bytes after the sign (SWAR zero-byte search
    # on word ^ '........'), or the 9th byte; a token without one ends where its point would be.
    x = _read8(words, digits_start) ^ np.uint64(0x2E2E2E2E2E2E2E2E)
    zero = (x - np.uint64(0x0101010101010101)) & ~x & np.uint64(0x8080808080808080)
    lowest = zero & (~zero + np.uint64(1))  # only the first zero byte's bit is exact, and it is the lowest
    at = (((lowest >> np.uint64(7)) * np.uint64(0x0001020304050607)) >> np.uint64(56)).astype(np.int32)
    at[zero == 0] = 8  # no point in the first 8 bytes: maybe the 9th (index 8)
    has_dot = at < length
    has_dot &= np.take(buf, np.minimum(digits_start + at, len(buf) - 1)) == 46
    n_int = np.where(has_dot, at, length)
    n_frac = np.where(has_dot, length - at - 1, 0)
    dot_pos = digits_start + n_int
    # Readable here: 1 to 15 digits in all, at most 8 on each side (more than one point, or
    # anything else that is not a digit, fails the digit check below).
    other = (n_int > 8) | (n_frac > 8) | ((n_int + n_frac - 1).astype(np.uint32) > 14)
    np.minimum(n_int, 8, out=n_int)
    np.minimum(n_frac, 8, out=n_frac)
    # Eight bytes ending just before the point, and eight starting just after it, as digit values
    # (byte ^ '0'); bytes that are not part of the number become 0: leading zeros of the integer,
    # trailing zeros of the fraction.
    int_digits = _read8(words, dot_pos - 8)
    int_digits ^= _ASCII_ZEROS
    int_digits &= np.take(_KEEP_HIGH, n_int)
    frac_digits = _read8(words, dot_pos + 1)
    frac_digits ^= _ASCII_ZEROS
    frac_digits &= np.take(_KEEP_LOW, n_frac)
    other |= (_not_digits(int_digits) | _not_digits(frac_digits)) != 0
    mantissa = _eight_digits(int_digits) * np.uint64(100_000_000) + _eight_digits(frac_digits)
    values = mantissa.astype(np.float64)
    # An exact integer (< 2**53) over an exact power of ten: one rounding, as in float().
    values /= np.where(negative, -1e8, 1e8)
    return values, other


def motion_header(data: bytes | mmap.mmap, start: int, source: str,
                   motion_line: int) -> tuple[int, float, int, int, int]:
    """Parse ``MOTION`` / ``Frames: n`` / ``Frame Time: t`` (blank lines between are allowed).

    Args:
        data: the file.
        start: byte offset of the MOTION keyword.
        motion_line: its line number.
    Returns:
        (frames, frame_time, line of 'Frames:', byte offset of the first frame line in ``data``,
        line number of the first frame line).
    """
    patterns = [(r"MOTION", "'MOTION'"),
                (r"Frames\s*:\s*(\S*)", "'Frames: <count>'"),
                (r"Frame\s+Time\s*:\s*(\S*)", "'Frame Time: <seconds>'")]
    pos, line, found = start, motion_line, []
    for pattern, what in patterns:
        while True:
            nl = data.find(b"\n", pos)
            row = data[pos:] if nl < 0 else data[pos:nl]
            text = row.decode("utf-8", errors="replace").strip()
            if text or nl < 0:
                break
            pos, line = nl + 1, line + 1
        if not text:
            raise BVHError(source, line, f"expected {what} (file truncated?)")
        m = re.fullmatch(pattern, text, re.IGNORECASE)
        if m is None:
            raise BVHError(source, line, f"expected {what}, found {text[:40]!r}")
        found.append((m, line))
        pos = len(data) if nl < 0 else nl + 1
        line += 1
    (_, _), (m_frames, frames_line), (m_time, time_line) = found
    if not m_frames.group(1).isdigit():
        raise BVHError(source, frames_line, f"Frames: expected a whole number, found {m_frames.group(1)[:40]!r}")
    frame_time = number(m_time.group(1))
    if frame_time is None or frame_time <= 0:
        raise BVHError(source, time_line, f"Frame Time must be a positive number, found {m_time.group(1)[:40]!r}")
    frames = int(m_frames.group(1))
    if frames == 0:
        raise BVHError(source, frames_line, "'Frames: 0': the file holds no motion (at least one frame is needed)")
    # Every frame is a line: a count above the lines left is refused before anything is allocated.
    lines_left = (data.count(b"\n", pos) if isinstance(data, bytes) else len(line_ends(data, pos))) + 1
    if frames > lines_left:
        raise BVHError(source, frames_line, f"'Frames:' announces {frames} frames but only {lines_left} "
                                            f"line{'s' if lines_left != 1 else ''} follow (file truncated?)")
    return frames, frame_time, frames_line, pos, line


def first_motion_problem(body: bytes, source: str, first_line: int, frames: int, num_channels: int,
                          frames_line: int) -> BVHError:
    """The slow path: walk the frame lines in order and describe the first problem."""
    count = 0
    last_line = first_line
    rows = body.split(b"\n")
    last_row = max((i for i, raw in enumerate(rows) if raw.strip()), default=-1)
    for i, raw in enumerate(rows):
        line = first_line + i
        control = raw.translate(None, _PLAIN_BYTES + b"\x0b\x0c").translate(None, bytes(range(32, 256)))
        if control:
            return BVHError(source, line, f"control character {control[:1]!r} in a frame line (binary data?)")
        toks = raw.split()
        if not toks:
            continue
        last_line = line
        count += 1
        if count > frames:
            return BVHError(source, line, f"more frame lines than the {frames} announced by 'Frames:' "
                                          f"on line {frames_line}")
        if len(toks) != num_channels:
            truncated = len(toks) < num_channels and i == last_row
            return BVHError(source, line, f"expected {num_channels} values on a frame line, found {len(toks)}"
                                          + (" (file truncated?)" if truncated else ""))
        for col, tok in enumerate(toks, start=1):
            text = tok.decode("utf-8", errors="replace")
            if number(text) is None:
                return BVHError(source, line, f"value {col}: {describe_bad_number(text)}")
    if count != frames:
        return BVHError(source, last_line, f"'Frames:' on line {frames_line} announces {frames} frames "
                                           f"but the file has {count} (file truncated?)")
    return BVHError(source, last_line, "malformed MOTION section")


#: The frame lines are parsed in blocks of about this many bytes (whole lines), so that the
#: temporaries stay in the CPU cache and fresh memory is not paged in for every file.
BLOCK_BYTES = 1 << 18


def parse_block(block: bytes, num_channels: int) -> tuple[np.ndarray, int] | None:
    """Values of the whole frame lines in ``block``, and their number of non-blank lines.

    None if anything is wrong (a line without exactly ``num_channels`` values, a value that
    is not a finite decimal number, a control byte): the caller then looks for the problem
    line by line.
    """
    # Control bytes must not pass for whitespace: leave any block that has them to the slow path.
    unusual = block.translate(None, _PLAIN_BYTES)
    if unusual and any(b < 32 and b not in _BYTES_SPLIT_SKIPS for b in set(unusual)):
        return None
    buf = np.frombuffer(block, dtype=np.uint8)
    starts, ends = _tokenize(buf)
    newlines = np.flatnonzero(buf == 10)
    per_line = np.diff(np.searchsorted(starts, newlines), prepend=0, append=len(starts))
    per_line = per_line[per_line > 0]
    if np.any(per_line != num_channels):
        return None
    values, other = _parse_decimal_tokens(buf, starts, ends)
    if unusual or np.any(other):
        for t in np.flatnonzero(other):
            value = number_bytes(block[starts[t]:ends[t]])
            if value is None:
                return None
            values[t] = value
    return values, len(per_line)


def parse_motion_body(data: bytes, start: int, source: str, first_line: int, frames: int, num_channels: int,
                       frames_line: int) -> np.ndarray:
    """(frames, num_channels) float64 from the frame lines ``data[start:]``; BVHError on any problem."""
    values = np.empty(frames * num_channels)
    filled = lines = 0
    pos = start
    ok = True
    while pos < len(data):
        stop = len(data)
        if pos + BLOCK_BYTES < len(data):
            stop = data.find(b"\n", pos + BLOCK_BYTES) + 1 or len(data)
        block = parse_block(data[pos:stop], num_channels)
        if block is None or filled + len(block[0]) > len(values):
            ok = False
            break
        values[filled:filled + len(block[0])] = block[0]
        filled += len(block[0])
        lines += block[1]
        pos = stop
    if ok and filled == len(values) and (num_channels == 0 or lines == frames):
        return values.reshape(frames, num_channels)
    raise first_motion_problem(data[start:], source, first_line, frames, num_channels, frames_line)


def line_ends(data, offset: int, chunk: int = 1 << 22) -> np.ndarray:
    """Positions (relative to ``offset``) of the ``\\n`` bytes of ``data[offset:]``, found in
    chunks (4 MB) so that no temporary the size of the file is made."""
    out = []
    for a in range(offset, len(data), chunk):
        view = np.frombuffer(data, dtype=np.uint8, count=min(chunk, len(data) - a), offset=a)
        out.append(np.flatnonzero(view == 10) + (a - offset))
        del view
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)
