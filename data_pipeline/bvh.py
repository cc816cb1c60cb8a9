"""Reading and writing BVH (Biovision Hierarchy) motion-capture files.

The reader accepts any valid BVH: one to six channels per joint in any order, position
channels on any joint (they replace the joint's OFFSET), End Sites, tabs, CRLF line ends,
exponents and zero-length bones. Bad input of any kind raises one :class:`BVHError` that
names the file, the 1-based line and the problem.

The MOTION section is the hot path. It is parsed in bulk by a vectorised decimal parser
(:func:`_parse_decimal_tokens`, correctly rounded, exact agreement with ``float``), and only
when that finds something wrong does a slow line-by-line pass run, to name the first bad line.

Example:
    >>> motion = read_bvh("walk.bvh")             # doctest: +SKIP
    >>> motion.values.shape                        # (frames, channels)  # doctest: +SKIP
    >>> write_bvh(motion, "copy.bvh")             # doctest: +SKIP
"""
from __future__ import annotations

import math
import mmap
import re
import warnings
from pathlib import Path

import numpy as np

from data_pipeline.output_files import write_text_atomic
from data_pipeline.skeleton import VALID_CHANNELS, Motion, Skeleton

__all__ = ["BVHError", "parse_bvh", "parse_bvh_bytes", "read_bvh", "read_bvh_header", "read_bvh_frames",
           "BVHFrameReader", "format_bvh", "write_bvh", "read_bvh_folder"]


class BVHError(ValueError):
    """A BVH file that cannot be read. The message names the file, the line and the problem.

    Attributes:
        source: the file (or ``"<string>"``).
        line: 1-based line number of the problem.
        problem: what is wrong, without the location.
    """

    def __init__(self, source: str, line: int, problem: str) -> None:
        self.source = source
        self.line = line
        self.problem = problem
        super().__init__(f"{source}, line {line}: {problem}")


# --------------------------------------------------------------------------------------------
# Number syntax (slow path and hierarchy)

_DECIMAL = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\Z", re.ASCII)
_NONFINITE = re.compile(r"[+-]?(?:nan|inf|infinity)\Z", re.IGNORECASE)
_CHANNEL_BY_LOWER = {c.lower(): c for c in VALID_CHANNELS}
_NUMBER_BYTES = b"0123456789.eE+-"


def _number(tok: str) -> float | None:
    """``float(tok)`` for a plain decimal number (no NaN, inf, underscores, hex); else None."""
    if _DECIMAL.match(tok):
        value = float(tok)
        if math.isfinite(value):
            return value
    return None


def _number_bytes(tok: bytes) -> float | None:
    """:func:`_number` for bytes, quicker: only digits, point, sign and exponent letters get to float()."""
    if tok.translate(None, _NUMBER_BYTES):
        return None
    try:
        value = float(tok)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _describe_bad_number(tok: str) -> str:
    if _NONFINITE.match(tok):
        return f"{tok!r} is not a finite number (NaN and infinity are not allowed)"
    if _DECIMAL.match(tok):
        return f"{tok!r} overflows a 64-bit float"
    return f"{tok!r} is not a number"


# --------------------------------------------------------------------------------------------
# Hierarchy

class _Tokens:
    """The whitespace-separated tokens of the hierarchy text, each with its line number."""

    def __init__(self, text: str, source: str, first_line: int = 1) -> None:
        self.source = source
        self.items: list[tuple[str, int]] = []
        line = first_line - 1
        for line, row in enumerate(text.split("\n"), start=first_line):
            self.items.extend((tok, line) for tok in row.split())
        self.end_line = max(line, first_line)
        self.pos = 0

    def error(self, line: int, problem: str) -> BVHError:
        return BVHError(self.source, line, problem)

    def peek(self) -> tuple[str, int] | None:
        return self.items[self.pos] if self.pos < len(self.items) else None

    def next(self, what: str) -> tuple[str, int]:
        """The next token; ``what`` describes what was expected, for the end-of-input error."""
        if self.pos >= len(self.items):
            raise self.error(self.end_line, f"unexpected end of the hierarchy: expected {what}")
        item = self.items[self.pos]
        self.pos += 1
        return item

    def name_on_line(self, line: int) -> list[str]:
        """The tokens on ``line`` up to a '{' (consumed; the '{' and what follows are not)."""
        out = []
        while self.pos < len(self.items) and self.items[self.pos][1] == line and self.items[self.pos][0] != "{":
            out.append(self.items[self.pos][0])
            self.pos += 1
        return out


class _Node:
    def __init__(self, name: str, parent: int, line: int, is_end_site: bool) -> None:
        self.name = name
        self.parent = parent
        self.line = line
        self.is_end_site = is_end_site
        self.offset: tuple[float, float, float] | None = None
        self.channels: tuple[str, ...] = ()


def _parse_hierarchy(tokens: _Tokens) -> list[_Node]:
    """Parse ``HIERARCHY ROOT ... }`` into nodes in depth-first file order.

    Iterative (an explicit stack of open joints), so a hierarchy nested thousands of levels
    deep is read like any other instead of exhausting Python's recursion limit.
    """
    tok, line = tokens.next("'HIERARCHY'")
    if tok.upper() != "HIERARCHY":
        raise tokens.error(line, f"expected 'HIERARCHY' at the start of the file, found {tok[:40]!r}")
    tok, line = tokens.next("'ROOT'")
    if tok.upper() != "ROOT":
        raise tokens.error(line, f"expected 'ROOT' after 'HIERARCHY', found {tok[:40]!r}")
    nodes: list[_Node] = []
    stack = [_open_joint(tokens, nodes, parent=-1, keyword_line=line, is_end_site=False)]
    while stack:
        index = stack[-1]
        node = nodes[index]
        name, is_end_site, keyword_line = node.name, node.is_end_site, node.line
        item = tokens.peek()
        if item is None:
            raise tokens.error(tokens.end_line,
                               f"unbalanced braces: {name!r} (opened on line {keyword_line}) is never closed")
        tok, line = tokens.next("a keyword")
        key = tok.upper()
        if key == "OFFSET":
            if node.offset is not None:
                raise tokens.error(line, f"second OFFSET in {name!r}")
            values = []
            for axis in "XYZ":
                vtok, vline = tokens.next(f"the {axis} value of the OFFSET of {name!r}")
                value = _number(vtok)
                if value is None:
                    raise tokens.error(vline, f"OFFSET of {name!r}: {_describe_bad_number(vtok)}")
                values.append(value)
            node.offset = (values[0], values[1], values[2])
        elif key == "CHANNELS":
            if is_end_site:
                raise tokens.error(line, "an End Site cannot have CHANNELS")
            if node.channels:
                raise tokens.error(line, f"second CHANNELS in {name!r}")
            node.channels = _parse_channels(tokens, name, line)
        elif key == "JOINT":
            if is_end_site:
                raise tokens.error(line, "an End Site cannot have child joints")
            stack.append(_open_joint(tokens, nodes, index, line, is_end_site=False))
        elif key == "END":
            if is_end_site:
                raise tokens.error(line, "an End Site cannot contain another End Site")
            stack.append(_open_joint(tokens, nodes, index, line, is_end_site=True))
        elif tok == "}":
            if node.offset is None:
                raise tokens.error(keyword_line, f"{name!r} has no OFFSET")
            stack.pop()
        elif tok == "{":
            raise tokens.error(line, f"unbalanced braces: unexpected '{{' inside {name!r}")
        elif key == "MOTION":
            raise tokens.error(line, f"unbalanced braces: MOTION reached but {name!r} "
                                     f"(opened on line {keyword_line}) is never closed")
        else:
            raise tokens.error(line, f"unknown keyword {tok[:40]!r} in {name!r}")
    extra = tokens.peek()
    if extra is not None:
        tok, line = extra
        if tok.upper() == "ROOT":
            raise tokens.error(line, "a second ROOT: files with several skeletons are not supported")
        if tok == "}":
            raise tokens.error(line, "unbalanced braces: '}' with no matching '{'")
        raise tokens.error(line, f"unexpected {tok[:40]!r} after the end of the hierarchy (expected 'MOTION')")
    return nodes


def _open_joint(tokens: _Tokens, nodes: list[_Node], parent: int, keyword_line: int, is_end_site: bool) -> int:
    """Read a joint's name and its '{'; append its node and return the node's index."""
    words = tokens.name_on_line(keyword_line)
    if is_end_site:
        name = "End Site"
        if [w.lower() for w in words] != ["site"]:
            raise tokens.error(keyword_line, f"expected 'End Site', found {' '.join(['End'] + words)[:40]!r}")
    else:
        if not words:
            raise tokens.error(keyword_line, "joint without a name")
        name = " ".join(words)
    tok, line = tokens.next(f"'{{' to open {name!r}")
    if tok != "{":
        raise tokens.error(line, f"expected '{{' to open {name!r}, found {tok[:40]!r}")
    nodes.append(_Node(name, parent, keyword_line, is_end_site))
    return len(nodes) - 1


def _parse_channels(tokens: _Tokens, name: str, line: int) -> tuple[str, ...]:
    """The ``n name1 ... name_n`` after CHANNELS (on ``line``); the count must match the names."""
    ntok, nline = tokens.next(f"the number of channels of {name!r}")
    if not ntok.isdigit() or not 0 <= int(ntok) <= 6:
        raise tokens.error(nline, f"CHANNELS of {name!r}: expected a count from 0 to 6, found {ntok[:40]!r}")
    count = int(ntok)
    # The names given on the CHANNELS line itself (the usual layout): a count that disagrees
    # with them is reported as such, not as a bad channel name on the next line.
    on_line = 0
    while (tokens.pos + on_line < len(tokens.items) and tokens.items[tokens.pos + on_line][1] == nline
           and tokens.items[tokens.pos + on_line][0].lower() in _CHANNEL_BY_LOWER):
        on_line += 1
    following = tokens.items[tokens.pos + on_line] if tokens.pos + on_line < len(tokens.items) else None
    ends_early = following is None or (following[1] != nline and following[0].lower() not in _CHANNEL_BY_LOWER)
    if on_line > count or (on_line < count and ends_early):
        raise tokens.error(nline, f"CHANNELS of {name!r}: the count says {count} but {on_line} channel "
                                  f"name{'s' if on_line != 1 else ''} follow{'s' if on_line == 1 else ''}")
    channels: list[str] = []
    for _ in range(count):
        ctok, cline = tokens.next(f"{ntok} channel names for {name!r}")
        channel = _CHANNEL_BY_LOWER.get(ctok.lower())
        if channel is None:
            raise tokens.error(cline, f"unknown channel name {ctok[:40]!r} in {name!r} "
                                      f"(valid: {', '.join(VALID_CHANNELS)})")
        if channel in channels:
            raise tokens.error(cline, f"channel {channel} listed twice in {name!r}")
        channels.append(channel)
    return tuple(channels)


def _build_skeleton(nodes: list[_Node], tokens: _Tokens) -> Skeleton:
    """Nodes to a Skeleton: checks joint names are unique, names End Sites ``<parent>_End``."""
    seen: dict[str, int] = {}
    for node in nodes:
        if node.is_end_site:
            continue
        if node.name in seen:
            raise tokens.error(node.line, f"duplicate joint name {node.name!r} (first on line {seen[node.name]})")
        seen[node.name] = node.line
    names = []
    taken = set(seen)
    for node in nodes:
        if node.is_end_site:
            base = f"{nodes[node.parent].name}_End"
            name, k = base, 1
            while name in taken:
                k += 1
                name = f"{base}{k}"
            taken.add(name)
            names.append(name)
        else:
            names.append(node.name)
    return Skeleton(
        names=names,
        parents=np.array([n.parent for n in nodes], dtype=np.int64),
        offsets=np.array([n.offset for n in nodes], dtype=np.float64).reshape(-1, 3),
        channels=[n.channels for n in nodes],
        is_end_site=np.array([n.is_end_site for n in nodes], dtype=bool),
    )


# --------------------------------------------------------------------------------------------
# MOTION section: the vectorised fast path

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


def _motion_header(data: bytes | mmap.mmap, start: int, source: str,
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
    frame_time = _number(m_time.group(1))
    if frame_time is None or frame_time <= 0:
        raise BVHError(source, time_line, f"Frame Time must be a positive number, found {m_time.group(1)[:40]!r}")
    frames = int(m_frames.group(1))
    if frames == 0:
        raise BVHError(source, frames_line, "'Frames: 0': the file holds no motion (at least one frame is needed)")
    # Every frame is a line: a count above the lines left is refused before anything is allocated.
    lines_left = (data.count(b"\n", pos) if isinstance(data, bytes) else len(_line_ends(data, pos))) + 1
    if frames > lines_left:
        raise BVHError(source, frames_line, f"'Frames:' announces {frames} frames but only {lines_left} "
                                            f"line{'s' if lines_left != 1 else ''} follow (file truncated?)")
    return frames, frame_time, frames_line, pos, line


def _first_motion_problem(body: bytes, source: str, first_line: int, frames: int, num_channels: int,
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
            if _number(text) is None:
                return BVHError(source, line, f"value {col}: {_describe_bad_number(text)}")
    if count != frames:
        return BVHError(source, last_line, f"'Frames:' on line {frames_line} announces {frames} frames "
                                           f"but the file has {count} (file truncated?)")
    return BVHError(source, last_line, "malformed MOTION section")


#: The frame lines are parsed in blocks of about this many bytes (whole lines), so that the
#: temporaries stay in the CPU cache and fresh memory is not paged in for every file.
BLOCK_BYTES = 1 << 18


def _parse_block(block: bytes, num_channels: int) -> tuple[np.ndarray, int] | None:
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
            value = _number_bytes(block[starts[t]:ends[t]])
            if value is None:
                return None
            values[t] = value
    return values, len(per_line)


def _parse_motion_body(data: bytes, start: int, source: str, first_line: int, frames: int, num_channels: int,
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
        block = _parse_block(data[pos:stop], num_channels)
        if block is None or filled + len(block[0]) > len(values):
            ok = False
            break
        values[filled:filled + len(block[0])] = block[0]
        filled += len(block[0])
        lines += block[1]
        pos = stop
    if ok and filled == len(values) and (num_channels == 0 or lines == frames):
        return values.reshape(frames, num_channels)
    raise _first_motion_problem(data[start:], source, first_line, frames, num_channels, frames_line)


# --------------------------------------------------------------------------------------------
# Public reading API

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
    tokens = _Tokens(head_text, source)
    nodes = _parse_hierarchy(tokens)
    skeleton = _build_skeleton(nodes, tokens)
    if m is None:
        raise BVHError(source, tokens.end_line, "no MOTION section after the hierarchy")
    motion_line = head.count(b"\n") + 1
    frames, frame_time, frames_line, body_start, body_line = _motion_header(data, m.start(), source, motion_line)
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
    values = _parse_motion_body(data, body_start, source, body_line, frames, skeleton.num_channels, frames_line)
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


def _line_ends(data, offset: int, chunk: int = 1 << 22) -> np.ndarray:
    """Positions (relative to ``offset``) of the ``\\n`` bytes of ``data[offset:]``, found in
    chunks (4 MB) so that no temporary the size of the file is made."""
    out = []
    for a in range(offset, len(data), chunk):
        view = np.frombuffer(data, dtype=np.uint8, count=min(chunk, len(data) - a), offset=a)
        out.append(np.flatnonzero(view == 10) + (a - offset))
        del view
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)


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
            ends = _line_ends(self._data, self._body_start)
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
        parsed = _parse_block(block, self.skeleton.num_channels)
        if parsed is None or parsed[1] != stop - start:  # a bad line in the window: name it
            raise _first_motion_problem(block, self.source, self._body_line + int(self._content[start]),
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


# --------------------------------------------------------------------------------------------
# Writing

def _format_number(value: float, precision: int) -> str:
    text = f"{value:.{precision}f}"
    return "0." + "0" * precision if text.startswith("-") and float(text) == 0 else text


def format_bvh(motion: Motion, precision: int = 6) -> str:
    """BVH text of a motion, in the standard layout (tabs, one frame per line).

    End Sites are written as ``End Site`` blocks (their names are regenerated on reading).
    Values are written with ``precision`` digits after the point, so a round trip reproduces
    them to ``0.5 * 10**-precision``.
    """
    sk = motion.skeleton
    if not np.all(np.isfinite(motion.values)) or not np.all(np.isfinite(sk.offsets)):
        raise ValueError("cannot write a BVH with NaN or infinite values")
    children: list[list[int]] = [[] for _ in range(sk.num_joints)]
    for j in range(1, sk.num_joints):
        children[int(sk.parents[j])].append(j)
    lines = ["HIERARCHY"]

    # Depth-first with an explicit stack (no recursion: any nesting depth writes).
    stack: list[tuple[int, int, bool]] = [(0, 0, False)] if sk.num_joints else []
    while stack:
        j, depth, closing = stack.pop()
        pad = "\t" * depth
        if closing:
            lines.append(pad + "}")
            continue
        if sk.is_end_site[j]:
            lines.append(f"{pad}End Site")
        else:
            lines.append(f"{pad}{'ROOT' if j == 0 else 'JOINT'} {sk.names[j]}")
        lines.append(pad + "{")
        offset = " ".join(_format_number(v, precision) for v in sk.offsets[j])
        lines.append(f"{pad}\tOFFSET {offset}")
        if not sk.is_end_site[j]:
            lines.append(f"{pad}\tCHANNELS {len(sk.channels[j])}" + "".join(" " + c for c in sk.channels[j]))
        stack.append((j, depth, True))
        stack.extend((child, depth + 1, False) for child in reversed(children[j]))

    lines.append("MOTION")
    lines.append(f"Frames: {motion.num_frames}")
    lines.append(f"Frame Time: {motion.frame_time!r}")
    fmt = " ".join([f"%.{precision}f"] * sk.num_channels)
    values = np.where(motion.values == 0, 0.0, motion.values)  # no "-0.000000" for exact zeros
    lines.extend(fmt % tuple(row) for row in values.tolist())
    return "\n".join(lines) + "\n"


def write_bvh(motion: Motion, path: str | Path, precision: int = 6) -> None:
    """Write ``motion`` to ``path`` as BVH; see :func:`format_bvh`.

    Written to a temporary name and renamed (:mod:`data_pipeline.output_files`): a failure
    (full disk, no permission) leaves no truncated file; parent folders are created.
    """
    write_text_atomic(path, format_bvh(motion, precision))
