"""Selecting data files by one or several glob patterns, saying how many each matched.

Example::

    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> for n in ("a_walk_1.bvh", "a_walkturn_1.bvh", "a_run_1.bvh"): _ = (root / n).write_text("")
    >>> [p.name for p in match_files(root, ["*_walk_*", "*_walkturn_*"], log=None)]
    ['a_walk_1.bvh', 'a_walkturn_1.bvh']
"""
from __future__ import annotations

import sys
from pathlib import Path
from collections.abc import Callable, Sequence


def as_patterns(pattern: str | Sequence[str]) -> list[str]:
    """One pattern or several as a list (a string is one pattern)."""
    return [pattern] if isinstance(pattern, str) else list(pattern)


def match_files(root: str | Path, pattern: str | Sequence[str],
                log: Callable[[str], None] | None = print) -> list[Path]:
    """Sorted files under ``root`` matching any of the glob patterns (``**`` recurses).

    With ``log``, one line says how many files each pattern matched, so a pattern that silently
    drops files (``*_walk_*`` misses ``*_walkturn_*``) shows up; with several patterns, one that
    matches nothing is a warning on stderr.
    """
    root = Path(root)
    patterns = as_patterns(pattern)
    found: set[Path] = set()
    counts = []
    for p in patterns:
        hits = {f for f in root.glob(p) if f.is_file()}
        counts.append(f"{p!r}: {len(hits)}")
        found |= hits
        if not hits and len(patterns) > 1:
            print(f"warning: pattern {p!r} matches no file in {root}", file=sys.stderr)
    if log is not None:
        each = f" ({', '.join(counts)})" if len(patterns) > 1 else f" match {patterns[0]!r}"
        log(f"{root}: {len(found)} files{each}")
    return sorted(found)


__all__ = ["as_patterns", "match_files"]
