"""Writing BVH files: a :class:`Motion` -> BVH text in the standard layout (tabs, one frame per line).

Example:
    >>> write_bvh(read_bvh("walk.bvh"), "copy.bvh")             # doctest: +SKIP
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .output_files import write_text_atomic
from .skeleton import Motion

__all__ = ["format_bvh", "write_bvh"]


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
