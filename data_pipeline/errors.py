"""The root of the errors the project raises on purpose: :class:`MoglowError`.

Every error type of the project (``BVHError``, ``ConfigError``, ``CheckpointError``, ``PathError``,
``UsageError``, ...) subclasses :class:`MoglowError` and keeps its builtin base (``ValueError``,
``RuntimeError``, ``FileExistsError``), so ``except ValueError`` callers keep working. The ``moglow``
commands catch :class:`MoglowError` (a one-line message: the user gave a bad file, path, option or
config) and let everything else surface with its traceback (a bug):

    >>> from data_pipeline.bvh import BVHError
    >>> issubclass(BVHError, MoglowError) and issubclass(BVHError, ValueError)
    True

This module sits at the bottom of the house (``data_pipeline``) so every layer can name it.
"""
from __future__ import annotations

__all__ = ["MoglowError", "InputError", "MissingKeyError", "SetupError"]


class MoglowError(Exception):
    """An error the project raises on purpose about what the user gave it (a file, a path spec, an
    option, a config or checkpoint key); its message is the whole story, no traceback needed."""


class InputError(MoglowError, ValueError):
    """A value the user supplied (through a command's option, a config or a data file) that the
    library cannot use, where no more specific project error applies; the message names the value."""


class MissingKeyError(MoglowError, KeyError):
    """A name the user gave (a joint, a split, a column, a key of their file) that is not there.

    A ``KeyError`` for old callers, but its message prints as written (a ``KeyError`` quotes it):

    >>> str(MissingKeyError("no joint named 'Hips'"))
    "no joint named 'Hips'"
    """

    def __str__(self) -> str:
        return str(self.args[0]) if len(self.args) == 1 else super().__str__()


class SetupError(MoglowError, RuntimeError):
    """This machine lacks something the user must install or configure (an optional extra, ffmpeg,
    an OpenGL platform, a browser), or such an external tool failed; the message says what to do."""
