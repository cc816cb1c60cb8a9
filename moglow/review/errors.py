"""The review package's error type (its own module, so every part raises it without importing the others)."""
from __future__ import annotations

from data_pipeline.errors import MoglowError

__all__ = ["ReviewError"]


class ReviewError(MoglowError, RuntimeError):
    """The run folder holds nothing to review, a file in it cannot be read, or a page cannot be checked."""
