"""Style and content labels parsed from file names.

Motion-capture sets often carry their labels only in the file name; Bandai Namco's are
``dataset-2_{content}_{style}_{id}.bvh``. A *pattern* names the parts: ``{field}`` matches
one underscore-separated token (hyphens allowed, e.g. ``walk-turn-left``), ``*`` matches any
run of characters other than ``_`` and ``/``, everything else is literal. The pattern is
matched against the whole file stem (the name without folder and extension).

Example::

    >>> parse_labels("dataset-2_walk-turn-left_active_007.bvh", "dataset-*_{content}_{style}_{id}")
    {'content': 'walk-turn-left', 'style': 'active', 'id': '007'}
    >>> label_ids(["normal", "active", "normal"])
    {'active': 0, 'normal': 1}
"""
from __future__ import annotations

import functools
import re
from pathlib import Path
from collections.abc import Iterable, Mapping

from .typed_config import ConfigError

_FIELD = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}|\*")


@functools.lru_cache(maxsize=64)
def pattern_to_regex(pattern: str) -> re.Pattern[str]:
    """Compile a name pattern (see module docstring) to an anchored regular expression."""
    parts: list[str] = []
    seen: set[str] = set()
    pos = 0
    for m in _FIELD.finditer(pattern):
        parts.append(re.escape(pattern[pos:m.start()]))
        name = m.group(1)
        if name is None:  # '*'
            parts.append(r"[^_/]*")
        else:
            if name in seen:
                raise ConfigError(f"name pattern {pattern!r} uses the field {{{name}}} twice")
            seen.add(name)
            parts.append(rf"(?P<{name}>[^_/]+)")
        pos = m.end()
    parts.append(re.escape(pattern[pos:]))
    return re.compile("".join(parts) + r"\Z")


def parse_labels(name: str | Path, pattern: str | None) -> dict[str, str] | None:
    """Labels of one file: ``{field: value}`` for every ``{field}`` in ``pattern``.

    ``name`` may be a path or a bare name; only its stem is matched. Returns None when the
    pattern is None or the name does not match it.
    """
    if not pattern:
        return None
    stem = Path(str(name)).name
    for suffix in (".bvh", ".BVH", ".npz"):
        if stem.endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    m = pattern_to_regex(pattern).match(stem)
    return m.groupdict() if m else None


def style_of(name: str | Path, pattern: str | None, aliases: Mapping[str, str] | None = None) -> str | None:
    """The ``{style}`` field of ``name`` (after ``aliases``), or None."""
    return _field(name, pattern, "style", aliases)


def content_of(name: str | Path, pattern: str | None, aliases: Mapping[str, str] | None = None) -> str | None:
    """The ``{content}`` field of ``name`` (walk, run, ...; after ``aliases``), or None."""
    return _field(name, pattern, "content", aliases)


def _field(name, pattern, field, aliases) -> str | None:
    labels = parse_labels(name, pattern)
    if labels is None or field not in labels:
        return None
    value = labels[field]
    return (aliases or {}).get(value, value)


def label_ids(names: Iterable[str | None]) -> dict[str, int]:
    """Integer id of every distinct label: ``0..K-1`` in sorted order; None is left out."""
    return {n: i for i, n in enumerate(sorted({n for n in names if n is not None}))}


def style_index(style: str | None, style_names: list[str]) -> int:
    """Id of ``style`` in the sorted list ``style_names``; -1 for None or an unknown style."""
    if style is None:
        return -1
    try:
        return style_names.index(style)
    except ValueError:
        return -1
