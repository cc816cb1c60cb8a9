"""Unit conversions for log-likelihoods (the package computes in nats).

Motion models report nats per frame and, for comparison with the published code, bits
per frame.

Example::

    >>> import math
    >>> round(nats_to_bits(math.log(2)), 12)
    1.0
"""
from __future__ import annotations

import math
from typing import TypeVar

T = TypeVar("T")

LN2 = math.log(2.0)


def nats_to_bits(x: T) -> T:
    """Nats -> bits (divide by ln 2); works on floats, numpy arrays and tensors."""
    return x / LN2


def bits_to_nats(x: T) -> T:
    """Bits -> nats (multiply by ln 2)."""
    return x * LN2


def format_nll(nats_per_frame: float) -> str:
    """``"12.345 nats/frame (17.810 bits/frame)"`` for a negative log-likelihood per frame."""
    return f"{nats_per_frame:.3f} nats/frame ({nats_to_bits(nats_per_frame):.3f} bits/frame)"


__all__ = ["LN2", "nats_to_bits", "bits_to_nats", "format_nll"]
