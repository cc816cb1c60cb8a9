"""Progress bars on a terminal, one line per stage in a log: the one helper every module uses.

``progress_bar(...)`` takes tqdm's arguments. When stderr is a terminal it is a tqdm bar; when
stderr is piped or redirected (a log file, CI) it draws nothing while the work runs and prints
one line when it ends (``preparing: 40 files in 3.1 s``), so logs stay small. ``enabled=False``
(``--no-progress``) prints nothing at all.

Example::

    >>> for _ in progress_bar(range(3), desc="demo", unit="step", enabled=False):
    ...     pass
"""
from __future__ import annotations

import sys
import time
from typing import Any
from collections.abc import Iterable


def stderr_is_terminal() -> bool:
    """True when stderr is an interactive terminal (progress bars are drawn only then)."""
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


class StageLine:
    """tqdm's interface, drawing nothing; ``close()`` prints one summary line to stderr (if ``say``)."""

    def __init__(self, iterable: Iterable | None = None, total: int | float | None = None, desc: str = "",
                 unit: str = "it", initial: int | float = 0, say: bool = True, **_: Any) -> None:
        self.iterable = iterable
        if total is None and iterable is not None and hasattr(iterable, "__len__"):
            total = len(iterable)  # type: ignore[arg-type]
        self.total, self.desc, self.unit, self.n, self.initial = total, desc, unit, initial, initial
        self.say, self.postfix, self._t0, self._closed = say, "", time.perf_counter(), False

    def __iter__(self):
        try:
            for item in self.iterable or ():
                yield item
                self.n += 1
        finally:
            self.close()

    def __len__(self) -> int:
        return int(self.total or 0)

    def __enter__(self) -> StageLine:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def update(self, n: int | float = 1) -> None:
        self.n += n

    def set_postfix(self, ordered_dict: dict | None = None, refresh: bool = True, **kwargs: Any) -> None:
        items = {**(ordered_dict or {}), **kwargs}
        self.postfix = ", ".join(f"{k}={v}" for k, v in items.items())

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:
        self.postfix = s

    def set_description(self, desc: str | None = None, refresh: bool = True) -> None:
        self.desc = desc or ""

    def refresh(self) -> None:
        pass

    def reset(self, total: int | float | None = None) -> None:
        self.n, self.total = 0, total

    @staticmethod
    def write(s: str, file: Any = None, end: str = "\n") -> None:
        print(s, file=file or sys.stderr, end=end, flush=True)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self.say and (self.n - self.initial) > 0:
            done = self.n - self.initial
            count = f"{done:g}" if isinstance(done, float) else f"{done:,}"
            of = f" (to {self.n:,} of {self.total:,})" if self.initial and self.total else ""
            extra = f"; {self.postfix}" if self.postfix else ""
            plural = "s" if done != 1 and not self.unit.endswith("s") else ""
            print(f"{self.desc or 'done'}: {count} {self.unit}{plural}"
                  f"{of} in {time.perf_counter() - self._t0:.1f} s{extra}", file=sys.stderr, flush=True)


def progress_bar(iterable: Iterable | None = None, enabled: bool = True, **kwargs: Any) -> Any:
    """A tqdm bar on a terminal; otherwise a :class:`StageLine` (one line at the end; none if not ``enabled``).

    ``kwargs`` are tqdm's (``total``, ``desc``, ``unit``, ``initial``, ``leave``, ...); ``disable``
    is honoured like ``enabled=False``.
    """
    if kwargs.pop("disable", False):
        enabled = False
    if enabled and stderr_is_terminal():
        from tqdm.auto import tqdm

        return tqdm(iterable, **kwargs)
    return StageLine(iterable, say=enabled, **kwargs)


__all__ = ["progress_bar", "stderr_is_terminal", "StageLine"]
