"""The HIERARCHY section of a BVH file: tokens -> joints, End Sites, OFFSETs, CHANNELS -> a :class:`Skeleton`.

One to six channels per joint in any order and case, End Sites (named ``<parent>_End``), names
with spaces, any nesting depth (the parser keeps an explicit stack, no recursion). Every problem
raises :class:`~data_pipeline.bvh_syntax.BVHError` naming the 1-based line.
"""
from __future__ import annotations

import numpy as np

from .bvh_syntax import BVHError, describe_bad_number, number
from .skeleton import VALID_CHANNELS, Skeleton

__all__ = ["parse_hierarchy"]

_CHANNEL_BY_LOWER = {c.lower(): c for c in VALID_CHANNELS}


def parse_hierarchy(text: str, source: str) -> tuple[Skeleton, int]:
    """The skeleton of the hierarchy ``text`` (everything before MOTION), and the text's last line number.

    Raises:
        BVHError: naming ``source``, the line and the problem.
    """
    tokens = _Tokens(text, source)
    nodes = _parse_nodes(tokens)
    return _build_skeleton(nodes, tokens), tokens.end_line


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


def _parse_nodes(tokens: _Tokens) -> list[_Node]:
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
                value = number(vtok)
                if value is None:
                    raise tokens.error(vline, f"OFFSET of {name!r}: {describe_bad_number(vtok)}")
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
