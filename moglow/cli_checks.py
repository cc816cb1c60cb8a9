"""Checks of command-line values, shared by every subcommand: one rule and one message each.

Commands call these before any work starts, so a bad value is a one-line error that states
the allowed range, never an allocation of 149 GiB or an hour of work thrown away:

    >>> check_range("--temperature", 1e6, 0.0, MAX_TEMPERATURE)
    Traceback (most recent call last):
    ...
    moglow.cli_checks.UsageError: --temperature must be between 0 and 5 (got 1e+06)

Documented limits (README, "Command-line reference"): :data:`MAX_SAMPLE_SECONDS`,
:data:`MAX_SAMPLE_FRAMES`, :data:`MAX_TEMPERATURE`, :data:`MAX_THREADS`.

Every command reports what the user got wrong the same way: it catches :data:`USER_ERRORS` (the
project's own errors, :class:`~data_pipeline.errors.MoglowError`, and the operating system's about a
file the user named) and prints one line with :func:`report_error`; anything else is a bug and
surfaces with its traceback.
"""
from __future__ import annotations

import math
import sys

from data_pipeline.errors import MoglowError

__all__ = ["UsageError", "USER_ERRORS", "report_error", "check_range", "check_threads", "check_device",
           "check_sample_size", "MAX_SAMPLE_SECONDS", "MAX_SAMPLE_FRAMES", "MAX_TEMPERATURE", "MAX_THREADS",
           "MAX_SAMPLES"]

#: longest motion one ``moglow sample`` call generates (one hour)
MAX_SAMPLE_SECONDS = 3600.0
#: most samples in one batch
MAX_SAMPLES = 1000
#: most frames of one call, over all samples (N x frames): keeps the outputs within a few GB
MAX_SAMPLE_FRAMES = 2_000_000
#: largest latent temperature: beyond a few standard deviations the model only produces garbage
MAX_TEMPERATURE = 5.0
#: most torch CPU threads
MAX_THREADS = 1024


class UsageError(MoglowError, ValueError):
    """A command-line value (or the matching API argument) outside what the command accepts; the
    message names the flag or value and what is allowed."""


#: the errors a command turns into one line: the project's own, and the OS's about a user's file
USER_ERRORS: tuple[type[BaseException], ...] = (MoglowError, OSError)


def report_error(command: str, error: BaseException | str, what: str = "error") -> int:
    """Print ``moglow COMMAND: error: MESSAGE`` on stderr, the one format of a command's error line.

    Returns 1, the exit status of a command that stopped on the user's error:

    >>> import contextlib, io
    >>> err = io.StringIO()
    >>> with contextlib.redirect_stderr(err):
    ...     status = report_error("sample", UsageError("--num must be at least 1"))
    >>> status, err.getvalue()
    (1, 'moglow sample: error: --num must be at least 1\\n')
    """
    print(f"moglow {command}: {what}: {error}", file=sys.stderr)
    return 1


def _fmt(x: float) -> str:
    return f"{x:g}"


def check_range(flag: str, value: float | int | None, low: float, high: float | None = None,
                integer: bool = False) -> None:
    """Raise :class:`UsageError` unless ``low <= value <= high`` (and finite; ``None`` passes).

    Args:
        flag: the option as the user typed it (``--seconds``).
        high: None for no upper bound.
        integer: the message says "an integer" (the parser already made it one).
    """
    if value is None:
        return
    ok = math.isfinite(value) and value >= low and (high is None or value <= high)
    if ok:
        return
    kind = "an integer" if integer else "a number"
    if high is None:
        raise UsageError(f"{flag} must be {kind} of at least {_fmt(low)} (got {_fmt(value)})")
    raise UsageError(f"{flag} must be between {_fmt(low)} and {_fmt(high)} (got {_fmt(value)})")


def check_threads(threads: int | None, flag: str = "--threads") -> None:
    """``--threads`` is None (torch's choice) or 1 to :data:`MAX_THREADS`."""
    check_range(flag, threads, 1, MAX_THREADS, integer=True)


def check_sample_size(num: int, frames: int | None) -> None:
    """``num`` samples of ``frames`` frames each: within :data:`MAX_SAMPLES` and :data:`MAX_SAMPLE_FRAMES`."""
    check_range("--num", num, 1, MAX_SAMPLES, integer=True)
    if frames is not None and num * frames > MAX_SAMPLE_FRAMES:
        raise UsageError(f"--num {num} x {frames} frames is {num * frames:,} frames; at most "
                         f"{MAX_SAMPLE_FRAMES:,} per call (fewer samples or fewer --seconds)")


def check_device(name: str | None, flag: str = "--device"):
    """The torch device named on the command line (``auto``/None: CUDA when present, else CPU).

    Raises:
        UsageError: a malformed name, or a CUDA device that this machine does not have.
    """
    import torch  # noqa: PLC0415

    if name in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError) as e:
        raise UsageError(f"{flag} {name!r} is not a torch device (cpu, cuda, cuda:1, auto)") from e
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise UsageError(f"{flag} {name}: there is no CUDA device on this machine (torch.cuda.is_available() "
                             f"is False); use --device cpu")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise UsageError(f"{flag} {name}: this machine has {torch.cuda.device_count()} CUDA device(s), "
                             f"numbered from 0")
    return device
