"""What the two halves of the BVH reader share: :class:`BVHError` and the number syntax.

A number in a BVH file is a plain decimal (``[+-]digits[.digits][e[+-]digits]``), finite, and
fits a 64-bit float; NaN, infinity, hex and underscores are refused with a message that says why.
"""
from __future__ import annotations

import math
import re

from .errors import MoglowError

__all__ = ["BVHError", "number", "number_bytes", "describe_bad_number"]


class BVHError(MoglowError, ValueError):
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


_DECIMAL = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\Z", re.ASCII)
_NONFINITE = re.compile(r"[+-]?(?:nan|inf|infinity)\Z", re.IGNORECASE)
_NUMBER_BYTES = b"0123456789.eE+-"


def number(tok: str) -> float | None:
    """``float(tok)`` for a plain decimal number (no NaN, inf, underscores, hex); else None."""
    if _DECIMAL.match(tok):
        value = float(tok)
        if math.isfinite(value):
            return value
    return None


def number_bytes(tok: bytes) -> float | None:
    """:func:`number` for bytes, quicker: only digits, point, sign and exponent letters get to float()."""
    if tok.translate(None, _NUMBER_BYTES):
        return None
    try:
        value = float(tok)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def describe_bad_number(tok: str) -> str:
    if _NONFINITE.match(tok):
        return f"{tok!r} is not a finite number (NaN and infinity are not allowed)"
    if _DECIMAL.match(tok):
        return f"{tok!r} overflows a 64-bit float"
    return f"{tok!r} is not a number"
